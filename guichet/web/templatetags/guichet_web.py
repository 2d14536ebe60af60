"""Template helpers of the agent interface: relative times, timeline event texts, phone numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

from guichet.conversations.models import Channel, Event, Priority, Status
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
    return _("recorded “%(verb)s”") % {"verb": verb}


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
