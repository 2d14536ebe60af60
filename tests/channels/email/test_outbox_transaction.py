"""A reply is never silently unsent (issue 12, point 11).

The outbox row of an agent's reply is written in the reply's own transaction (a crash loses both
or neither), only the send waits for the commit, a failing sender leaves the reply saved and
failed, and a sweep queues any queued reply that has no outbox row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from guichet.accounts.models import Team, User
from guichet.channels.email import outbound
from guichet.channels.email.models import Mailbox, OutboundEmail
from guichet.channels.email.selectors import mail_status
from guichet.conversations.models import Conversation, Event, Message, Status
from guichet.conversations.senders import register_sender, senders_suspended
from guichet.conversations.services import conversation_reply
from guichet.conversations.types import IngestResult
from tests.channels.email.inbound_support import make_mailbox

State = OutboundEmail.State


@pytest.fixture
def mailbox(team: Team) -> Mailbox:
    return make_mailbox("cartes@banque.test", team=team)


class _Abort(Exception):
    pass


def test_the_outbox_row_is_written_before_the_reply_commits(
    mailbox: Mailbox,
    agent: User,
    ingest: Callable[..., IngestResult],
    django_capture_on_commit_callbacks: Any,
) -> None:
    conversation = ingest().conversation
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        message = conversation_reply(actor=agent, conversation=conversation, text="C'est réglé.")
        # Still inside the reply's transaction: the outbox row is there already, unsent.
        row = OutboundEmail.objects.filter(message=message).first()
        assert row is not None
        assert row.state == State.QUEUED and row.attempts == 0
        assert row.to_address == "client@example.org"
        assert Message.objects.get(pk=message.pk).external_id == row.message_id_header
        assert not mail.outbox
    # Only the send waits for the commit.
    assert callbacks and not mail.outbox
    for callback in callbacks:
        callback()
    row.refresh_from_db()
    assert row.state == State.SENT and len(mail.outbox) == 1
    assert Message.objects.get(pk=message.pk).delivery_status == Message.DeliveryStatus.SENT


def test_a_rolled_back_reply_leaves_no_outbox_row_and_sends_nothing(
    mailbox: Mailbox,
    agent: User,
    ingest: Callable[..., IngestResult],
    django_capture_on_commit_callbacks: Any,
) -> None:
    conversation = ingest().conversation
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(_Abort),
        transaction.atomic(),
    ):
        message = conversation_reply(actor=agent, conversation=conversation, text="Oui.")
        assert OutboundEmail.objects.filter(message=message).exists()
        raise _Abort  # what a crash before the commit amounts to
    assert callbacks == []
    assert not Message.objects.filter(pk=message.pk).exists()
    assert not OutboundEmail.objects.exists()
    assert not Event.objects.filter(verb="message.sent").exists()
    assert not mail.outbox


def _stranded_reply(agent: User, conversation: Conversation, *, age: timedelta) -> Message:
    """A reply left "queued" with no outbox row, as a crash between the reply's commit and its
    old after-commit sender left it."""
    with senders_suspended():
        message = conversation_reply(actor=agent, conversation=conversation, text="Bonjour.")
    Message.objects.filter(pk=message.pk).update(
        delivery_status=Message.DeliveryStatus.QUEUED, created_at=timezone.now() - age
    )
    return message


def test_the_sweep_queues_a_queued_reply_without_an_outbox_row(
    mailbox: Mailbox,
    agent: User,
    ingest: Callable[..., IngestResult],
    django_capture_on_commit_callbacks: Any,
) -> None:
    stranded = _stranded_reply(
        agent, ingest(sender="a@example.org").conversation, age=timedelta(minutes=30)
    )
    # Too recent to be called stranded: left alone (the sweep reports old leftovers only).
    recent = _stranded_reply(agent, ingest(sender="b@example.org").conversation, age=timedelta(0))
    assert mail_status()["unsent_replies"] == 1
    out = StringIO()
    call_command("mail_status", stdout=out)
    assert "1 replies queued without an outbox row" in out.getvalue()

    with django_capture_on_commit_callbacks(execute=True):
        counts = outbound.outbox_drain()
    assert counts["unsent"] == 1 and counts[State.SENT] == 1
    row = OutboundEmail.objects.get(message=stranded)
    assert row.state == State.SENT and row.to_address == "a@example.org"
    assert [m.to for m in mail.outbox] == [["a@example.org"]]  # once, not again by the task
    stranded.refresh_from_db()
    assert stranded.delivery_status == Message.DeliveryStatus.SENT
    assert stranded.external_id == row.message_id_header
    assert not OutboundEmail.objects.filter(message=recent).exists()
    assert mail_status()["unsent_replies"] == 0
    assert outbound.outbox_sweep_unsent() == 0

    out = StringIO()
    call_command("mail_status", stdout=out)
    assert "without an outbox row" not in out.getvalue()


def test_the_outbox_drain_command_runs_the_sweep(
    mailbox: Mailbox, agent: User, ingest: Callable[..., IngestResult]
) -> None:
    stranded = _stranded_reply(agent, ingest().conversation, age=timedelta(minutes=10))
    call_command("outbox_drain", verbosity=0)
    assert OutboundEmail.objects.get(message=stranded).state == State.SENT
    assert len(mail.outbox) == 1


def test_the_sweep_fails_what_it_cannot_queue_with_the_reason_on_the_timeline(
    mailbox: Mailbox, agent: User, ingest: Callable[..., IngestResult], monkeypatch: Any
) -> None:
    no_address = _stranded_reply(
        agent,
        ingest(channel="email", sender_kind="phone", sender="+33612345678").conversation,
        age=timedelta(hours=1),
    )
    assert outbound.outbox_sweep_unsent() == 1
    no_address.refresh_from_db()
    assert no_address.delivery_status == Message.DeliveryStatus.FAILED
    event = Event.objects.get(verb="email.failed", conversation=no_address.conversation)
    assert event.data == {"message_id": no_address.pk, "reason": "no_address"}

    broken = _stranded_reply(agent, ingest().conversation, age=timedelta(hours=1))

    def refuse(*, message: Message) -> OutboundEmail:
        OutboundEmail.objects.create(  # written, then rolled back with the error
            kind=OutboundEmail.Kind.REPLY,
            conversation_id=message.conversation_id,
            message=message,
            message_id_header="half-written@banque.test",
            to_address="client@example.org",
        )
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(outbound, "outbound_queue_reply", refuse)
    assert outbound.outbox_sweep_unsent() == 1
    broken.refresh_from_db()
    assert broken.delivery_status == Message.DeliveryStatus.FAILED
    assert not OutboundEmail.objects.filter(message=broken).exists()
    event = Event.objects.get(verb="email.failed", conversation=broken.conversation)
    assert event.data["reason"] == "queue_error"
    assert outbound.outbox_sweep_unsent() == 0  # failed is final: not swept again


def test_a_sender_that_raises_leaves_the_reply_saved_and_failed(
    mailbox: Mailbox,
    agent: User,
    ingest: Callable[..., IngestResult],
    django_capture_on_commit_callbacks: Any,
) -> None:
    conversation = ingest().conversation

    def broken(message: Message) -> None:
        outbound.outbound_queue_reply(message=message)  # rolled back with the error
        raise RuntimeError("sender bug")

    with senders_suspended():  # restores the real senders afterwards
        register_sender("email", broken)
        with django_capture_on_commit_callbacks(execute=True):
            message = conversation_reply(actor=agent, conversation=conversation, text="Voilà.")
    assert message.delivery_status == Message.DeliveryStatus.FAILED
    message.refresh_from_db()
    assert message.text == "Voilà."
    assert message.delivery_status == Message.DeliveryStatus.FAILED
    assert not OutboundEmail.objects.exists()
    assert not mail.outbox
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN and conversation.first_human_response_at is not None
    assert Event.objects.filter(verb="message.sent", conversation=conversation).exists()
    event = Event.objects.get(verb="message.delivery_failed", conversation=conversation)
    assert event.data == {
        "message_id": message.pk,
        "channel": "email",
        "reason": "sender_error",
        "error": "RuntimeError",
    }
    assert outbound.outbox_sweep_unsent(older_than=timedelta(0)) == 0  # failed, not stranded
