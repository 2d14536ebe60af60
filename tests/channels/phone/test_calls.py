"""Calls agents log, on a conversation or on a customer."""

from __future__ import annotations

import pytest

from guichet.channels.phone.models import CallLog
from guichet.channels.phone.services import call_log_record
from guichet.conversations.models import Conversation, Event, Message
from guichet.core.exceptions import InvalidInput, NotAllowed

pytestmark = pytest.mark.django_db


def test_a_call_on_a_conversation_is_a_phone_message_with_an_event(ingest, agent):
    conversation = ingest().conversation
    call = call_log_record(
        actor=agent, conversation=conversation, direction="outbound", duration_seconds=300,
        notes="Rappelée, carte débloquée.", number="06 12 34 56 78",
    )  # fmt: skip
    assert call.number == "+33612345678"
    message = call.message
    assert (message.channel, message.direction, message.author_agent) == (
        "phone",
        "outbound",
        agent,
    )
    assert message.text == "Rappelée, carte débloquée."
    event = Event.objects.get(verb="call.logged")
    assert event.data["duration_seconds"] == 300 and event.conversation == conversation


def test_a_call_answered_meets_the_first_human_response(ingest, agent):
    """Time-to-human is measured (DESIGN promise 2): speaking with the customer counts."""
    unanswered = ingest(sender="a@example.org").conversation
    call_log_record(
        actor=agent, conversation=unanswered, direction="outbound", duration_seconds=0, notes=""
    )
    unanswered.refresh_from_db()
    assert unanswered.first_human_response_at is None and unanswered.status == "new"

    answered = ingest(sender="b@example.org").conversation
    assert answered.first_human_response_due is not None
    call_log_record(
        actor=agent, conversation=answered, direction="outbound", duration_seconds=120, notes="OK"
    )
    answered.refresh_from_db()
    assert answered.first_human_response_at is not None
    assert answered.next_response_due is None and answered.status == "open"
    assert Event.objects.filter(
        verb="status.changed", conversation=answered, data__reason="call"
    ).exists()


def test_a_call_on_a_customer_opens_a_phone_conversation(ingest, agent):
    customer = ingest().conversation.customer
    call = call_log_record(
        actor=agent, customer=customer, direction="inbound", duration_seconds=60, notes="Question"
    )
    assert call.conversation.channel == "phone"
    assert call.conversation.customer == customer
    assert call.conversation.team is not None
    assert call.message.direction == "inbound" and call.message.text == "Question"


def test_bad_input_and_other_teams_are_refused_and_nothing_is_stored(ingest, agent, outsider):
    conversation = ingest().conversation
    before = Message.objects.count()
    for kwargs in (
        {"direction": "sideways", "duration_seconds": 1},
        {"direction": "inbound", "duration_seconds": -1},
        {"direction": "inbound", "duration_seconds": 10**9},
        {"direction": "inbound", "duration_seconds": 1, "number": "nonsense"},
    ):
        with pytest.raises(InvalidInput):
            call_log_record(actor=agent, conversation=conversation, notes="x", **kwargs)
    with pytest.raises(NotAllowed):
        call_log_record(
            actor=outsider, conversation=conversation, direction="inbound", duration_seconds=1,
            notes="x",
        )  # fmt: skip
    assert Message.objects.count() == before
    assert not CallLog.objects.exists()


def test_the_call_form_is_reached_from_the_conversation_page(ingest, agent, login):
    conversation = ingest().conversation
    client = login(agent)
    page = client.get(f"/c/{conversation.number}/")
    assert f"/phone/calls/new?conversation={conversation.number}" in page.content.decode()
    url = f"/phone/calls/new?conversation={conversation.number}"
    assert client.get(url).status_code == 200
    response = client.post(url, {"direction": "inbound", "minutes": "3", "notes": "Appel"})
    assert response.status_code == 302
    assert CallLog.objects.get().duration_seconds == 180
    response = client.post(url, {"direction": "inbound", "minutes": "-3", "notes": "Appel"})
    assert response.status_code == 400
    assert CallLog.objects.count() == 1


def test_the_call_form_from_the_customer_page(ingest, agent, outsider, login):
    customer = ingest().conversation.customer
    client = login(agent)
    assert (
        f"/phone/calls/new?customer={customer.pk}"
        in client.get(f"/customers/{customer.pk}/").content.decode()
    )
    response = client.post(
        f"/phone/calls/new?customer={customer.pk}", {"direction": "outbound", "minutes": "1"}
    )
    assert response.status_code == 302
    assert Conversation.objects.filter(channel="phone").count() == 1
    assert login(outsider).get(f"/phone/calls/new?customer={customer.pk}").status_code == 404
    assert client.get("/phone/calls/new?conversation=abc").status_code == 404
