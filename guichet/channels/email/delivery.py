"""What the agent interface asks of the e-mail outbox: where a reply would go, what became of
each reply (the timeline's delivery line), and "Retry now"."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.channels.email.models import OutboundEmail
from guichet.channels.email.outbound import (
    _customer_address,
    _enqueue_on_commit,
    _event_data,
    failure_reason,
)
from guichet.channels.outbox_retry import outbox_row_retry
from guichet.conversations.models import Conversation
from guichet.conversations.senders import Delivery

State = OutboundEmail.State
Kind = OutboundEmail.Kind


def outbound_retry_now(*, outbound_id: int, actor: User) -> OutboundEmail:
    """Try a waiting or failed row again now (an agent's "Retry now"); see `outbox_row_retry`."""
    return outbox_row_retry(
        OutboundEmail,
        outbound_id=outbound_id,
        actor=actor,
        busy=_("This e-mail is being sent or was sent already."),
        verb="email.retry_requested",
        event_data=_event_data,
        enqueue=_enqueue_on_commit,
        requeues_message=lambda row: row.kind == Kind.REPLY,
    )


def deliveries_read(message_ids: Iterable[int]) -> dict[int, Delivery]:
    """The outbox rows of these replies (the registered `DeliveryReader`), in one query."""
    rows = OutboundEmail.objects.filter(message_id__in=list(message_ids), kind=Kind.REPLY)
    return {
        row.message_id: Delivery(
            channel="email",
            outbox_id=row.pk,
            state=row.state,
            recipient=row.to_address,
            attempts=row.attempts,
            max_attempts=settings.EMAIL_SEND_MAX_ATTEMPTS,
            next_attempt_at=row.next_attempt_at if row.state == State.QUEUED else None,
            reason=failure_reason(row.last_error) if row.last_error else "",
        )
        for row in rows
        if row.message_id is not None
    }


def reply_recipient(conversation: Conversation) -> str:
    """Where an e-mail reply on this conversation would go (the registered `recipient`)."""
    return _customer_address(conversation)
