"""Task-worker entry points of the SMS channel: they receive ids and call the services."""

from __future__ import annotations

from django_tasks import task

from guichet.channels.sms.services import outbound_send


@task()
def send_outbound_sms(outbound_id: int) -> str:
    """Send one outbox row; retries are the outbox's own (a failed attempt re-queues the row)."""
    return outbound_send(outbound_id=outbound_id)
