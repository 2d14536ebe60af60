"""The ingest service: customer by identity, threading, idempotency, bad input (W05)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from guichet.conversations.models import Conversation, Event, Message, Status
from guichet.conversations.services import (
    conversation_reply,
    conversation_set_status,
    conversation_snooze,
    message_ingest,
)
from guichet.conversations.types import InboundAttachment, InboundMessage
from guichet.core.exceptions import InvalidInput
from guichet.customers.models import Customer, Identity


@pytest.fixture(autouse=True)
def _messages_in_english():
    """The tests read error messages in English; the install default is French."""
    with translation.override("en"):
        yield


pytestmark = pytest.mark.django_db


def test_new_customer_and_conversation(ingest, team):
    result = ingest(sender="Claire@Example.org", sender_name="Claire Dupont", external_id="<m1@x>")
    conversation = result.conversation
    assert result.created and result.conversation_created
    assert conversation.customer.display_name == "Claire Dupont"
    assert Identity.objects.get(kind="email").value == "claire@example.org"
    assert conversation.status == Status.NEW
    assert conversation.team == team
    assert conversation.first_human_response_due is not None
    assert conversation.due_at == min(
        conversation.first_human_response_due, conversation.resolution_due
    )
    assert result.message.direction == Message.Direction.INBOUND
    verbs = list(conversation.events.values_list("verb", flat=True))
    assert verbs == ["conversation.created", "message.received", "triage.decided"]


def test_known_identity_reuses_the_customer(ingest):
    first = ingest(sender="claire@example.org")
    second = ingest(sender="CLAIRE@example.org ")
    assert second.conversation.customer == first.conversation.customer
    assert second.conversation_created  # no threading hint: a new conversation
    assert Customer.objects.count() == 1


def test_phone_sender_is_normalised(ingest):
    first = ingest(channel="sms", sender_kind="phone", sender="06 12 34 56 78")
    second = ingest(channel="sms", sender_kind="phone", sender="+33612345678", thread_on_open=True)
    assert first.conversation == second.conversation
    assert Identity.objects.get().value == "+33612345678"


def test_same_external_id_twice_gives_one_message(ingest):
    first = ingest(external_id="<abc@example.org>", attachments=(InboundAttachment("a.txt", b"a"),))
    second = ingest(external_id="<abc@example.org>", text="autre texte")
    assert first.created and not second.created
    assert second.message == first.message
    assert second.conversation == first.conversation
    assert Message.objects.count() == 1
    assert Conversation.objects.count() == 1
    assert first.message.attachments.count() == 1


def test_same_external_id_on_another_channel_is_another_message(ingest):
    ingest(external_id="42")
    other = ingest(external_id="42", channel="webform")
    assert other.created
    assert Message.objects.count() == 2


def test_in_reply_to_threads_and_reopens_a_waiting_conversation(ingest, agent):
    first = ingest(external_id="<m1@x>")
    conversation_set_status(
        actor=agent, conversation=first.conversation, status=Status.WAITING_CUSTOMER
    )
    reply = ingest(external_id="<m2@x>", in_reply_to=("<unknown@x>", "<m1@x>"))
    assert reply.conversation == first.conversation
    assert not reply.conversation_created
    conversation = Conversation.objects.get(pk=first.conversation.pk)
    assert conversation.status == Status.OPEN
    assert conversation.events.filter(verb="status.changed", data__reason="inbound").count() == 1


@pytest.mark.parametrize("status", [Status.WAITING_THIRD_PARTY, Status.RESOLVED])
def test_inbound_reopens(ingest, agent, status):
    first = ingest(external_id="<m1@x>")
    conversation_set_status(actor=agent, conversation=first.conversation, status=status)
    ingest(in_reply_to=("<m1@x>",))
    conversation = Conversation.objects.get(pk=first.conversation.pk)
    assert conversation.status == Status.OPEN
    assert conversation.resolved_at is None


def test_inbound_on_closed_conversation_opens_a_new_one(ingest, agent):
    first = ingest(external_id="<m1@x>")
    conversation_set_status(actor=agent, conversation=first.conversation, status=Status.RESOLVED)
    conversation_set_status(actor=agent, conversation=first.conversation, status=Status.CLOSED)
    again = ingest(in_reply_to=("<m1@x>",), conversation_number=first.conversation.number)
    assert again.conversation_created
    assert again.conversation != first.conversation
    assert Conversation.objects.get(pk=first.conversation.pk).status == Status.CLOSED


def test_conversation_number_threads_for_the_same_customer_only(ingest):
    claire = ingest(sender="claire@example.org")
    number = claire.conversation.number
    same = ingest(sender="claire@example.org", conversation_number=number)
    assert same.conversation == claire.conversation
    stranger = ingest(sender="mallory@example.org", conversation_number=number)
    assert stranger.conversation_created
    assert stranger.conversation.customer.identities.get().value == "mallory@example.org"
    assert claire.conversation.messages.count() == 2


def test_unreadable_conversation_number_is_ignored(ingest):
    claire = ingest(sender="claire@example.org")
    as_text = ingest(
        sender="claire@example.org", conversation_number=f"#{claire.conversation.number}"
    )
    assert as_text.conversation == claire.conversation
    junk = ingest(sender="claire@example.org", conversation_number="pas un nombre")
    assert junk.conversation_created


def test_thread_on_open_joins_the_latest_active_conversation_on_the_channel(ingest, agent):
    chat = ingest(channel="chat", sender_kind="chat", sender="visitor-1")
    again = ingest(channel="chat", sender_kind="chat", sender="visitor-1", thread_on_open=True)
    assert again.conversation == chat.conversation
    # An email from a different identity kind is not joined.
    conversation_set_status(actor=agent, conversation=chat.conversation, status=Status.RESOLVED)
    later = ingest(channel="chat", sender_kind="chat", sender="visitor-1", thread_on_open=True)
    assert later.conversation_created


def test_inbound_unsnoozes(ingest, agent):
    first = ingest(external_id="<m1@x>")
    conversation_snooze(
        actor=agent, conversation=first.conversation, until=timezone.now() + timedelta(days=2)
    )
    ingest(in_reply_to=("<m1@x>",))
    assert Conversation.objects.get(pk=first.conversation.pk).snoozed_until is None


def test_inbound_after_a_reply_sets_a_new_next_response_due(ingest, agent):
    first = ingest(external_id="<m1@x>")
    conversation_reply(actor=agent, conversation=first.conversation, text="Bonjour")
    conversation = Conversation.objects.get(pk=first.conversation.pk)
    assert conversation.next_response_due is None
    ingest(in_reply_to=("<m1@x>",))
    conversation.refresh_from_db()
    assert conversation.next_response_due is not None
    assert conversation.due_at == min(conversation.next_response_due, conversation.resolution_due)


def test_unknown_team_falls_back_to_the_default_team(ingest, team):
    result = ingest(team_id=999_999)
    assert result.conversation.team == team


# --- bad input ---------------------------------------------------------------------------------


def _inbound(**fields):
    fields.setdefault("channel", "email")
    fields.setdefault("sender_kind", "email")
    fields.setdefault("sender_value", "claire@example.org")
    fields.setdefault("text", "Bonjour")
    return InboundMessage(**fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"channel": "pigeon"}, "Unknown channel"),
        ({"sender_value": "pas une adresse"}, "not a valid email address"),
        ({"sender_value": "a\x00b@example.org"}, "not a valid email address"),
        ({"sender_value": "a@exam\udc00ple.org"}, "not a valid email address"),
        ({"sender_kind": "phone", "sender_value": "12"}, "not a valid phone number"),
        ({"sender_kind": "carrier-pigeon-with-a-long-name"}, "Unknown kind"),
        ({"sender_kind": "chat", "sender_value": "visitor\x00"}, "control characters"),
    ],
)
def test_bad_input_is_refused_clearly(team, fields, message):
    with pytest.raises(InvalidInput, match=message):
        message_ingest(_inbound(team_id=team.pk, **fields))
    assert not Message.objects.exists()
    assert not Customer.objects.exists()


def test_nul_bytes_and_lone_surrogates_are_cleaned(team):
    result = message_ingest(
        _inbound(
            team_id=team.pk,
            subject="Objet\x00 \ud800cassé",
            text="Texte\x00 avec \udfff",
            html="<p>x\x00</p>",
            sender_name="Cla\x00ire \ud800",
            external_id="<id\x00\ud800@x>",
            in_reply_to=("<r\x00@x>",),
            language="fr\x00\ud800",
            source_ref="raw/\x00a.eml",
            attachments=(InboundAttachment("a\x00.txt", b"x", "text/plain\x00\ud800"),),
        )
    )
    message = Message.objects.get()
    conversation = message.conversation
    for value in (
        conversation.subject,
        message.text,
        message.html,
        message.author_name,
        message.external_id,
        message.source_ref,
        conversation.language,
        conversation.customer.display_name,
        message.attachments.get().declared_content_type,
    ):
        assert "\x00" not in value
        assert not any("\ud800" <= ch <= "\udfff" for ch in value)
    assert conversation.subject == "Objet \ufffdcassé"
    # The same (cleaned) external id is recognised again.
    again = message_ingest(_inbound(team_id=team.pk, external_id="<id\x00\ud800@x>"))
    assert not again.created and again.message == result.message


def test_huge_subject_and_ids_are_cut_to_their_columns(team):
    result = message_ingest(
        _inbound(
            team_id=team.pk,
            subject="s" * 100_000,
            external_id="e" * 1000,
            source_ref="r" * 1000,
            sender_name="n" * 1000,
            language="français-de-france",
        )
    )
    result.conversation.refresh_from_db()
    assert len(result.conversation.subject) == 255
    assert len(result.message.external_id) == 255
    assert len(result.message.source_ref) == 255
    assert len(result.conversation.customer.display_name) == 200
    assert not message_ingest(_inbound(team_id=team.pk, external_id="e" * 1000)).created


def test_subject_defaults_to_the_start_of_the_text(team):
    result = message_ingest(_inbound(team_id=team.pk, text="Ma carte est bloquée " * 20))
    assert result.conversation.subject == ("Ma carte est bloquée " * 20)[:80].strip()


def test_failure_after_the_change_writes_nothing(ingest, monkeypatch):
    from guichet.conversations import services

    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    # The events are written last, after the customer, conversation and message.
    monkeypatch.setattr(services.Event.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError):
        ingest(external_id="<m1@x>")
    assert not Conversation.objects.exists()
    assert not Message.objects.exists()
    assert not Event.objects.exists()
    assert not Customer.objects.exists()


def test_ingest_hooks_run_in_the_transaction_for_new_messages_only(ingest: Any) -> None:
    from guichet.conversations.hooks import register_ingest_hook, unregister_ingest_hook

    seen: list[tuple[str, bool]] = []

    def hook(inbound: Any, result: Any) -> None:
        seen.append((inbound.external_id, result.created))
        if inbound.text == "boom":
            raise RuntimeError("hook failed")

    register_ingest_hook("test", hook)
    try:
        ingest(text="first", external_id="hook-1")
        ingest(text="first", external_id="hook-1")  # a duplicate: no hook
        with pytest.raises(RuntimeError):
            ingest(text="boom", external_id="hook-2")
    finally:
        unregister_ingest_hook("test")
    assert seen == [("hook-1", True), ("hook-2", True)]
    # The failing hook rolled the message back with it.
    assert not Message.objects.filter(external_id="hook-2").exists()
