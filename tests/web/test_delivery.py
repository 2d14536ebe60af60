"""Delivery truth in the agent interface: the reply box says what works, each reply shows its
delivery state, a failed one shows a badge, the inbox filters on it, supervisors see the outbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guichet.accounts.models import User
from guichet.channels.email import outbound
from guichet.channels.email.models import OutboundEmail
from guichet.channels.sms.models import OutboundSms
from guichet.conversations import services
from guichet.conversations.models import Conversation, Message
from guichet.conversations.senders import senders_suspended
from guichet.conversations.types import IngestResult


@pytest.fixture(autouse=True)
def _no_sending(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _failed_reply(agent: User, ingest: Callable[..., IngestResult]) -> Conversation:
    """An e-mail conversation whose customer has no address: the reply fails at once."""
    conversation = ingest(channel="email", sender_kind="phone", sender="+33612345678").conversation
    services.conversation_reply(actor=agent, conversation=conversation, text="Réponse")
    return conversation


def test_the_reply_box_of_a_counter_visitor_says_what_works(
    ingest: Callable[..., IngestResult], agent: User, login: Callable[[User], Any]
) -> None:
    conversation = ingest(channel="counter", sender_kind="chat", sender="visit-1").conversation
    body = login(agent).get(f"/c/{conversation.number}/").content.decode()
    assert "This conversation came in at the counter: a written reply cannot be sent" in body
    assert "Log a call with the customer" in body
    assert 'id="reply_text"' not in body and "Send reply" not in body
    assert 'id="note_text"' in body  # notes still work


def test_the_reply_box_offers_each_way_that_works(
    ingest: Callable[..., IngestResult], agent: User, login: Callable[[User], Any]
) -> None:
    conversation = ingest(channel="phone", sender_kind="phone", sender="0612345678").conversation
    services.customer_identity_add(
        actor=agent, customer=conversation.customer, kind="email", value="client@example.org"
    )
    client = login(agent)
    body = client.get(f"/c/{conversation.number}/").content.decode()
    assert "Send by" in body
    assert 'value="email" checked' in body and "(client@example.org)" in body
    assert 'value="sms"' in body and "(+33612345678)" in body
    response = client.post(f"/c/{conversation.number}/reply", {"text": "SMS", "channel": "sms"})
    assert response.status_code == 302
    message = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert message.channel == "sms" and OutboundSms.objects.filter(message=message).exists()
    response = client.post(f"/c/{conversation.number}/reply", {"text": "X", "channel": "counter"})
    assert response.status_code == 400


def test_a_failed_reply_shows_its_reason_a_badge_and_retry(
    ingest: Callable[..., IngestResult], agent: User, login: Callable[[User], Any]
) -> None:
    conversation = _failed_reply(agent, ingest)
    body = login(agent).get(f"/c/{conversation.number}/").content.decode()
    assert 'class="badge delivery-failed"' in body
    assert "Delivery failed: no e-mail address for this customer" in body
    # No outbox row: nothing to retry (a new address is needed).
    assert "Retry now" not in body


def test_retry_now_on_a_failed_email(
    ingest: Callable[..., IngestResult],
    agent: User,
    outsider: User,
    login: Callable[[User], Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    conversation = ingest().conversation
    message = services.conversation_reply(actor=agent, conversation=conversation, text="Voilà")
    row = OutboundEmail.objects.get(message=message)
    OutboundEmail.objects.filter(pk=row.pk).update(
        state="failed", attempts=5, last_error="SMTPDataError: (554, b'Rejected')"
    )
    Message.objects.filter(pk=message.pk).update(delivery_status="failed")
    client = login(agent)
    body = client.get(f"/c/{conversation.number}/").content.decode()
    assert "Delivery failed: the mail server refused: (554, b&#x27;Rejected&#x27;)" in body
    assert "Retry now" in body
    url = f"/c/{conversation.number}/messages/{message.pk}/retry"
    assert login(outsider).post(url).status_code == 404
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
        assert response.status_code == 302
        outbound.outbox_drain()  # the worker (already done when tasks run immediately)
    row.refresh_from_db()
    message.refresh_from_db()
    assert row.state == "sent" and message.delivery_status == "sent"


def test_the_inbox_filters_and_marks_failed_deliveries(
    ingest: Callable[..., IngestResult], agent: User, login: Callable[[User], Any]
) -> None:
    failed = _failed_reply(agent, ingest)
    fine = ingest(sender="autre@example.org").conversation
    services.conversation_reply(actor=agent, conversation=fine, text="Bien reçu")
    client = login(agent)
    body = client.get("/?view=mine").content.decode()
    assert "Delivery failed" in body and body.count('class="badge delivery-failed"') == 1
    body = client.get("/?view=mine&failed=1").content.decode()
    assert f'href="/c/{failed.number}/"' in body
    assert f'href="/c/{fine.number}/"' not in body
    assert client.get("/?failed=2").status_code == 400


def test_the_timeline_reads_deliveries_in_constant_queries(
    ingest: Callable[..., IngestResult], agent: User, login: Callable[[User], Any]
) -> None:
    conversation = ingest().conversation
    client = login(agent)
    services.conversation_reply(actor=agent, conversation=conversation, text="Un")
    with CaptureQueriesContext(connection) as one:
        client.get(f"/c/{conversation.number}/")
    for text in ("Deux", "Trois", "Quatre"):
        services.conversation_reply(actor=agent, conversation=conversation, text=text)
    with CaptureQueriesContext(connection) as four:
        body = client.get(f"/c/{conversation.number}/").content.decode()
    assert body.count("Queued for sending to client@example.org") == 4
    assert len(four) == len(one)


@pytest.mark.parametrize(
    ("who", "status"), [("agent", 404), ("supervisor", 200), ("admin_user", 200)]
)
def test_the_outbox_is_for_supervisors(
    who: str,
    status: int,
    request: pytest.FixtureRequest,
    ingest: Callable[..., IngestResult],
    agent: User,
    login: Callable[[User], Any],
) -> None:
    conversation = ingest().conversation
    message = services.conversation_reply(actor=agent, conversation=conversation, text="Voilà")
    row = OutboundEmail.objects.get(message=message)
    OutboundEmail.objects.filter(pk=row.pk).update(
        state="failed", attempts=5, last_error="SMTPDataError: (554, b'Rejected')"
    )
    user = request.getfixturevalue(who)
    client = login(user)
    response = client.get("/outbox/")
    assert response.status_code == status
    retry = client.post(f"/outbox/email/{row.pk}/retry")
    if status == 404:
        assert retry.status_code == 404
        assert 'href="/outbox/"' not in client.get("/").content.decode()
        return
    body = response.content.decode()
    assert f'href="/c/{conversation.number}/"' in body and "client@example.org" in body
    assert "the mail server refused" in body and "5 / " in body and "Retry now" in body
    assert 'href="/outbox/"' in client.get("/").content.decode()
    assert retry.status_code == 302
    row.refresh_from_db()
    assert row.state in ("queued", "sent")
    assert client.get("/outbox/?page=0").status_code == 400
    assert client.post("/outbox/sms/999999/retry").status_code == 404


def test_a_reply_stored_without_a_sender_says_it_was_not_sent(
    ingest: Callable[..., IngestResult], agent: User, login: Callable[[User], Any]
) -> None:
    conversation = ingest(channel="counter", sender_kind="chat", sender="visit-2").conversation
    with senders_suspended():  # history, as the demo data records it
        services.conversation_reply(actor=agent, conversation=conversation, text="Vu")
    body = login(agent).get(f"/c/{conversation.number}/").content.decode()
    assert "Not sent: cannot be sent on this channel" in body


def test_retry_now_on_a_failed_sms(
    ingest: Callable[..., IngestResult], agent: User, supervisor: User, login: Callable[[User], Any]
) -> None:
    conversation = ingest(channel="sms", sender_kind="phone", sender="0612345678").conversation
    message = services.conversation_reply(actor=agent, conversation=conversation, text="Voilà")
    row = OutboundSms.objects.get(message=message)
    OutboundSms.objects.filter(pk=row.pk).update(state="failed", attempts=3, last_error="refused")
    Message.objects.filter(pk=message.pk).update(delivery_status="failed")
    client = login(supervisor)
    assert client.post(f"/outbox/sms/{row.pk}/retry").status_code == 302
    row.refresh_from_db()
    assert row.state in ("queued", "sent") and row.attempts <= 1
    message.refresh_from_db()
    assert message.delivery_status in ("queued", "sent")
    assert conversation.events.filter(verb="sms.retry_requested", actor=supervisor).exists()
    # Once it has left, it is no longer in the outbox: nothing to send again.
    OutboundSms.objects.filter(pk=row.pk).update(state="sent")
    assert client.post(f"/outbox/sms/{row.pk}/retry").status_code in (302, 404, 409)
    assert conversation.events.filter(verb="sms.retry_requested").count() == 1
