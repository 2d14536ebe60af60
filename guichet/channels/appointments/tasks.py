"""Task-worker entry point: the reminder sweep, for deployments that schedule tasks, not cron."""

from __future__ import annotations

from django_tasks import task

from guichet.channels.appointments.services import appointments_remind


@task()
def send_appointment_reminders() -> int:
    """Queue due reminders (each appointment at most once); returns how many."""
    return appointments_remind()
