"""Queue the reminder (email and SMS) of every appointment starting within the reminder window.

Run it every few minutes (cron or a scheduled task); each appointment is reminded at most once.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from guichet.channels.appointments.services import appointments_remind


class Command(BaseCommand):
    help = (
        "Send the one reminder of each appointment starting within APPOINTMENT_REMINDER_HOURS "
        "(at most once per appointment)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        sent = appointments_remind()
        self.stdout.write(f"{sent} reminder(s) queued")
