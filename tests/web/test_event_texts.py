"""Every timeline event the code records reads as a sentence, in English and French."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from guichet.conversations.models import Event
from guichet.web.templatetags.guichet_web import event_text

# Shown as messages, not as events (conversations.selectors.timeline).
SHOWN_AS_MESSAGES = {"message.received", "message.sent", "note.added"}
# Recorded on customers or outboxes only, never on a conversation's timeline.
NOT_ON_TIMELINES = {
    "customer.updated",
    "customer.merged",
    "customer.merged_away",
    "customer.identity_added",
    "email.sent",
    "email.failed",
    "email.bounced",
    "triage.decided",  # rendered by triage/_decided.html
}


def recorded_verbs() -> set[str]:
    source = Path(settings.BASE_DIR) / "guichet"
    verbs: set[str] = set()
    for path in source.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        verbs.update(re.findall(r'verb="([a-z_.:]+)"', text))
        verbs.update(re.findall(r'_event\(\s*"([a-z_.]+)"', text))
        verbs.update(re.findall(r'"(appointment\.[a-z_]+)"', text))
    verbs.discard("appointment.ics")  # a file name, not a verb
    verbs.update({"counter.ticket_served", "counter.ticket_absent"})  # verb=f"counter.ticket_{…}"
    return verbs - SHOWN_AS_MESSAGES - NOT_ON_TIMELINES


def test_the_scan_finds_the_channels_verbs() -> None:
    verbs = recorded_verbs()
    assert {"call.logged", "sms.blocked", "appointment.booked", "paper.ocr_failed"} <= verbs


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("verb", sorted(recorded_verbs()))
def test_every_verb_has_a_sentence(verb: str, language: str) -> None:
    event = Event(
        verb=verb,
        data={
            "reason": "opted_out",
            "outcome": "no_answer",
            "direction": "outbound",
            "duration_seconds": 125,
            "type": "Conseil",
            "starts_at": "2026-11-23T10:00:00+01:00",
            "channel": "email",
            "from": "normal",
            "to": "high",
        },
    )
    with translation.override(language):
        text = event_text(event)
    # Not the fallback, which names the raw verb: « recorded “sms.blocked” ».
    assert text and f"“{verb}”" not in text and f"« {verb} »" not in text, text
