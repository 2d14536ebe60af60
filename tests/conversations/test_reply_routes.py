"""A reply leaves only by a way that works: the routes, the chosen channel, and refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import translation

from guichet.accounts.models import User
from guichet.channels.email.models import OutboundEmail
from guichet.channels.sms.models import OutboundSms
from guichet.conversations.models import Conversation, Message
from guichet.conversations.senders import ReplyRoute, reply_routes
from guichet.conversations.services import conversation_reply, customer_identity_add
from guichet.conversations.types import IngestResult
from guichet.core.exceptions import InvalidInput


def _reload(conversation: Conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


def test_a_counter_visitor_without_address_has_no_route_and_no_reply(
    agent: User, ingest: Callable[..., IngestResult]
) -> None:
    conversation = ingest(channel="counter", sender_kind="chat", sender="visit-1").conversation
    assert reply_routes(conversation) == []
    with pytest.raises(InvalidInput) as refused:
        conversation_reply(actor=agent, conversation=conversation, text="Vu au guichet")
    assert "came in at the counter" in str(refused.value)
    assert "cannot be sent on this channel" in str(refused.value)
    with translation.override("fr"), pytest.raises(InvalidInput):
        conversation_reply(actor=agent, conversation=conversation, text="Vu au guichet")
    fresh = _reload(conversation)
    assert fresh.first_human_response_at is None and fresh.assignee is None
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_counter_reply_goes_by_email_to_the_known_address(
    agent: User, ingest: Callable[..., IngestResult], django_capture_on_commit_callbacks: Any
) -> None:
    conversation = ingest(channel="counter", sender="client@example.org").conversation
    assert reply_routes(conversation) == [ReplyRoute("email", "client@example.org")]
    with django_capture_on_commit_callbacks(execute=False):
        message = conversation_reply(actor=agent, conversation=conversation, text="Voici.")
    assert message.channel == "email" and message.delivery_status == Message.DeliveryStatus.QUEUED
    assert OutboundEmail.objects.get(message=message).to_address == "client@example.org"
    assert _reload(conversation).first_human_response_at is not None


def test_the_agent_chooses_sms_on_an_email_conversation(
    agent: User, ingest: Callable[..., IngestResult], django_capture_on_commit_callbacks: Any
) -> None:
    conversation = ingest().conversation
    customer_identity_add(
        actor=agent, customer=conversation.customer, kind="phone", value="06 12 34 56 78"
    )
    routes = reply_routes(conversation)
    assert routes == [
        ReplyRoute("email", "client@example.org"),
        ReplyRoute("sms", "+33612345678"),
    ]
    with django_capture_on_commit_callbacks(execute=False):
        message = conversation_reply(
            actor=agent, conversation=conversation, text="Par SMS.", channel="sms"
        )
    assert message.channel == "sms"
    assert OutboundSms.objects.get(message=message).to_number == "+33612345678"
    assert not OutboundEmail.objects.filter(message=message).exists()
    event = conversation.events.get(verb="message.sent")
    assert event.data == {"message_id": message.pk, "channel": "sms"}


def test_a_channel_that_is_not_a_route_is_refused(
    agent: User, ingest: Callable[..., IngestResult]
) -> None:
    conversation = ingest().conversation
    for channel in ("sms", "counter", "paper"):
        with pytest.raises(InvalidInput, match="cannot be sent by"):
            conversation_reply(actor=agent, conversation=conversation, text="Non.", channel=channel)
    assert _reload(conversation).first_human_response_at is None
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_landline_is_not_offered_for_sms(
    agent: User, ingest: Callable[..., IngestResult]
) -> None:
    conversation = ingest(
        channel="phone", sender_kind="phone", sender="01 42 00 00 00"
    ).conversation
    assert reply_routes(conversation) == []
    with pytest.raises(InvalidInput, match="came in by phone"):
        conversation_reply(actor=agent, conversation=conversation, text="Rappel fait.")
