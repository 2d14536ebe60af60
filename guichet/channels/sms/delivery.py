"""What the agent interface asks of the SMS outbox: where a reply would go, what became of each
reply (the timeline's delivery line), and "Retry now"."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.channels.outbox_retry import outbox_row_retry
from guichet.channels.sms.models import OutboundSms
from guichet.channels.sms.services import (
    NO_NUMBER,
    OPTED_OUT,
    TOO_LONG,
    _enqueue_on_commit,
    _event_data,
    customer_number,
)
from guichet.conversations.models import Conversation
from guichet.conversations.senders import Delivery

State = OutboundSms.State
Kind = OutboundSms.Kind


def failure_reason(error: str) -> str:
    """A refusal code or the provider's error, in words for an agent."""
    if error == OPTED_OUT:
        return _("the customer asked to receive no more SMS (STOP)")
    if error == NO_NUMBER:
        return _("no mobile number for this customer")
    if error == TOO_LONG:
        return _("the text is too long for an SMS")
    return _("the SMS provider refused: %(detail)s") % {"detail": error} if error else ""


def reply_recipient(conversation: Conversation) -> str:
    """Where an SMS reply on this conversation would go (the registered `recipient`): the number
    the SMS sender uses, unless it is known to be a landline, which cannot receive one."""
    number = customer_number(conversation.customer_id) if conversation.customer_id else ""
    try:
        landline = (
            phonenumbers.number_type(phonenumbers.parse(number))
            == phonenumbers.PhoneNumberType.FIXED_LINE
        )
    except phonenumbers.NumberParseException:
        landline = False
    return "" if landline else number


def deliveries_read(message_ids: Iterable[int]) -> dict[int, Delivery]:
    """The outbox rows of these replies (the registered `DeliveryReader`), in one query."""
    rows = OutboundSms.objects.filter(message_id__in=list(message_ids), kind=Kind.REPLY)
    return {
        row.message_id: Delivery(
            channel="sms",
            outbox_id=row.pk,
            state=row.state,
            recipient=row.to_number,
            attempts=row.attempts,
            max_attempts=settings.SMS_SEND_MAX_ATTEMPTS,
            next_attempt_at=row.next_attempt_at if row.state == State.QUEUED else None,
            reason=failure_reason(row.last_error),
        )
        for row in rows
        if row.message_id is not None
    }


def outbound_retry_now(*, outbound_id: int, actor: User) -> OutboundSms:
    """Try a waiting or failed row again now (an agent's "Retry now"); see `outbox_row_retry`."""
    return outbox_row_retry(
        OutboundSms,
        outbound_id=outbound_id,
        actor=actor,
        busy=_("This SMS is being sent or was sent already."),
        verb="sms.retry_requested",
        event_data=_event_data,
        enqueue=_enqueue_on_commit,
    )
