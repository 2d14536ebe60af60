"""The shared acknowledgement rule (guichet.channels.acknowledgements): once per conversation per
window, across channels, and never when automatic replies are stopped (DESIGN promise 3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from guichet.channels import acknowledgements
from guichet.channels.email.models import OutboundEmail
from guichet.channels.email.outbound import acknowledgement_queue
from guichet.conversations.models import Conversation, Event

pytestmark = pytest.mark.django_db


def test_once_per_window_across_channels(ingest: Any, settings: Any) -> None:
    settings.ACKNOWLEDGEMENT_WINDOW_HOURS = 24
    conversation = ingest(channel="sms", sender_kind="phone", sender="+33612345678").conversation
    assert acknowledgements.acknowledgement_allowed(conversation, "sms")
    acknowledgements.acknowledgement_record(conversation=conversation, channel="sms")
    event = Event.objects.get(verb=acknowledgements.VERB)
    assert event.data == {"channel": "sms"} and event.conversation == conversation
    for channel in ("sms", "chat", "email", "webform"):
        assert not acknowledgements.acknowledgement_allowed(conversation, channel)
    assert (
        acknowledgements.acknowledgement_refusal(conversation=conversation, channel="chat")
        == acknowledgements.RECENT
    )
    later = timezone.now() + timedelta(hours=24, seconds=1)
    assert acknowledgements.acknowledgement_allowed(conversation, "chat", now=later)
    # Another conversation of the same customer is not affected.
    other = ingest(channel="sms", sender_kind="phone", sender="+33612345678").conversation
    assert acknowledgements.acknowledgement_allowed(other, "sms")


def test_stopped_by_triage(ingest: Any) -> None:
    conversation = ingest().conversation
    if not hasattr(Conversation, "automatic_replies_stopped"):
        pytest.fail("conversations.automation is expected to provide the triage stop")
    Conversation.objects.filter(pk=conversation.pk).update(automatic_replies_stopped=True)
    assert (
        acknowledgements.acknowledgement_refusal(conversation=conversation, channel="sms")
        == acknowledgements.TRIAGE
    )


def test_guard_failure_refuses(ingest: Any, monkeypatch: Any) -> None:
    def broken(conversation: Any) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(acknowledgements, "_triage_guard", lambda: broken)
    assert not acknowledgements.acknowledgement_allowed(ingest().conversation, "sms")


def test_email_queue_uses_the_rule(ingest: Any, settings: Any) -> None:
    conversation = ingest(channel="webform").conversation
    first = acknowledgement_queue(
        conversation=conversation, to_address="client@example.org", channel="webform"
    )
    assert first is not None and first.kind == OutboundEmail.Kind.ACKNOWLEDGEMENT
    second = acknowledgement_queue(
        conversation=conversation, to_address="client@example.org", channel="webform"
    )
    assert second is None
    skipped = Event.objects.get(verb="email.acknowledgement_skipped")
    assert skipped.data["reason"] == acknowledgements.RECENT
    assert OutboundEmail.objects.count() == 1


def test_email_queue_caps_per_address(ingest: Any, settings: Any) -> None:
    settings.EMAIL_AUTO_REPLY_HOURLY_CAP = 2
    queued = []
    for _ in range(3):
        conversation = ingest(channel="webform", sender="victim@example.org").conversation
        queued.append(
            acknowledgement_queue(
                conversation=conversation, to_address="victim@example.org", channel="webform"
            )
        )
    assert [row is not None for row in queued] == [True, True, False]
