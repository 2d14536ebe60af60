"""The rule every channel follows before an automatic acknowledgement (DESIGN promise 3).

An acknowledgement tells the customer that their message arrived and when a person will answer
(`guichet.channels.promise`). It is an automatic reply, so it must never loop: a conversation gets
at most one acknowledgement within `ACKNOWLEDGEMENT_WINDOW_HOURS`, whatever the channel (a chat
acknowledged at 10:00 gets no SMS acknowledgement at 10:05), and none at all when triage says
automatic replies are off for it (`guichet.conversations.automation.automatic_reply_allowed`,
which triage sets, when that function exists).

How a channel uses it, inside the transaction that queues its acknowledgement::

    conversation = Conversation.objects.select_for_update().get(pk=...)  # two deliveries: one ack
    refusal = acknowledgement_refusal(conversation=conversation, channel="sms")
    if refusal:
        ...  # record why on the timeline if useful; send nothing
    else:
        queue_my_acknowledgement(...)
        acknowledgement_record(conversation=conversation, channel="sms")

Channel-specific rules stay in the channel (email: RFC 3834 auto-submitted mail, our own
addresses, a per-address hourly cap). Sends are recorded as `acknowledgement.sent` timeline events,
so the rule needs no table of its own and agents see each acknowledgement in the timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.conversations.models import Conversation, Event
from guichet.conversations.services import event_record

logger = logging.getLogger(__name__)

VERB = "acknowledgement.sent"
# Reasons for a refusal (stable strings: channels store them on timeline events).
RECENT = "recent_acknowledgement"
TRIAGE = "triage_refused"


def _triage_guard() -> Callable[[Conversation], bool] | None:
    """`automatic_reply_allowed` (conversations.automation, set by triage), when it exists.

    Triage stops automatic replies on a conversation it hands straight to a person; the rule
    lives below channels and triage so both can use it. Guarded so that this module keeps
    working on a tree where that function is absent.
    """
    try:
        from guichet.conversations.automation import automatic_reply_allowed
    except ImportError:
        return None
    return automatic_reply_allowed


def acknowledgement_refusal(
    *, conversation: Conversation, channel: str, now: datetime | None = None
) -> str:
    """Why no acknowledgement may be sent on this conversation now ("" when one may).

    Call with the conversation row locked (`select_for_update`) in the transaction that queues
    the acknowledgement, so that two concurrent deliveries cannot both pass.
    """
    now = now or timezone.now()
    window = timedelta(hours=settings.ACKNOWLEDGEMENT_WINDOW_HOURS)
    recent = Event.objects.filter(
        conversation=conversation, verb=VERB, created_at__gt=now - window
    ).exists()
    if recent:
        return RECENT
    guard = _triage_guard()
    if guard is not None:
        try:
            allowed = bool(guard(conversation))
        except Exception:  # a broken guard must not silence every acknowledgement quietly
            logger.exception("automatic_reply_allowed failed for conversation %s", conversation.pk)
            allowed = False
        if not allowed:
            return TRIAGE
    return ""


def acknowledgement_allowed(
    conversation: Conversation, channel: str, now: datetime | None = None
) -> bool:
    """True when `channel` may acknowledge `conversation` now (see `acknowledgement_refusal`)."""
    return not acknowledgement_refusal(conversation=conversation, channel=channel, now=now)


def acknowledgement_record(
    *, conversation: Conversation, channel: str, data: dict | None = None
) -> Event:
    """Write that an acknowledgement was queued: it starts the window for every channel."""
    return event_record(
        verb=VERB,
        conversation=conversation,
        actor_name=_("Acknowledgement"),
        data={"channel": channel, **(data or {})},
    )
