"""Callback requests: the public page, the voice menu, SMS, the agents' queue and attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from guichet.channels.phone.models import CallbackRequest
from guichet.channels.phone.services import (
    callback_attempt_record,
    callback_place,
    callback_request_from_contact,
    callback_take_next,
    conversation_ref,
)
from guichet.channels.sms.models import OutboundSms
from guichet.conversations.models import Conversation, Event
from guichet.core.exceptions import InvalidInput, NotAllowed
from tests.channels.sms.provider import signed_post

pytestmark = pytest.mark.django_db

TOKEN = "telephony-token-for-tests"


def ask(number="06 12 34 56 78", **kwargs):
    kwargs.setdefault("source", "page")
    return callback_request_from_contact(number=number, **kwargs)


def test_the_public_page_files_a_request_and_shows_place_and_estimate(
    team, provider, django_capture_on_commit_callbacks
):
    client = Client()
    page = client.get("/callback/")
    assert page.status_code == 200
    assert 'name="number"' in page.content.decode()
    ask(number="0611111111")  # one request ahead
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/callback/", {"number": "06 12 34 56 78", "name": "Jeanne", "note": "Ma carte"}
        )
    assert response.status_code == 302, response.content.decode()
    callback = CallbackRequest.objects.get(number="+33612345678")
    assert callback.conversation.channel == "phone"
    assert callback.conversation.team == team
    assert callback.source == "page"
    status_page = client.get(response["Location"])
    text = status_page.content.decode()
    assert "number 2 in the queue" in text
    assert str(callback.conversation.number) in text
    assert "We expect to call you by" in text
    sms = provider.received[-1].body
    assert sms["to"] == "+33612345678"
    assert "You are number 2 in the queue." in sms["text"]
    assert Event.objects.filter(verb="callback.requested", conversation=callback.conversation)


def test_a_signed_conversation_reference_attaches_the_request(ingest, provider):
    conversation = ingest().conversation
    client = Client()
    ref = conversation_ref(conversation)
    page = client.get("/callback/", {"conversation": ref})
    assert "added to your current conversation" in page.content.decode()
    response = client.post(
        f"/callback/?conversation={ref}", {"number": "0612345678", "conversation": ref}
    )
    assert response.status_code == 302
    assert CallbackRequest.objects.get().conversation == conversation
    assert Conversation.objects.count() == 1

    forged = ref[:-2] + ("AA" if not ref.endswith("AA") else "BB")
    response = client.post("/callback/", {"number": "0612345678", "conversation": forged})
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert CallbackRequest.objects.count() == 1


def test_the_page_refuses_bad_input_clearly_and_stores_nothing(team):
    client = Client()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    for data, message in (
        ({"number": ""}, "This field is required"),
        ({"number": "12"}, "is not a valid phone number"),
        ({"number": "0612345678", "day": yesterday}, "Choose today or a later day"),
        ({"number": "0612345678", "from_time": "15:00", "until_time": "14:00"}, "after the first"),
        ({"number": "0612345678", "website": "http://spam"}, "try again"),
    ):
        response = client.post("/callback/", data)
        assert response.status_code == 400, data
        assert message in response.content.decode()
    assert not CallbackRequest.objects.exists()
    assert not Conversation.objects.exists()


def test_a_second_request_on_the_same_conversation_returns_the_open_one(team):
    first = ask()
    again = ask()
    assert again.pk == first.pk
    assert CallbackRequest.objects.count() == 1


def test_requests_per_number_are_limited(team, settings):
    settings.CALLBACK_HOURLY_LIMIT_PER_NUMBER = 2
    for _ in range(2):
        callback = ask()
        CallbackRequest.objects.filter(pk=callback.pk).update(status="cancelled")
    response = Client().post("/callback/", {"number": "0612345678"})
    assert response.status_code == 429
    assert CallbackRequest.objects.count() == 2


def test_queue_order_take_next_and_attempts(team, agent, agent2, outsider, settings):
    settings.CALLBACK_MAX_ATTEMPTS = 2
    later = ask(number="0600000001", preferred_from=timezone.now() + timedelta(hours=2))
    first = ask(number="0600000002")
    second = ask(number="0600000003")
    assert callback_place(first).position == 2  # `later` asked first, its window starts later
    assert callback_take_next(actor=outsider) is None  # another team's queue
    taken = callback_take_next(actor=agent)
    assert taken.pk == first.pk and taken.taken_by == agent
    assert callback_take_next(actor=agent).pk == first.pk  # one at a time: the same again
    assert callback_take_next(actor=agent2).pk == second.pk
    with pytest.raises(NotAllowed):
        callback_attempt_record(actor=agent2, request=first, outcome="reached")
    with pytest.raises(InvalidInput):
        callback_attempt_record(actor=agent, request=first, outcome="maybe")

    callback_attempt_record(actor=agent, request=first, outcome="no_answer")
    first.refresh_from_db()
    assert first.status == "waiting" and first.attempts == 1
    assert first.preferred_from > timezone.now()  # it waits before the next try
    assert callback_take_next(actor=agent) is None  # nothing due now
    CallbackRequest.objects.filter(pk=first.pk).update(preferred_from=None)
    assert callback_take_next(actor=agent).pk == first.pk
    callback_attempt_record(actor=agent, request=first, outcome="busy")
    first.refresh_from_db()
    assert first.status == "unreachable"  # CALLBACK_MAX_ATTEMPTS reached

    callback_attempt_record(actor=agent2, request=second, outcome="reached", note="OK")
    second.refresh_from_db()
    assert second.status == "done" and second.closed_at is not None
    second.conversation.refresh_from_db()
    assert second.conversation.first_human_response_at is not None  # called back: answered
    first.conversation.refresh_from_db()
    assert first.conversation.first_human_response_at is None  # never reached
    verbs = list(
        Event.objects.filter(conversation=second.conversation).values_list("verb", flat=True)
    )
    assert "callback.taken" in verbs and "callback.attempted" in verbs
    assert later.status == "waiting"


def test_the_agent_queue_page(team, agent, login):
    ask()
    client = login(agent)
    page = client.get("/phone/callbacks/")
    assert page.status_code == 200
    assert "Take the next request" in page.content.decode()
    assert "As soon as possible" in page.content.decode()  # the waiting request is listed
    response = client.post("/phone/callbacks/take")
    assert response.status_code == 302
    callback = CallbackRequest.objects.get()
    assert callback.status == "in_progress"
    assert "Your call now" in client.get("/phone/callbacks/").content.decode()
    response = client.post(f"/phone/callbacks/{callback.pk}/attempt", {"outcome": "reached"})
    assert response.status_code == 302
    callback.refresh_from_db()
    assert callback.status == "done"
    response = client.post("/phone/callbacks/take")
    assert response["Location"].endswith("?empty=1")
    assert Client().get("/phone/callbacks/").status_code == 302  # agents only


def test_the_voice_menu_files_requests_idempotently(team, settings):
    settings.PHONE_API_TOKEN = TOKEN
    client = Client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    payload = {"number": "+33612345678", "call_id": "call-42", "language": "en"}
    assert (
        client.post("/phone/ivr/callback", payload, content_type="application/json").status_code
        == 401
    )
    response = client.post(
        "/phone/ivr/callback", payload, content_type="application/json", headers=headers
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["position"] == 1 and data["status"] == "waiting"
    again = client.post(
        "/phone/ivr/callback", payload, content_type="application/json", headers=headers
    )
    assert again.json()["callback"] == data["callback"]
    assert CallbackRequest.objects.get().source == "ivr"
    bad = client.post(
        "/phone/ivr/callback", {"number": "nope"}, content_type="application/json", headers=headers
    )
    assert bad.status_code == 400
    bad = client.post(
        "/phone/ivr/callback", {"number": "0612345678", "from": "tomorrow"},
        content_type="application/json", headers=headers,
    )  # fmt: skip
    assert bad.status_code == 400
    assert CallbackRequest.objects.count() == 1


def test_an_sms_keyword_files_a_request(team, provider, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(
            Client(), "/sms/inbound", {"id": "s1", "from": "0612345678", "text": "Rappel"}
        )
    assert response.status_code == 200
    callback = CallbackRequest.objects.get()
    assert callback.source == "sms" and callback.conversation.channel == "sms"
    kinds = set(OutboundSms.objects.values_list("kind", flat=True))
    assert kinds == {"ack", "notice"}  # the acknowledgement and the callback confirmation


def test_no_confirmation_sms_to_an_opted_out_number(team, provider):
    from guichet.channels.sms.services import sms_opt_out

    sms_opt_out(number="+33612345678")
    ask()
    assert not OutboundSms.objects.exists()
    assert Event.objects.get(verb="sms.blocked").data["reason"] == "opted_out"
