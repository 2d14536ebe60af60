"""What the agent interface asks of the e-mail outbox: where a reply would go, what became of
each reply (the timeline's delivery line), and "Retry now"."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.channels.email.models import OutboundEmail
from guichet.channels.email.outbound import (
    _customer_address,
    _enqueue_on_commit,
    _event_data,
    failure_reason,
)
from guichet.conversations.models import Conversation, Message
from guichet.conversations.senders import Delivery
from guichet.conversations.services import event_record, message_delivery_status_set
from guichet.core.exceptions import Conflict

State = OutboundEmail.State
Kind = OutboundEmail.Kind


def outbound_retry_now(*, outbound_id: int, actor: User) -> OutboundEmail:
    """Try a waiting or failed row again now (an agent's "Retry now"). A failed row gets a fresh
    round of attempts; its message is queued again. Conflict when it is being sent or was sent."""
    with transaction.atomic():
        outbound = (
            OutboundEmail.objects.select_for_update(of=("self",))
            .select_related("conversation")
            .get(pk=outbound_id)
        )
        if outbound.state not in (State.QUEUED, State.FAILED):
            raise Conflict(_("This e-mail is being sent or was sent already."))
        changes: dict = {"state": State.QUEUED, "next_attempt_at": timezone.now()}
        if outbound.state == State.FAILED:
            changes["attempts"] = 0
        OutboundEmail.objects.filter(pk=outbound.pk).update(**changes)
        if outbound.kind == Kind.REPLY and outbound.message_id is not None:
            message_delivery_status_set(
                message_id=outbound.message_id, status=Message.DeliveryStatus.QUEUED
            )
        event_record(
            verb="email.retry_requested",
            conversation=outbound.conversation,
            actor=actor,
            data=_event_data(outbound),
        )
        _enqueue_on_commit(outbound.pk)
    outbound.refresh_from_db()
    return outbound


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
