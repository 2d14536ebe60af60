"""Task-worker entry points of the email channel: they receive ids and call the services."""

from __future__ import annotations

from django_tasks import task

from guichet.channels.email.outbound import outbound_send


@task()
def send_outbound_email(outbound_id: int) -> str:
    """Send one outbox row. Retries are the outbox's own: a failed attempt re-queues the row
    with its next attempt time (and enqueues this task again for then when the backend can
    defer), so the task itself never raises for a delivery problem."""
    return outbound_send(outbound_id=outbound_id)
