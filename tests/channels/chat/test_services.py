"""Chat services: ingest through message_ingest, threading, acknowledgement, replies, presence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from guichet.accounts.models import User
from guichet.channels.acknowledgements import RECENT, acknowledgement_refusal
from guichet.channels.chat import selectors, services
from guichet.channels.chat.models import AgentPresence
from guichet.channels.chat.visitor import visitor_from_token, visitor_id_new, visitor_token
from guichet.conversations.models import Conversation, Event, Message
from guichet.core.exceptions import InvalidInput
from guichet.customers.models import Identity

pytestmark = pytest.mark.django_db


def test_messages_of_one_visitor_join_one_conversation(team: object) -> None:
    visitor = visitor_id_new()
    first = services.chat_message_receive(visitor_id=visitor, text="Bonjour", name="Jeanne")
    second = services.chat_message_receive(visitor_id=visitor, text="Vous êtes là ?")
    assert first.conversation.pk == second.conversation.pk
    conversation = Conversation.objects.get(pk=first.conversation.pk)
    assert conversation.channel == "chat"
    assert conversation.team == team
    assert conversation.customer.display_name == "Jeanne"
    assert Identity.objects.get(customer=conversation.customer).kind == "chat"
    assert list(conversation.messages.values_list("text", flat=True)) == [
        "Bonjour",
        "Vous êtes là ?",
    ]
    other = services.chat_message_receive(visitor_id=visitor_id_new(), text="Autre")
    assert other.conversation.pk != conversation.pk


def test_acknowledged_once_with_the_promise_when_no_agent_is_online(team: object) -> None:
    visitor = visitor_id_new()
    first = services.chat_message_receive(visitor_id=visitor, text="Allô ?")
    services.chat_message_receive(visitor_id=visitor, text="Toujours là")
    assert [line.kind for line in first.lines] == ["inbound", "notice"]
    assert f"no. {first.conversation.number}" in first.lines[1].text
    assert "will answer by" in first.lines[1].text
    events = Event.objects.filter(conversation=first.conversation, verb=selectors.ACKNOWLEDGED)
    assert events.count() == 1
    assert events.get().data["due"] == first.conversation.first_human_response_due.isoformat()


def test_no_automatic_promise_when_the_customer_asks_for_a_person(team: object) -> None:
    """Triage stops automatic replies on a request for a person (promise 3): the chat adds no
    automatic line, even with no agent online (the widget itself still says no one is there)."""
    received = services.chat_message_receive(
        visitor_id=visitor_id_new(), text="Je veux parler à une vraie personne, pas à un robot."
    )
    conversation = Conversation.objects.get(pk=received.conversation.pk)
    assert conversation.automatic_replies_stopped
    assert [line.kind for line in received.lines] == ["inbound"]
    assert not Event.objects.filter(verb=selectors.ACKNOWLEDGED).exists()


def test_the_acknowledgement_window_is_shared_with_the_other_channels(team: object) -> None:
    visitor = visitor_id_new()
    first = services.chat_message_receive(visitor_id=visitor, text="Allô ?")
    event = Event.objects.get(verb=selectors.ACKNOWLEDGED)
    assert event.data["channel"] == "chat"
    conversation = Conversation.objects.get(pk=first.conversation.pk)
    assert acknowledgement_refusal(conversation=conversation, channel="sms") == RECENT


def test_no_acknowledgement_when_an_agent_has_the_console_open(agent: User) -> None:
    services.presence_touch(user=agent)
    received = services.chat_message_receive(visitor_id=visitor_id_new(), text="Bonjour")
    assert [line.kind for line in received.lines] == ["inbound"]
    assert not Event.objects.filter(verb=selectors.ACKNOWLEDGED).exists()


def test_presence_expires_and_away_agents_do_not_count(agent: User, settings: object) -> None:
    assert not selectors.agents_available()
    services.presence_touch(user=agent)
    assert selectors.agents_available()
    services.presence_touch(user=agent, accepting=False)
    assert not selectors.agents_available()
    services.presence_touch(user=agent, accepting=True)
    AgentPresence.objects.update(last_seen_at=timezone.now() - timedelta(seconds=91))
    assert not selectors.agents_available()
    services.presence_touch(user=agent)
    services.presence_leave(user=agent)
    assert not selectors.agents_available()


def test_an_agent_of_another_team_does_not_count(team: object, outsider: User) -> None:
    services.presence_touch(user=outsider)
    assert not selectors.agents_available()


@pytest.mark.parametrize("text", ["", "   ", "\x00", "x" * 4001])
def test_bad_text_is_refused_and_nothing_is_stored(team: object, text: str) -> None:
    with pytest.raises(InvalidInput):
        services.chat_message_receive(visitor_id=visitor_id_new(), text=text)
    assert not Conversation.objects.exists()
    assert not Identity.objects.exists()


def test_a_bad_email_is_refused_before_anything_is_stored(team: object) -> None:
    with pytest.raises(InvalidInput):
        services.chat_message_receive(visitor_id=visitor_id_new(), text="Hi", email="nope")
    assert not Conversation.objects.exists()


def test_a_typed_email_is_never_trusted_as_an_identity(ingest: object) -> None:
    # W08: a visitor typing someone else's address must not reach that person's conversations.
    ingest(sender="victim@example.org")  # type: ignore[operator]
    received = services.chat_message_receive(
        visitor_id=visitor_id_new(), text="Hi", email="victim@example.org"
    )
    assert received.conversation.customer.identities.filter(kind="email").count() == 0
    event = Event.objects.get(conversation=received.conversation, verb="chat.contact_left")
    assert event.data == {"name": "", "email": "victim@example.org", "verified": False}


def test_a_resent_message_is_stored_once(team: object) -> None:
    visitor = visitor_id_new()
    first = services.chat_message_receive(visitor_id=visitor, text="Hi", client_id="abc")
    again = services.chat_message_receive(visitor_id=visitor, text="Hi", client_id="abc")
    assert again.created is False
    assert again.message.pk == first.message.pk
    assert Message.objects.count() == 1


def test_tokens_are_signed(team: object) -> None:
    visitor = visitor_id_new()
    token = visitor_token(visitor)
    assert visitor_from_token(token) == visitor
    assert visitor_from_token(token[:-2] + "xx") is None
    assert visitor_from_token(visitor) is None
    assert visitor_from_token(None) is None
    assert visitor_from_token("a" * 1000) is None


def test_agent_reply_is_recorded_and_marked_sent(
    agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    received = services.chat_message_receive(visitor_id=visitor_id_new(), text="Hi")
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.chat_reply(actor=agent, number=received.conversation.number, text="Hello!")
    reply.refresh_from_db()
    assert reply.direction == Message.Direction.OUTBOUND
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    conversation = Conversation.objects.get(pk=received.conversation.pk)
    assert conversation.first_human_response_at is not None
    lines = selectors.chat_transcript(conversation=conversation)
    assert [line.kind for line in lines] == ["inbound", "notice", "outbound"]


def test_an_agent_of_another_team_cannot_reply(team: object, outsider: User) -> None:
    received = services.chat_message_receive(visitor_id=visitor_id_new(), text="Hi")
    with pytest.raises(InvalidInput):
        services.chat_reply(actor=outsider, number=received.conversation.number, text="Hey")
    assert received.conversation.messages.count() == 1


def test_internal_notes_never_reach_the_transcript(agent: User) -> None:
    from guichet.conversations.services import conversation_note_add

    received = services.chat_message_receive(visitor_id=visitor_id_new(), text="Hi")
    conversation_note_add(actor=agent, conversation=received.conversation, text="secret note")
    texts = [line.text for line in selectors.chat_transcript(conversation=received.conversation)]
    assert "secret note" not in texts
