"""Writers of the SMS channel: receive a text, opt-out and opt-in, the outbox, receipts.

Inbound texts end in `message_ingest(channel="sms", sender_kind="phone", thread_on_open=True)`:
a customer's texts join their latest active SMS conversation. STOP (ARRET, ARRÊT…) records the
number in `SmsOptOut` and nothing more is sent to it until START. Outbound texts (agents' replies,
the acknowledgement, notices such as a callback confirmation) go through the outbox
`OutboundSms`: the task `send_outbound_sms` (or `manage.py sms_outbox_drain`) claims a row with a
conditional UPDATE, hands it to the adapter, and retries temporary failures with growing waits.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guichet.channels.acknowledgements import acknowledgement_record, acknowledgement_refusal
from guichet.channels.promise import customer_language, promise_context
from guichet.channels.sms.adapters import (
    DeliveryReceipt,
    InboundSms,
    SendError,
    adapter_get,
)
from guichet.channels.sms.models import OutboundSms, SmsOptOut
from guichet.channels.sms.segments import split
from guichet.conversations.models import Conversation, Message
from guichet.conversations.services import (
    event_record,
    message_delivery_status_set,
    message_ingest,
)
from guichet.conversations.types import InboundMessage, IngestResult
from guichet.core.exceptions import InvalidInput
from guichet.customers.identities import normalise_phone
from guichet.customers.models import Customer, Identity
from guichet.customers.services import customer_find_by_identity

logger = logging.getLogger(__name__)

State = OutboundSms.State
Kind = OutboundSms.Kind

STOP_WORDS = frozenset({"STOP", "ARRET", "STOP SMS", "STOPSMS", "UNSUBSCRIBE", "DESINSCRIPTION"})
START_WORDS = frozenset({"START", "UNSTOP", "ARRET FIN", "SUBSCRIBE"})
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
STALE_AFTER = timedelta(minutes=10)
MAX_ERROR = 1000

# Why a text is not sent; recorded on the timeline event.
OPTED_OUT = "opted_out"
NO_NUMBER = "no_number"
TOO_LONG = "too_long"
ALREADY_ACKNOWLEDGED = "already_acknowledged"


def keyword(text: str) -> str:
    """The text as a keyword: upper case, accents and punctuation dropped ("Arrêt !" → ARRET)."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(char for char in folded if not unicodedata.combining(char))
    folded = re.sub(r"[^\w\s-]", " ", folded.upper())
    return " ".join(folded.replace("-", " ").split())


def is_opted_out(number: str) -> bool:
    return SmsOptOut.objects.filter(number=number).exists()


# --- inbound -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    outcome: str  # "ingested", "duplicate", "opted_out", "opted_in"
    result: IngestResult | None = None


def sms_receive(inbound: InboundSms) -> Received:
    """Handle one inbound text (already verified by its adapter). `InvalidInput` for a sender
    that is not a valid phone number; nothing is stored then."""
    number = normalise_phone(inbound.sender)
    word = keyword(inbound.text)
    if word in STOP_WORDS:
        sms_opt_out(number=number, word=word)
        return Received("opted_out")
    if word in START_WORDS:
        sms_opt_in(number=number, word=word)
        return Received("opted_in")
    if not inbound.text.strip():
        raise InvalidInput(_("An empty text message cannot be stored."))
    with transaction.atomic():
        result = message_ingest(
            InboundMessage(
                channel="sms",
                sender_kind="phone",
                sender_value=number,
                text=inbound.text,
                external_id=inbound.provider_id,
                thread_on_open=True,
                source_ref=f"sms:{inbound.recipient}"[:255] if inbound.recipient else "",
            )
        )
        if not result.created:
            return Received("duplicate", result)
        if result.conversation_created:
            sms_acknowledge(conversation=result.conversation, number=number)
    return Received("ingested", result)


@transaction.atomic
def sms_opt_out(*, number: str, word: str = "STOP") -> bool:
    """Stop every text to `number`; True when it was not opted out already."""
    _row, created = SmsOptOut.objects.get_or_create(number=number, defaults={"keyword": word[:20]})
    if created:
        event_record(
            verb="sms.opted_out",
            customer=customer_find_by_identity(kind="phone", value=number),
            actor_name=_("SMS"),
            data={"number": number, "keyword": word[:20]},
        )
    return created


