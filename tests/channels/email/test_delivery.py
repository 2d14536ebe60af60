"""What the agent sees of an e-mail reply's delivery: failed at the first failed attempt (while
the outbox keeps trying), the reason in words, and "Retry now"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from guichet.accounts.models import Team, User
from guichet.channels.email import delivery, outbound
from guichet.channels.email.models import Mailbox, OutboundEmail
from guichet.conversations.models import Event, Message
from guichet.conversations.senders import deliveries
from guichet.conversations.services import conversation_reply
from guichet.conversations.types import IngestResult
from guichet.core.exceptions import Conflict
from tests.channels.email.inbound_support import make_mailbox
from tests.channels.email.outbound_support import SmtpSink, free_port, smtp_sink

__all__ = ["smtp_sink"]

State = OutboundEmail.State


@pytest.fixture
def mailbox(team: Team) -> Mailbox:
    return make_mailbox("cartes@banque.test", team=team)


def _reply(agent: User, result: IngestResult, capture: Any) -> Message:
    with capture(execute=True):
        return conversation_reply(actor=agent, conversation=result.conversation, text="Voilà.")


def test_the_first_failed_attempt_marks_the_reply_failed_while_retrying(
    smtp_sink: SmtpSink,
    settings: Any,
    mailbox: Mailbox,
    agent: User,
    ingest: Callable[..., IngestResult],
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.EMAIL_SEND_MAX_ATTEMPTS = 5
    settings.EMAIL_PORT = free_port()  # nothing listens there
    message = _reply(agent, ingest(), django_capture_on_commit_callbacks)
    row = OutboundEmail.objects.get(message=message)
    assert row.state == State.QUEUED and row.attempts == 1  # the outbox keeps trying
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.FAILED
    event = Event.objects.get(verb="email.attempt_failed")
    assert event.data["message_id"] == message.pk
    assert event.data["error"].startswith("the mail server could not be reached")

    seen = deliveries([message])[message.pk]
    assert seen.state == State.QUEUED and seen.attempts == 1 and seen.max_attempts == 5
    assert seen.next_attempt_at == row.next_attempt_at
    assert seen.reason.startswith("the mail server could not be reached")

    # A later attempt that fails again records nothing more; one that succeeds marks it sent.
    outbound.outbox_drain(now=timezone.now() + timedelta(minutes=5))
    assert Event.objects.filter(verb="email.attempt_failed").count() == 1
    settings.EMAIL_PORT = smtp_sink.port
    with django_capture_on_commit_callbacks(execute=True):
        outbound.outbox_drain(now=timezone.now() + timedelta(minutes=10))
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.SENT
    assert deliveries([message])[message.pk].state == State.SENT


def test_a_refusal_is_told_in_words() -> None:
    refused = "SMTPDataError: (554, b'5.7.1 Rejected')"
    assert delivery.failure_reason(refused) == "the mail server refused: (554, b'5.7.1 Rejected')"
    assert delivery.failure_reason("ConnectionRefusedError: [Errno 111] Connection refused") == (
        "the mail server could not be reached: [Errno 111] Connection refused"
    )


def test_retry_now_sends_a_failed_reply_again(
    smtp_sink: SmtpSink,
    mailbox: Mailbox,
    agent: User,
    ingest: Callable[..., IngestResult],
    django_capture_on_commit_callbacks: Any,
) -> None:
    smtp_sink.reply = "554 5.7.1 Rejected"
    message = _reply(agent, ingest(), django_capture_on_commit_callbacks)
    row = OutboundEmail.objects.get(message=message)
    assert row.state == State.FAILED

    smtp_sink.reply = ""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queued = delivery.outbound_retry_now(outbound_id=row.pk, actor=agent)
    assert queued.state == State.QUEUED and queued.attempts == 0  # a fresh round
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.QUEUED
    assert Event.objects.get(verb="email.retry_requested").actor == agent
    for callback in callbacks:  # the send task, enqueued after commit
        callback()
    row.refresh_from_db()
    assert row.state == State.SENT and len(smtp_sink.delivered) == 1
    message.refresh_from_db()
    assert message.delivery_status == Message.DeliveryStatus.SENT
    with pytest.raises(Conflict):
        delivery.outbound_retry_now(outbound_id=row.pk, actor=agent)
