"""The outboxes of every channel, as one list for supervisors, and "Retry now".

E-mail and SMS each keep their own outbox (`OutboundEmail`, `OutboundSms`); this module reads
the rows still waiting or failed from both, newest first, and sends a "Retry now" to the right
one. The web layer imports this module, not each channel's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.accounts.permissions import conversation_visibility_q, is_supervisor
from guichet.channels.email import delivery as email_delivery
from guichet.channels.email.models import OutboundEmail
from guichet.channels.sms import delivery as sms_delivery
from guichet.channels.sms.models import OutboundSms
from guichet.conversations.models import Conversation
from guichet.core.exceptions import InvalidInput, NotAllowed

PENDING_STATES = ("queued", "sending", "failed")


class OutboxRowMissing(Exception):
    """No such outbox row, or not one the user may see (a 404)."""


@dataclass(frozen=True)
class OutboxRow:
    channel: str  # "email" or "sms"
    outbox_id: int
    conversation_number: int
    kind: str
    recipient: str
    state: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    reason: str
    created_at: datetime


def _email_rows(user: User) -> QuerySet[OutboundEmail]:
    return OutboundEmail.objects.filter(
        conversation_visibility_q(user, prefix="conversation__"), state__in=PENDING_STATES
    )


def _sms_rows(user: User) -> QuerySet[OutboundSms]:
    return OutboundSms.objects.filter(
        conversation_visibility_q(user, prefix="conversation__"), state__in=PENDING_STATES
    )


def outbox_page(*, user: User, page: int, page_size: int) -> tuple[list[OutboxRow], int]:
    """One page of the e-mails and SMS still queued, sending or failed (newest first) that the
    user may see, and how many there are. Four queries whatever the page."""
    if not is_supervisor(user):
        raise NotAllowed(_("Only supervisors see the outbox."))
    end = page * page_size
    emails = list(
        _email_rows(user).select_related("conversation").order_by("-created_at", "-pk")[:end]
    )
    texts = list(
        _sms_rows(user).select_related("conversation").order_by("-created_at", "-pk")[:end]
    )
    rows = [_email_row(row) for row in emails] + [_sms_row(row) for row in texts]
    rows.sort(key=lambda row: (row.created_at, row.outbox_id), reverse=True)
    total = _email_rows(user).count() + _sms_rows(user).count()
    return rows[end - page_size : end], total


def _email_row(row: OutboundEmail) -> OutboxRow:
    return OutboxRow(
        channel="email",
        outbox_id=row.pk,
        conversation_number=row.conversation.number,
        kind=row.get_kind_display(),
        recipient=row.to_address,
        state=row.state,
        attempts=row.attempts,
        max_attempts=settings.EMAIL_SEND_MAX_ATTEMPTS,
        next_attempt_at=row.next_attempt_at if row.state == "queued" else None,
        reason=email_delivery.failure_reason(row.last_error) if row.last_error else "",
        created_at=row.created_at,
    )


def _sms_row(row: OutboundSms) -> OutboxRow:
    return OutboxRow(
        channel="sms",
        outbox_id=row.pk,
        conversation_number=row.conversation.number,
        kind=row.get_kind_display(),
        recipient=row.to_number,
        state=row.state,
        attempts=row.attempts,
        max_attempts=settings.SMS_SEND_MAX_ATTEMPTS,
        next_attempt_at=row.next_attempt_at if row.state == "queued" else None,
        reason=sms_delivery.failure_reason(row.last_error),
        created_at=row.created_at,
    )


def outbox_retry_now(*, actor: User, channel: str, outbox_id: int) -> int:
    """ "Retry now" on one outbox row the actor may see; returns its conversation's number.
    `OutboxRowMissing` for a row out of sight. Supervisors only (the outbox page)."""
    if not is_supervisor(actor):
        raise NotAllowed(_("Only supervisors see the outbox."))
    rows = {"email": _email_rows(actor), "sms": _sms_rows(actor)}.get(channel)
    number = None
    if rows is not None:
        number = rows.filter(pk=outbox_id).values_list("conversation__number", flat=True).first()
    if number is None:
        raise OutboxRowMissing(outbox_id)
    if channel == "email":
        email_delivery.outbound_retry_now(outbound_id=outbox_id, actor=actor)
    else:
        sms_delivery.outbound_retry_now(outbound_id=outbox_id, actor=actor)
    return number


def message_retry_now(*, actor: User, conversation: Conversation, message_id: int) -> None:
    """ "Retry now" on a reply of a conversation the caller checked the actor may see."""
    email = OutboundEmail.objects.filter(
        conversation=conversation, message_id=message_id, kind=OutboundEmail.Kind.REPLY
    ).first()
    if email is not None:
        email_delivery.outbound_retry_now(outbound_id=email.pk, actor=actor)
        return
    sms = OutboundSms.objects.filter(
        conversation=conversation, message_id=message_id, kind=OutboundSms.Kind.REPLY
    ).first()
    if sms is not None:
        sms_delivery.outbound_retry_now(outbound_id=sms.pk, actor=actor)
        return
    raise InvalidInput(_("This reply has nothing to send again."))