@transaction.atomic
def sms_opt_in(*, number: str, word: str = "START") -> bool:
    deleted, _rows = SmsOptOut.objects.filter(number=number).delete()
    if deleted:
        event_record(
            verb="sms.opted_in",
            customer=customer_find_by_identity(kind="phone", value=number),
            actor_name=_("SMS"),
            data={"number": number, "keyword": word[:20]},
        )
    return bool(deleted)


# --- outbound ------------------------------------------------------------------------------------


def sms_sender(message: Message) -> None:
    """The sender registered for channel "sms": called inside the reply's transaction, it writes
    the outbox row there and enqueues the send task after commit; never raises."""
    try:
        outbound = outbound_queue_reply(message=message)
    except Exception:
        logger.exception("Could not queue the SMS for message %s", message.pk)
        with transaction.atomic():
            _message_blocked(message.pk, message.conversation_id, reason="queue_error")
        return
    if outbound is not None and outbound.state == State.QUEUED:
        _enqueue_on_commit(outbound.pk)


def customer_number(customer: Customer | int) -> str:
    """The customer's first phone number (E.164), or ""."""
    customer_id = customer if isinstance(customer, int) else customer.pk
    return (
        Identity.objects.filter(customer_id=customer_id, kind=Identity.Kind.PHONE)
        .order_by("created_at", "pk")
        .values_list("value", flat=True)
        .first()
    ) or ""


def outbound_queue_reply(*, message: Message) -> OutboundSms | None:
    """Put an agent's reply in the outbox (once per message); None when it may not be sent,
    with the reason on the timeline and the message marked failed."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation")
            .get(pk=message.pk)
        )
        existing = OutboundSms.objects.filter(message=message, kind=Kind.REPLY).first()
        if existing is not None:
            return existing
        conversation = message.conversation
        number = customer_number(conversation.customer_id)
        refusal = _refusal(number, message.text)
        if refusal:
            _message_blocked(message.pk, conversation.pk, reason=refusal, number=number)
            return None
        outbound = _outbound_create(
            kind=Kind.REPLY, conversation=conversation, message=message, number=number,
            text=message.text,
        )  # fmt: skip
    return outbound


def sms_notify(*, conversation: Conversation, number: str, text: str) -> OutboundSms | None:
    """Queue an automatic notice (a callback confirmation…) to `number`; None when refused,
    with the reason on the timeline. Call inside the transaction of the change it reports."""
    refusal = _refusal(number, text)
    if refusal:
        event_record(
            verb="sms.blocked",
            conversation=conversation,
            actor_name=_("SMS"),
            data={"reason": refusal, "number": number, "kind": Kind.NOTICE},
        )
        return None
    outbound = _outbound_create(
        kind=Kind.NOTICE, conversation=conversation, message=None, number=number, text=text
    )
    _enqueue_on_commit(outbound.pk)
    return outbound


def sms_acknowledge(*, conversation: Conversation, number: str) -> OutboundSms | None:
    """Queue the acknowledgement with the time-to-human promise, at most once per conversation
    (the shared rule of `guichet.channels.acknowledgements`, across channels) and once per number
    within `ACKNOWLEDGEMENT_WINDOW_HOURS` (no robot loops)."""
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("team__calendar", "customer")
        .get(pk=conversation.pk)
    )
    since = timezone.now() - timedelta(hours=settings.ACKNOWLEDGEMENT_WINDOW_HOURS)
    # The shared rule: one acknowledgement per conversation in the window, whatever the channel.
    refusal = acknowledgement_refusal(conversation=conversation, channel="sms")
    # Ours on top: one per number in the window, across conversations (no SMS loops).
    if (
        not refusal
        and OutboundSms.objects.filter(
            kind=Kind.ACKNOWLEDGEMENT, to_number=number, created_at__gte=since
        ).exists()
    ):
        refusal = ALREADY_ACKNOWLEDGED
    text = acknowledgement_text(conversation)
    refusal = refusal or _refusal(number, text)
    if refusal:
        event_record(
            verb="sms.acknowledgement_skipped",
            conversation=conversation,
            actor_name=_("SMS"),
            data={"reason": refusal, "number": number},
        )
        return None
    outbound = _outbound_create(
        kind=Kind.ACKNOWLEDGEMENT, conversation=conversation, message=None, number=number,
        text=text,
    )  # fmt: skip
    acknowledgement_record(
        conversation=conversation, channel="sms", data={"outbound_sms_id": outbound.pk}
    )
    _enqueue_on_commit(outbound.pk)
    return outbound


def acknowledgement_text(conversation: Conversation) -> str:
    """Short, in the customer's language: the number, when a person answers, how to reach one."""
    language = customer_language(conversation)
    with translation.override(language):
        context = promise_context(conversation, language)
        parts = [
            _("We received your message (request %(number)s).") % {"number": conversation.number}
        ]
        if context["due"]:
            parts.append(_("A person will answer by %(due)s.") % {"due": context["due"]})
        else:
            parts.append(_("A person will answer as soon as possible."))
        if context["phone"]:
            parts.append(_("To talk to someone sooner: %(phone)s.") % {"phone": context["phone"]})
        parts.append(_("STOP to opt out."))
    return " ".join(parts)


