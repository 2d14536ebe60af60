"""The outbox: replies go out once, with the right headers, and retry with the same Message-ID.

RELIABILITY T01.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from guichet.accounts.models import Team, User
from guichet.channels.email import outbound
from guichet.channels.email.models import Mailbox, OutboundEmail
from guichet.channels.email.services import email_process, email_receive
from guichet.conversations.models import Event, Message
from guichet.conversations.senders import senders_suspended
from guichet.conversations.services import conversation_reply
from guichet.conversations.types import IngestResult
from tests.channels.email.inbound_support import make_mailbox, raw_email
from tests.channels.email.outbound_support import SmtpSink, free_port, smtp_sink

__all__ = ["smtp_sink"]

State = OutboundEmail.State


@pytest.fixture
def mailbox(team: Team) -> Mailbox:
    return make_mailbox("cartes@banque.test", team=team)


def _reply(
    agent: User, result: IngestResult, capture: Any, text: str = "Bonjour,\n\nC\u2019est réglé."
) -> Message:
    with capture(execute=True):
        return conversation_reply(actor=agent, conversation=result.conversation, text=text)


@pytest.mark.django_db(transaction=True)
def test_reply_goes_out_with_headers_and_both_parts(
    smtp_sink: SmtpSink, team: Team, agent: User
) -> None:
    mailbox = make_mailbox("cartes@banque.test", team=team)
    Mailbox.objects.filter(pk=mailbox.pk).update(auto_acknowledge=False)
    row = email_process(
        email_receive(
            raw=raw_email(message_id="<demande-1@example.org>", subject="Carte bloquée"),
            mailbox=mailbox,
            source="smtp",
        )
    )
    assert row.message is not None
    conversation = row.message.conversation
    message = conversation_reply(
        actor=agent,
        conversation=conversation,
        text="Bonjour Claire,\n\nVotre carte est débloquée.\nÀ bientôt <Alice> & co",
    )

    assert len(smtp_sink.delivered) == 1
    delivery = smtp_sink.delivered[0]
    mail = delivery.message
    sent = OutboundEmail.objects.get(message=message)
    assert sent.state == State.SENT and sent.attempts == 1 and sent.sent_at is not None
    assert delivery.rcpt_tos == ["claire@example.org"]
    assert delivery.mail_from == "cartes@banque.test"
    assert mail["From"].addresses[0].display_name == "Alice Martin (Cartes)"
    assert mail["From"].addresses[0].addr_spec == "cartes@banque.test"
    assert str(mail["To"]) == "claire@example.org"
    assert str(mail["Subject"]) == f"Re: Carte bloquée [#{conversation.number}]"
    assert str(mail["Message-ID"]) == f"<{sent.message_id_header}>"
    assert sent.message_id_header.endswith("@banque.test")
    assert str(mail["In-Reply-To"]) == "<demande-1@example.org>"
    assert str(mail["References"]) == "<demande-1@example.org>"
    assert mail["Auto-Submitted"] is None  # a person wrote this
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert "Votre carte est débloquée.\nÀ bientôt <Alice> & co" in text.get_content().replace(
        "\r\n", "\n"
    )
    html_content = html.get_content()
    assert "<p>Bonjour Claire,</p>" in html_content
    assert "À bientôt &lt;Alice&gt; &amp; co" in html_content
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.SENT
    # The customer's answer will quote this id: it threads back to the conversation.
    assert message.external_id == sent.message_id_header
    event = Event.objects.get(conversation=conversation, verb="email.sent")
    assert event.data["message_id_header"] == sent.message_id_header


def test_reply_subject_does_not_pile_up() -> None:
    assert outbound.reply_subject("Carte bloquée", 7) == "Re: Carte bloquée [#7]"
    assert outbound.reply_subject("RE: Re: TR: Carte [#7]", 7) == "Re: Carte [#7]"
    assert outbound.reply_subject("", 7) == "Re: [#7]"


def test_queueing_is_idempotent_per_message(
    mailbox: Mailbox, agent: User, ingest: Callable[..., IngestResult]
) -> None:
    result = ingest()
    with senders_suspended():
        message = conversation_reply(actor=agent, conversation=result.conversation, text="Oui.")
    first = outbound.outbound_queue_reply(message=message)
    second = outbound.outbound_queue_reply(message=message)
    assert first is not None and second is not None and first.pk == second.pk
    assert OutboundEmail.objects.filter(message=message).count() == 1
    assert first.mailbox == mailbox and first.to_address == "client@example.org"


def test_no_address_marks_the_reply_failed(
    agent: User, ingest: Callable[..., IngestResult], django_capture_on_commit_callbacks: Any
) -> None:
    result = ingest(channel="email", sender_kind="phone", sender="+33612345678")
    message = _reply(agent, result, django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.FAILED
    assert not OutboundEmail.objects.exists()
    event = Event.objects.get(verb="email.failed")
    assert event.data["reason"] == "no_address"


def test_temporary_failures_retry_with_backoff_same_id_then_fail(
    smtp_sink: SmtpSink,
    settings: Any,
    mailbox: Mailbox,
    agent: User,
    ingest: Callable[..., IngestResult],
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.EMAIL_SEND_MAX_ATTEMPTS = 3
    smtp_sink.reply = "451 4.3.0 Try again later"
    result = ingest(external_id="premier@example.org")
    message = _reply(agent, result, django_capture_on_commit_callbacks)
    row = OutboundEmail.objects.get(message=message)
    assert row.state == State.QUEUED and row.attempts == 1 and "451" in row.last_error
    assert row.next_attempt_at is not None
    wait = row.next_attempt_at - timezone.now()
    assert timedelta(seconds=50) < wait <= timedelta(minutes=1)

    assert outbound.outbox_drain() == {"requeued": 0}  # not due yet: nothing is sent
    counts = outbound.outbox_drain(now=row.next_attempt_at)
    assert counts == {"requeued": 0, State.QUEUED: 1}
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.next_attempt_at is not None
    wait = row.next_attempt_at - timezone.now()
    assert timedelta(seconds=110) < wait <= timedelta(minutes=2)  # doubled

    with django_capture_on_commit_callbacks(execute=True):
        outbound.outbox_drain(now=row.next_attempt_at)
    row.refresh_from_db()
    assert row.state == State.FAILED and row.attempts == 3
    ids = {str(_parse(raw)["Message-ID"]) for raw in smtp_sink.refused}
    assert len(smtp_sink.refused) == 3 and ids == {f"<{row.message_id_header}>"}
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.FAILED
    event = Event.objects.get(verb="email.failed")
    assert event.data["attempts"] == 3 and "451" in event.data["error"]
    assert not event.data["permanent"]


def test_connection_refused_is_retried_then_sent(
    smtp_sink: SmtpSink,
    settings: Any,
    mailbox: Mailbox,
    agent: User,
    ingest: Callable[..., IngestResult],
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.EMAIL_PORT = free_port()  # nothing listens there
    message = _reply(agent, ingest(), django_capture_on_commit_callbacks)
    row = OutboundEmail.objects.get(message=message)
    assert row.state == State.QUEUED and "Connection refused" in row.last_error
    settings.EMAIL_PORT = smtp_sink.port
    with django_capture_on_commit_callbacks(execute=True):
        counts = outbound.outbox_drain(now=timezone.now() + timedelta(minutes=5))
    assert counts[State.SENT] == 1
    assert smtp_sink.message_ids() == [f"<{row.message_id_header}>"]
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.SENT


def test_permanent_refusal_fails_at_once(
    smtp_sink: SmtpSink,
    mailbox: Mailbox,
    agent: User,
    ingest: Callable[..., IngestResult],
    django_capture_on_commit_callbacks: Any,
) -> None:
    smtp_sink.reply = "554 5.7.1 Rejected"
    message = _reply(agent, ingest(), django_capture_on_commit_callbacks)
    row = OutboundEmail.objects.get(message=message)
    assert row.state == State.FAILED and row.attempts == 1
    assert Event.objects.get(verb="email.failed").data["permanent"] is True


def test_worker_killed_mid_send_is_requeued_and_resent_with_same_id(
    smtp_sink: SmtpSink,
    monkeypatch: Any,
    mailbox: Mailbox,
    agent: User,
    ingest: Callable[..., IngestResult],
    django_capture_on_commit_callbacks: Any,
) -> None:
    real_compose = outbound.outbound_compose

    def killed(_row: OutboundEmail) -> Any:
        raise KeyboardInterrupt  # like SIGKILL: nothing after the claim runs

    monkeypatch.setattr(outbound, "outbound_compose", killed)
    with pytest.raises(KeyboardInterrupt):
        _reply(agent, ingest(), django_capture_on_commit_callbacks)
    row = OutboundEmail.objects.get()
    assert row.state == State.SENDING and row.attempts == 1
    monkeypatch.setattr(outbound, "outbound_compose", real_compose)

    # A fresh "sending" row may be a slow send in progress: the sweep leaves it alone.
    assert outbound.outbox_drain() == {"requeued": 0}
    assert smtp_sink.delivered == []
    # Older than the threshold: abandoned, put back and sent, with the same Message-ID.
    with django_capture_on_commit_callbacks(execute=True):
        counts = outbound.outbox_drain(stale_after=timedelta(0))
    assert counts == {"requeued": 1, State.SENT: 1}
    row.refresh_from_db()
    assert row.state == State.SENT and row.attempts == 2
    assert smtp_sink.message_ids() == [f"<{row.message_id_header}>"]


def test_sweep_fails_a_row_that_kills_every_attempt(
    settings: Any, mailbox: Mailbox, agent: User, ingest: Callable[..., IngestResult]
) -> None:
    settings.EMAIL_SEND_MAX_ATTEMPTS = 2
    with senders_suspended():
        message = conversation_reply(actor=agent, conversation=ingest().conversation, text="Oui.")
    row = outbound.outbound_queue_reply(message=message)
    assert row is not None
    OutboundEmail.objects.filter(pk=row.pk).update(
        state=State.SENDING, attempts=2, next_attempt_at=timezone.now() - timedelta(hours=1)
    )
    assert outbound.outbox_requeue_stale(older_than=timedelta(minutes=10)) == 0
    row.refresh_from_db()
    assert row.state == State.FAILED
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.FAILED


def test_a_deleted_reply_is_never_sent_as_something_else(
    smtp_sink: SmtpSink, mailbox: Mailbox, agent: User, ingest: Callable[..., IngestResult]
) -> None:
    with senders_suspended():
        message = conversation_reply(actor=agent, conversation=ingest().conversation, text="Oui.")
    row = outbound.outbound_queue_reply(message=message)
    assert row is not None
    message.delete()
    assert outbound.outbound_send(outbound_id=row.pk) == State.FAILED
    assert smtp_sink.delivered == []


def test_outbox_drain_command_sends_due_rows(
    smtp_sink: SmtpSink, mailbox: Mailbox, agent: User, ingest: Callable[..., IngestResult]
) -> None:
    with senders_suspended():
        message = conversation_reply(actor=agent, conversation=ingest().conversation, text="Oui.")
    row = outbound.outbound_queue_reply(message=message)
    assert row is not None
    call_command("outbox_drain", verbosity=0)
    row.refresh_from_db()
    assert row.state == State.SENT
    assert smtp_sink.message_ids() == [f"<{row.message_id_header}>"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_send_each_row_once(
    smtp_sink: SmtpSink, team: Team, agent: User, ingest: Callable[..., IngestResult]
) -> None:
    make_mailbox("cartes@banque.test", team=team)
    rows = []
    with senders_suspended():
        for n in range(12):
            result = ingest(sender=f"client{n}@example.org")
            message = conversation_reply(actor=agent, conversation=result.conversation, text="Ok")
            rows.append(outbound.outbound_queue_reply(message=message))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            barrier.wait()
            outbound.outbox_drain()
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    ids = smtp_sink.message_ids()
    assert sorted(ids) == sorted(f"<{row.message_id_header}>" for row in rows if row)
    assert OutboundEmail.objects.filter(state=State.SENT).count() == 12
    assert Event.objects.filter(verb="email.sent").count() == 12


def _parse(raw: bytes) -> Any:
    import email
    from email.policy import default

    return email.message_from_bytes(raw, policy=default)


pytestmark = pytest.mark.django_db
