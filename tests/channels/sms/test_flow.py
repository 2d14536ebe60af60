"""Inbound texts through the signed webhook, opt-out, replies through the outbox, receipts."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from guichet.channels.sms.adapters import SIGNATURE_HEADER
from guichet.channels.sms.models import OutboundSms, SmsOptOut
from guichet.channels.sms.services import outbox_drain
from guichet.conversations.models import Conversation, Event, Message
from guichet.conversations.services import conversation_reply
from guichet.customers.models import Identity
from tests.channels.sms.provider import signed_post

pytestmark = pytest.mark.django_db

NUMBER = "+33612345678"


def inbound(client, text, provider_id="m1", sender="06 12 34 56 78"):
    return signed_post(
        client,
        "/sms/inbound",
        {"id": provider_id, "from": sender, "to": "+33700000000", "text": text},
    )


@pytest.fixture
def client():
    return Client()


def test_webhook_refuses_a_missing_or_wrong_signature(client, provider, settings):
    body = json.dumps({"id": "m1", "from": NUMBER, "text": "Bonjour"}).encode()
    response = client.post("/sms/inbound", data=body, content_type="application/json")
    assert response.status_code == 401
    response = signed_post(client, "/sms/inbound", body, secret="another secret")
    assert response.status_code == 403
    settings.SMS_WEBHOOK_SECRET = ""
    response = client.post(
        "/sms/inbound", data=body, content_type="application/json",
        headers={SIGNATURE_HEADER: "0" * 64},
    )  # fmt: skip
    assert response.status_code == 403
    assert client.get("/sms/inbound").status_code == 405
    assert Message.objects.count() == 0


def test_inbound_text_opens_a_conversation_and_is_acknowledged_once(
    client, provider, team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = inbound(client, "Bonjour, ma carte est bloquée.")
    assert response.status_code == 200, response.content
    conversation = Conversation.objects.get()
    assert response.json() == {"status": "ingested", "conversation": conversation.number}
    assert conversation.channel == "sms"
    assert Identity.objects.get(kind="phone").value == NUMBER
    [ack] = provider.received
    assert ack.body["to"] == NUMBER
    assert str(conversation.number) in ack.body["text"]
    assert "STOP" in ack.body["text"]
    assert OutboundSms.objects.get().state == OutboundSms.State.SENT

    with django_capture_on_commit_callbacks(execute=True):
        assert inbound(client, "Vous avez reçu ?", provider_id="m2").status_code == 200
    assert Conversation.objects.count() == 1  # threads on the open conversation
    assert Message.objects.filter(direction="inbound").count() == 2
    assert len(provider.received) == 1  # no second acknowledgement


def test_acknowledgement_is_in_the_customers_language(client, provider, team):
    from guichet.channels.sms.services import acknowledgement_text

    inbound(client, "Hello")
    conversation = Conversation.objects.get()
    conversation.language = "en"
    assert acknowledgement_text(conversation).startswith("We received your message")
    conversation.language = "fr"
    assert "demande" in acknowledgement_text(conversation)
    assert len(acknowledgement_text(conversation)) <= 2 * 153


def test_one_acknowledgement_per_number_within_the_window(client, provider, team):
    inbound(client, "Première demande")
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(status="closed")
    inbound(client, "Seconde demande", provider_id="m2")
    assert Conversation.objects.count() == 2
    assert OutboundSms.objects.filter(kind="ack").count() == 1
    assert Event.objects.filter(
        verb="sms.acknowledgement_skipped", data__reason="already_acknowledged"
    ).exists()


def test_a_repeated_webhook_stores_the_text_once(client, provider, team):
    assert inbound(client, "Bonjour").status_code == 200
    response = inbound(client, "Bonjour")
    assert response.json()["status"] == "duplicate"
    assert Message.objects.filter(direction="inbound").count() == 1


def test_stop_blocks_replies_with_a_clear_reason_and_start_lifts_it(
    client, provider, team, agent, django_capture_on_commit_callbacks
):
    inbound(client, "Bonjour")
    conversation = Conversation.objects.get()
    assert inbound(client, "Arrêt", provider_id="m2").json() == {"status": "opted_out"}
    assert SmsOptOut.objects.filter(number=NUMBER).exists()
    assert Message.objects.filter(direction="inbound").count() == 1  # STOP is not a message

    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(actor=agent, conversation=conversation, text="Bonjour !")
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    blocked = Event.objects.get(verb="sms.blocked")
    assert blocked.data["reason"] == "opted_out"
    assert provider.texts == []  # the acknowledgement went before; nothing since

    assert inbound(client, "START", provider_id="m3").json() == {"status": "opted_in"}
    with django_capture_on_commit_callbacks(execute=True):
        conversation_reply(actor=agent, conversation=conversation, text="Nous revoilà.")
    assert provider.texts[-1] == "Nous revoilà."


def test_reply_goes_through_the_outbox_and_a_receipt_updates_the_message(
    client, provider, team, agent, django_capture_on_commit_callbacks
):
    inbound(client, "Bonjour")
    conversation = Conversation.objects.get()
    provider.received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(actor=agent, conversation=conversation, text="€" * 100)
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    outbound = OutboundSms.objects.get(message=reply)
    assert (outbound.encoding, outbound.parts) == ("gsm7", 2)
    assert provider.received[0].body["text"] == "€" * 100

    response = signed_post(
        client, "/sms/receipt", {"id": outbound.provider_id, "status": "delivered"}
    )
    assert response.json() == {"status": "recorded"}
    outbound.refresh_from_db()
    assert outbound.state == OutboundSms.State.DELIVERED
    assert Event.objects.filter(verb="sms.delivered").exists()

    response = signed_post(client, "/sms/receipt", {"id": "nobody", "status": "failed"})
    assert response.json() == {"status": "unknown_id"}


def test_a_failed_receipt_marks_the_message_failed(
    client, provider, team, agent, django_capture_on_commit_callbacks
):
    inbound(client, "Bonjour")
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            actor=agent, conversation=Conversation.objects.get(), text="Réponse"
        )
    outbound = OutboundSms.objects.get(message=reply)
    signed_post(
        client,
        "/sms/receipt",
        {"id": outbound.provider_id, "status": "undelivered", "error": "absent"},
    )
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert Event.objects.get(verb="sms.failed").data["error"] == "absent"


def test_temporary_failures_are_retried_then_give_up(
    client, provider, team, agent, settings, django_capture_on_commit_callbacks
):
    settings.SMS_SEND_MAX_ATTEMPTS = 2
    inbound(client, "Bonjour")
    assert outbox_drain() == {"requeued": 0, "sent": 1}  # the acknowledgement
    provider.received.clear()
    provider.script += [(503, b"{}")]
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            actor=agent, conversation=Conversation.objects.get(), text="Réponse"
        )
    outbound = OutboundSms.objects.get(message=reply)
    assert outbound.state == OutboundSms.State.QUEUED and outbound.attempts == 1
    assert "503" in outbound.last_error
    reply.refresh_from_db()  # failed at the first failure, while the outbox keeps trying
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert Event.objects.get(verb="sms.attempt_failed").data["message_id"] == reply.pk
    OutboundSms.objects.filter(pk=outbound.pk).update(next_attempt_at=None)
    assert outbox_drain() == {"requeued": 0, "sent": 1}
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert len(provider.received) == 2
    assert {r.headers["Idempotency-Key"] for r in provider.received} == {
        f"guichet-sms-{outbound.pk}"
    }

    provider.script += [(500, b"{}"), (500, b"{}")]
    with django_capture_on_commit_callbacks(execute=True):
        second = conversation_reply(
            actor=agent, conversation=Conversation.objects.get(), text="Encore"
        )
    OutboundSms.objects.filter(message=second).update(next_attempt_at=None)
    assert outbox_drain()["failed"] == 1
    second.refresh_from_db()
    assert second.delivery_status == Message.DeliveryStatus.FAILED


def test_a_permanent_refusal_fails_at_once(
    client, provider, team, agent, django_capture_on_commit_callbacks
):
    inbound(client, "Bonjour")
    provider.script += [(400, b"{}")]
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            actor=agent, conversation=Conversation.objects.get(), text="Réponse"
        )
    assert OutboundSms.objects.get(message=reply).state == OutboundSms.State.FAILED


def test_a_reply_too_long_for_sms_is_refused_with_a_reason(
    client, provider, team, agent, settings, django_capture_on_commit_callbacks
):
    settings.SMS_MAX_PARTS = 2
    inbound(client, "Bonjour")
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            actor=agent, conversation=Conversation.objects.get(), text="ê" * 135
        )
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert Event.objects.get(verb="sms.blocked").data["reason"] == "too_long"


def test_the_reply_without_any_phone_number_is_blocked(
    agent, ingest, django_capture_on_commit_callbacks
):
    result = ingest()  # an email customer
    Conversation.objects.filter(pk=result.conversation.pk).update(channel="sms")
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            actor=agent, conversation=Conversation.objects.get(), text="Réponse"
        )
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert Event.objects.get(verb="sms.blocked").data["reason"] == "no_number"


def test_no_sms_acknowledgement_when_another_channel_acknowledged_recently(ingest, provider):
    from guichet.channels.acknowledgements import acknowledgement_record
    from guichet.channels.sms.services import sms_acknowledge

    conversation = ingest(channel="chat", sender_kind="phone", sender="+33612345678").conversation
    acknowledgement_record(conversation=conversation, channel="chat")
    assert sms_acknowledge(conversation=conversation, number=NUMBER) is None
    skipped = Event.objects.get(verb="sms.acknowledgement_skipped")
    assert skipped.data["reason"] == "recent_acknowledgement"
    assert not OutboundSms.objects.exists()