def _refusal(number: str, text: str) -> str:
    if not number:
        return NO_NUMBER
    if is_opted_out(number):
        return OPTED_OUT
    if split(text).count > settings.SMS_MAX_PARTS:
        return TOO_LONG
    return ""


def _outbound_create(
    *, kind: str, conversation: Conversation, message: Message | None, number: str, text: str
) -> OutboundSms:
    parts = split(text)
    return OutboundSms.objects.create(
        kind=kind,
        conversation=conversation,
        message=message,
        to_number=number,
        text=text,
        encoding=parts.encoding,
        parts=parts.count,
    )


def _message_blocked(
    message_id: int, conversation_id: int, *, reason: str, number: str = ""
) -> None:
    message_delivery_status_set(message_id=message_id, status=Message.DeliveryStatus.FAILED)
    event_record(
        verb="sms.blocked",
        conversation=Conversation.objects.get(pk=conversation_id),
        actor_name=_("SMS"),
        data={"message_id": message_id, "reason": reason, "number": number},
    )


def _enqueue_on_commit(outbound_id: int, run_after: datetime | None = None) -> None:
    from guichet.channels.sms.tasks import send_outbound_sms  # the task imports this module

    def enqueue() -> None:
        task = send_outbound_sms
        if run_after is not None:
            if not task.get_backend().supports_defer:
                return  # `sms_outbox_drain` picks the row up when it is due
            task = task.using(run_after=run_after)
        try:
            task.enqueue(outbound_id)
        except Exception:
            logger.exception("Could not enqueue outbound SMS %s", outbound_id)

    transaction.on_commit(enqueue)


# --- sending -------------------------------------------------------------------------------------


def outbound_send(*, outbound_id: int, now: datetime | None = None) -> str:
    """Send one outbox row if it is queued and due; returns its state afterwards ("skipped"
    when another worker has it or it is not due)."""
    due_by = now or timezone.now()
    claimed = (
        OutboundSms.objects.filter(pk=outbound_id, state=State.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due_by))
        .update(state=State.SENDING, attempts=F("attempts") + 1, next_attempt_at=Now())
    )
    if not claimed:
        return "skipped"
    outbound = OutboundSms.objects.select_related("conversation").get(pk=outbound_id)
    if is_opted_out(outbound.to_number):  # STOP may arrive between queueing and sending
        _close(outbound, state=State.FAILED, error=OPTED_OUT, verb="sms.blocked")
        return State.FAILED
    try:
        provider_id = adapter_get().send(
            to=outbound.to_number, text=outbound.text, reference=f"guichet-sms-{outbound.pk}"
        )
    except SendError as exc:
        return _attempt_failed(outbound, str(exc), permanent=exc.permanent)
    except Exception as exc:  # an adapter bug must not leave the row "sending" forever
        logger.exception("SMS adapter failed on outbound SMS %s", outbound.pk)
        return _attempt_failed(outbound, f"{type(exc).__name__}: {exc}", permanent=False)
    _close(outbound, state=State.SENT, provider_id=provider_id, verb="sms.sent")
    return State.SENT


