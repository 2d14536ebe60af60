"""Template helpers of the agent interface: relative times, timeline event texts, phone numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guichet.conversations.models import Channel, Event, Priority, Status
from guichet.conversations.senders import sender_for
from guichet.customers.identities import format_phone

register = template.Library()


@register.filter
def relative(value: datetime | None) -> str:
    """'in 3 hours' or '2 days ago', one unit deep."""
    if value is None:
        return ""
    now = timezone.now()
    if value >= now:
        return _("in %(time)s") % {"time": timeuntil(value, now, depth=1)}
    return _("%(time)s ago") % {"time": timesince(value, now, depth=1)}


@register.filter
def is_past(value: datetime | None) -> bool:
    return value is not None and value < timezone.now()


@register.filter
def phone(value: str) -> str:
    return format_phone(value)


@register.filter
def identity_display(identity: Any) -> str:
    return format_phone(identity.value) if identity.kind == "phone" else identity.value


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


@register.filter
def status_label(value: str) -> str:
    return _label(Status, value)


@register.filter
def priority_label(value: int) -> str:
    return _label(Priority, value)


@register.filter
def channel_label(value: str) -> str:
    return _label(Channel, value)


def _when(value: str | None) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


@register.filter
def event_text(event: Event) -> str:
    """A human sentence for one timeline event (the actor is shown separately)."""
    data = event.data or {}
    verb = event.verb
    if verb == "conversation.created":
        channel = _label(Channel, data.get("channel", ""))
        if data.get("on_behalf"):
            return _("opened this conversation on behalf of the customer (%(channel)s)") % {
                "channel": channel
            }
        return _("started this conversation (%(channel)s)") % {"channel": channel}
    if verb == "claimed":
        return _("took this conversation")
    if verb == "assigned":
        if data.get("reason") == "replied":
            return _("was assigned by replying")
        return _("assigned this conversation to %(name)s") % {"name": data.get("to_name") or "?"}
    if verb == "unassigned":
        return _("unassigned this conversation")
    if verb == "status.changed":
        text = _("changed the status from “%(from)s” to “%(to)s”") % {
            "from": _label(Status, data.get("from", "")),
            "to": _label(Status, data.get("to", "")),
        }
        if data.get("reason") == "inbound":
            text = _("reopened the conversation (the customer wrote again)")
        return text
    if verb == "priority.changed":
        return _("changed the priority from “%(from)s” to “%(to)s”") % {
            "from": _label(Priority, data.get("from")),
            "to": _label(Priority, data.get("to")),
        }
    if verb == "team.changed":
        return _("moved this conversation to the team %(name)s") % {
            "name": data.get("to_name", "?")
        }
    if verb == "tags.changed":
        tags = ", ".join(data.get("to") or []) or _("none")
        return _("set the tags: %(tags)s") % {"tags": tags}
    if verb == "snoozed":
        return _("snoozed this conversation until %(when)s") % {"when": _when(data.get("until"))}
    if verb == "unsnoozed":
        return _("woke this conversation up")
    if verb == "attachment.rejected":
        return _("set aside the attachment “%(name)s” (too large)") % {
            "name": data.get("filename", "")
        }
    text = _channel_event_text(verb, data)
    if text:
        return text
    return _("recorded “%(verb)s”") % {"verb": verb}


# Events of the channels and of triage whose sentence needs nothing but the verb.
PLAIN_EVENT_TEXTS = {
    "acknowledgement.sent": gettext_lazy("sent the acknowledgement (when a person will answer)"),
    "chat.acknowledged": gettext_lazy("said no agent was online and when a person will answer"),
    "chat.contact_left": gettext_lazy("left contact details in the chat"),
    "callback.requested": gettext_lazy("asked to be called back"),
    "callback.taken": gettext_lazy("took the callback request"),
    "callback.cancelled": gettext_lazy("cancelled the callback request"),
    "message.delivery_failed": gettext_lazy("could not hand the message over for sending"),
    "email.retry_requested": gettext_lazy("asked to send the e-mail again now"),
    "sms.retry_requested": gettext_lazy("asked to send the SMS again now"),
    "sms.sent": gettext_lazy("sent the SMS"),
    "sms.delivered": gettext_lazy("the SMS was delivered"),
    "sms.failed": gettext_lazy("could not send the SMS"),
    "sms.opted_out": gettext_lazy("asked to receive no more SMS (STOP)"),
    "sms.opted_in": gettext_lazy("accepted SMS again (START)"),
    "sla.at_risk": gettext_lazy("flagged the conversation at risk of missing its due time"),
    "paper.letter_ready": gettext_lazy("prepared the reply letter (PDF)"),
    "paper.letter_failed": gettext_lazy("could not prepare the reply letter"),
    "counter.ticket_taken": gettext_lazy("took a number at the counter"),
    "counter.ticket_called": gettext_lazy("called the visitor to a desk"),
    "counter.ticket_recalled": gettext_lazy("called the visitor again"),
    "counter.ticket_served": gettext_lazy("served the visitor at the counter"),
    "counter.ticket_absent": gettext_lazy("marked the visitor absent"),
    "counter.visit_linked": gettext_lazy("linked a counter visit to this conversation"),
    "appointment.cancelled": gettext_lazy("cancelled the appointment"),
    "appointment.reminded": gettext_lazy("sent the appointment reminder"),
    "appointment.attended": gettext_lazy("recorded that the customer came"),
    "appointment.no_show": gettext_lazy("recorded a missed appointment (no-show)"),
    "triage.corrected": gettext_lazy("corrected an automatic decision"),
}


def _channel_event_text(verb: str, data: dict[str, Any]) -> str:
    """Sentences for the events channels and triage record ("" when the verb is unknown)."""
    if verb in PLAIN_EVENT_TEXTS:
        return str(PLAIN_EVENT_TEXTS[verb])
    if verb == "call.logged":
        minutes = max(1, round((data.get("duration_seconds") or 0) / 60))
        if data.get("direction") == "outbound":
            return _("called the customer (%(minutes)s min)") % {"minutes": minutes}
        return _("took a call from the customer (%(minutes)s min)") % {"minutes": minutes}
    if verb == "callback.attempted":
        return _("tried to call back: %(outcome)s") % {"outcome": data.get("outcome", "?")}
    if verb in ("sms.blocked", "sms.acknowledgement_skipped", "email.acknowledgement_skipped"):
        return _("sent no automatic message (%(reason)s)") % {"reason": data.get("reason", "?")}
    if verb == "sms.attempt_failed":
        return _("could not send the SMS yet (%(reason)s): trying again") % {
            "reason": data.get("error") or "?"
        }
    if verb == "email.sent":
        return _("sent the e-mail to %(to)s") % {"to": data.get("to", "?")}
    if verb in ("email.failed", "email.attempt_failed"):
        reason = data.get("reason", "")
        words = str(DELIVERY_REASONS[reason]) if reason in DELIVERY_REASONS else ""
        words = words or data.get("error") or reason or "?"
        if verb == "email.attempt_failed":
            return _("could not send the e-mail yet (%(reason)s): trying again") % {"reason": words}
        return _("could not send the e-mail (%(reason)s)") % {"reason": words}
    if verb == "email.thread_refused":
        return _(
            "opened this conversation: %(address)s answered conversation %(number)s but is not "
            "its customer"
        ) % {"address": data.get("from", "?"), "number": data.get("number", "?")}
    if verb == "paper.ocr_failed":
        return _("could not read the scanned letter (OCR failed)")
    if verb == "customer.changed":
        return _("linked this conversation to another customer")
    if verb in ("appointment.booked", "appointment.rescheduled"):
        values = {"type": data.get("type", ""), "when": _when(data.get("starts_at"))}
        if verb == "appointment.booked":
            return _("booked an appointment (%(type)s) for %(when)s") % values
        return _("moved the appointment (%(type)s) to %(when)s") % values
    return ""


@register.simple_tag(takes_context=True)
def query_with(context: Any, **changes: Any) -> str:
    """The current query string with some parameters replaced (None or '' removes one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + urlencode(list(params.lists()), doseq=True) if params else "?"


# Why a reply did not leave, from the code a channel records on its event.
DELIVERY_REASONS = {
    "no_address": gettext_lazy("no e-mail address for this customer"),
    "no_number": gettext_lazy("no mobile number for this customer"),
    "opted_out": gettext_lazy("the customer asked to receive no more SMS (STOP)"),
    "too_long": gettext_lazy("the text is too long for an SMS"),
    "queue_error": gettext_lazy("it could not be put in the outbox"),
    "sender_error": gettext_lazy("the channel could not take it"),
}


@dataclass(frozen=True)
class DeliveryLine:
    state: str  # the CSS state: none, queued, sending, sent, failed
    label: str
    detail: str = ""
    can_retry: bool = False


def _delivery_reason(message: Any) -> str:
    delivery = getattr(message, "delivery", None)
    if delivery is not None and delivery.reason:
        return str(delivery.reason)
    event = getattr(message, "delivery_event", None)
    data = (event.data or {}) if event is not None else {}
    reason = data.get("reason", "")
    if reason in DELIVERY_REASONS:
        return str(DELIVERY_REASONS[reason])
    return str(data.get("error") or reason or "")


@register.simple_tag
def delivery_line(message: Any) -> DeliveryLine | None:
    """The delivery state of an outbound message in words (None for other messages)."""
    if message.direction != "outbound":
        return None
    delivery = getattr(message, "delivery", None)
    status = message.delivery_status
    if not status:  # stored without a sender: history (demo data, imports) or an older version
        if sender_for(message.channel) is None:
            return DeliveryLine("none", _("Not sent: cannot be sent on this channel"))
        return DeliveryLine("none", _("Not sent: recorded only"))
    if delivery is not None and delivery.state == "sending":
        return DeliveryLine("sending", _("Sending to %(to)s…") % {"to": delivery.recipient})
    if status == "failed":
        reason = _delivery_reason(message)
        label = (
            _("Delivery failed: %(reason)s") % {"reason": reason}
            if reason
            else _("Delivery failed")
        )
        detail = ""
        if delivery is not None and delivery.state == "queued" and delivery.next_attempt_at:
            detail = _("retrying at %(time)s (attempt %(n)d of %(max)d)") % {
                "time": date_format(timezone.localtime(delivery.next_attempt_at), "TIME_FORMAT"),
                "n": delivery.attempts + 1,
                "max": delivery.max_attempts,
            }
        can_retry = delivery is not None and delivery.state in ("queued", "failed")
        return DeliveryLine("failed", label, detail, can_retry)
    if status == "sent":
        if delivery is not None and delivery.state == "delivered":
            return DeliveryLine("sent", _("Delivered to %(to)s") % {"to": delivery.recipient})
        if delivery is not None:
            return DeliveryLine("sent", _("Sent to %(to)s") % {"to": delivery.recipient})
        return DeliveryLine("sent", _("Sent"))
    if delivery is not None:
        return DeliveryLine(
            "queued", _("Queued for sending to %(to)s") % {"to": delivery.recipient}
        )
    return DeliveryLine("queued", _("Queued for sending"))