def _close(
    outbound: OutboundSms, *, state: str, verb: str, provider_id: str = "", error: str = ""
) -> None:
    changes: dict = {"state": state, "next_attempt_at": None, "last_error": error[:MAX_ERROR]}
    if state == State.SENT:
        changes.update(provider_id=provider_id, sent_at=timezone.now())
    with transaction.atomic():
        done = OutboundSms.objects.filter(
            pk=outbound.pk, state__in=[State.SENDING, State.QUEUED]
        ).update(**changes)
        if not done:
            return
        if outbound.message_id is not None:
            message_delivery_status_set(
                message_id=outbound.message_id,
                status=Message.DeliveryStatus.SENT
                if state == State.SENT
                else Message.DeliveryStatus.FAILED,
            )
            if state == State.SENT and provider_id:
                Message.objects.filter(pk=outbound.message_id, external_id="").update(
                    external_id=f"out:{provider_id}"[:255]
                )
        data = _event_data(outbound)
        if error:
            data["reason" if error == OPTED_OUT else "error"] = error[:500]
        event_record(verb=verb, conversation=outbound.conversation, actor_name=_("SMS"), data=data)


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def _attempt_failed(outbound: OutboundSms, error: str, *, permanent: bool) -> str:
    if permanent or outbound.attempts >= settings.SMS_SEND_MAX_ATTEMPTS:
        logger.warning("Outbound SMS %s failed: %s", outbound.pk, error)
        _close(outbound, state=State.FAILED, error=error, verb="sms.failed")
        return State.FAILED
    next_at = timezone.now() + backoff(outbound.attempts)
    with transaction.atomic():
        requeued = OutboundSms.objects.filter(pk=outbound.pk, state=State.SENDING).update(
            state=State.QUEUED, next_attempt_at=next_at, last_error=error[:MAX_ERROR]
        )
        # As for e-mail: the agent learns at the first failure, while the outbox keeps trying.
        if requeued and outbound.message_id is not None:
            changed = Message.objects.filter(
                pk=outbound.message_id, delivery_status=Message.DeliveryStatus.QUEUED
            ).update(delivery_status=Message.DeliveryStatus.FAILED)
            if changed:
                event_record(
                    verb="sms.attempt_failed",
                    conversation=outbound.conversation,
                    actor_name=_("SMS"),
                    data={**_event_data(outbound), "error": error[:500]},
                )
        _enqueue_on_commit(outbound.pk, run_after=next_at)
    return State.QUEUED


def _event_data(outbound: OutboundSms) -> dict:
    return {
        "outbound_sms_id": outbound.pk,
        "kind": outbound.kind,
        "message_id": outbound.message_id,
        "to": outbound.to_number,
        "parts": outbound.parts,
        "attempts": outbound.attempts,
    }


def outbox_drain(*, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Put back rows left "sending" by a dead worker, then send every due row."""
    cutoff = timezone.now() - STALE_AFTER
    counts = {
        "requeued": OutboundSms.objects.filter(
            state=State.SENDING, next_attempt_at__lt=cutoff
        ).update(state=State.QUEUED, next_attempt_at=timezone.now())
    }
    due_by = now or timezone.now()
    due = list(
        OutboundSms.objects.filter(state=State.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due_by))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for outbound_id in due:
        outcome = outbound_send(outbound_id=outbound_id, now=due_by)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# --- delivery receipts ---------------------------------------------------------------------------


@transaction.atomic
def sms_receipt_apply(receipt: DeliveryReceipt) -> bool:
    """Record what the provider says about a sent text; False when the id is unknown."""
    outbound = (
        OutboundSms.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .filter(provider_id=receipt.provider_id)
        .exclude(provider_id="")
        .first()
    )
    if outbound is None:
        return False
    if receipt.status == "sent" or outbound.state in (State.DELIVERED, State.FAILED):
        return True  # nothing new, or the outcome is already final
    data = _event_data(outbound)
    if receipt.status == "delivered":
        OutboundSms.objects.filter(pk=outbound.pk).update(
            state=State.DELIVERED, delivered_at=timezone.now()
        )
        if outbound.message_id is not None:
            message_delivery_status_set(
                message_id=outbound.message_id, status=Message.DeliveryStatus.SENT
            )
        event_record(
            verb="sms.delivered", conversation=outbound.conversation, actor_name=_("SMS"), data=data
        )
    else:
        OutboundSms.objects.filter(pk=outbound.pk).update(
            state=State.FAILED, last_error=receipt.error[:MAX_ERROR]
        )
        if outbound.message_id is not None:
            message_delivery_status_set(
                message_id=outbound.message_id, status=Message.DeliveryStatus.FAILED
            )
        event_record(
            verb="sms.failed",
            conversation=outbound.conversation,
            actor_name=_("SMS"),
            data={**data, "error": receipt.error[:500], "receipt": True},
        )
    return True
