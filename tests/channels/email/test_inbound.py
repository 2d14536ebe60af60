"""Inbound email services: store first, then ingest or quarantine (RELIABILITY E02-E05, E09)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError

from guichet.accounts.models import Team
from guichet.channels.email import services
from guichet.channels.email.models import InboundEmail
from guichet.channels.email.outbound import outbound_queue_reply
from guichet.channels.email.services import (
    email_process,
    email_process_pending,
    email_receive,
    email_reprocess,
    email_store,
)
from guichet.channels.email.threading import make_message_id
from guichet.conversations.models import Conversation, Event, Message
from guichet.conversations.services import conversation_reply

from .inbound_support import POISON, make_mailbox, raw_email

pytestmark = pytest.mark.django_db
SMTP = InboundEmail.Source.SMTP


def receive(raw: bytes, mailbox: Any = None) -> InboundEmail:
    return email_process(email_receive(raw=raw, mailbox=mailbox, source=SMTP))


def test_store_keeps_the_raw_bytes_and_is_idempotent_on_message_id(team: Team) -> None:
    mailbox = make_mailbox(team=team)
    raw = raw_email(message_id="<abc@example.org>")
    first = email_store(raw=raw, mailbox=mailbox, source=SMTP)
    # The same message re-delivered with an extra trace header: same Message-ID, new bytes.
    again = email_store(raw=b"Received: from mx2\r\n" + raw, mailbox=mailbox, source=SMTP)
    assert not first.duplicate and again.duplicate
    assert again.inbound_email.pk == first.inbound_email.pk
    row = InboundEmail.objects.get()
    assert bytes(row.raw) == raw and row.raw_size == len(raw)
    assert row.dedupe_key == "mid:abc@example.org" and row.message_id_header == "abc@example.org"
    assert row.duplicates == 1 and row.state == InboundEmail.State.RECEIVED


def test_without_message_id_the_raw_bytes_are_the_key(team: Team) -> None:
    raw = raw_email(message_id=None)
    first = email_receive(raw=raw, mailbox=None, source=SMTP)
    again = email_receive(raw=raw, mailbox=None, source=SMTP)  # no mailbox: NULL is unique too
    other = email_receive(raw=raw + b"\n", mailbox=None, source=SMTP)
    assert first.pk == again.pk != other.pk
    assert first.dedupe_key.startswith("sha256:")
    with pytest.raises(IntegrityError):  # the database refuses it even if a caller skips the check
        InboundEmail.objects.create(
            source=SMTP, dedupe_key=first.dedupe_key, raw=b"", raw_sha256="", raw_size=0
        )


def test_a_new_message_opens_a_conversation_in_the_mailbox_team(
    team: Team, other_team: Team
) -> None:
    mailbox = make_mailbox("credits@banque.test", team=other_team)
    row = receive(raw_email(to="credits@banque.test"), mailbox)
    assert row.state == InboundEmail.State.INGESTED and row.error == ""
    conversation = row.message.conversation
    assert conversation.team == other_team
    assert conversation.subject == "Carte bloquée"
    assert "carte est bloquée" in row.message.text
    assert row.message.source_ref == f"inbound-email:{row.pk}"
    assert receive(raw_email(message_id=None)).message.conversation.team == team  # default team


def test_processing_twice_changes_nothing(team: Team) -> None:
    row = receive(raw_email())
    again = email_process(row)
    assert again.state == InboundEmail.State.INGESTED and again.message_id == row.message_id
    assert Message.objects.count() == 1 and Conversation.objects.count() == 1


def test_one_mail_to_two_mailboxes_opens_one_conversation_in_each(
    team: Team, other_team: Team
) -> None:
    cartes = make_mailbox("cartes@banque.test", team=team)
    credits = make_mailbox("credits@banque.test", team=other_team)
    raw = raw_email(to="cartes@banque.test, credits@banque.test")
    first, second = receive(raw, cartes), receive(raw, credits)
    assert first.pk != second.pk
    assert {first.message.conversation.team, second.message.conversation.team} == {
        team,
        other_team,
    }
    assert receive(raw, cartes).pk == first.pk  # and each stays deduplicated
    assert Conversation.objects.count() == 2


def test_poison_is_quarantined_with_its_raw_bytes_and_the_batch_continues(team: Team) -> None:
    poison = email_receive(raw=POISON, mailbox=None, source=SMTP)
    good = email_receive(raw=raw_email(), mailbox=None, source=SMTP)
    assert email_process_pending() == 2
    poison.refresh_from_db()
    good.refresh_from_db()
    assert poison.state == InboundEmail.State.QUARANTINED and poison.error
    assert bytes(poison.raw) == POISON
    assert good.state == InboundEmail.State.INGESTED


def test_any_exception_while_ingesting_quarantines_with_a_traceback(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(inbound: Any) -> Any:
        raise RuntimeError("database said no")

    monkeypatch.setattr(services, "message_ingest", broken)
    row = receive(raw_email())
    assert row.state == InboundEmail.State.QUARANTINED
    assert "RuntimeError: database said no" in row.error and "Traceback" in row.error
    assert Conversation.objects.count() == 0
    monkeypatch.undo()
    # After the fix, an admin reprocesses it.
    assert email_reprocess(row).state == InboundEmail.State.INGESTED


def test_mail_from_our_own_address_makes_no_conversation(team: Team) -> None:
    mailbox = make_mailbox(team=team)
    make_mailbox("credits@banque.test", team=team)
    row = receive(raw_email(sender="Banque <Credits@Banque.test>"), mailbox)
    assert row.state == InboundEmail.State.IGNORED
    assert "credits@banque.test" in row.error
    assert Conversation.objects.count() == 0


def _first_conversation(team: Team) -> Conversation:
    return receive(raw_email(subject="Carte bloquée")).message.conversation


def test_a_reply_to_our_signed_message_id_joins_the_conversation(team: Team, agent: Any) -> None:
    mailbox = make_mailbox(team=team)
    conversation = receive(raw_email(), mailbox).message.conversation
    reply = conversation_reply(actor=agent, conversation=conversation, text="Nous regardons.")
    queued = outbound_queue_reply(message=reply)  # what the email sender does after commit
    assert queued is not None
    ours = queued.message_id_header.strip("<>")
    # The customer answers: our signed id threads it.
    answer = raw_email(
        subject="Re: x", in_reply_to=f"<{ours}>", references=f"<unrelated@x> <{ours}>"
    )
    assert receive(answer, mailbox).message.conversation == conversation
    # The customer quoting only a signed id (no stored message with it) joins by number.
    signed = make_message_id(conversation_number=conversation.number, domain="banque.test")
    customer = receive(raw_email(subject="Re: x", references=f"<{signed}>"), mailbox)
    assert customer.message.conversation == conversation
    assert Conversation.objects.count() == 1


def test_a_stranger_holding_our_message_id_opens_a_conversation_of_their_own(
    team: Team, agent: Any
) -> None:
    """Issue 12 point 10: a forwarded mail or a shared mailbox gives a stranger one of our genuine
    Message-IDs; their answer must not land in the customer's thread under a name they chose."""
    mailbox = make_mailbox(team=team)
    conversation = receive(raw_email(), mailbox).message.conversation
    reply = conversation_reply(actor=agent, conversation=conversation, text="Nous regardons.")
    queued = outbound_queue_reply(message=reply)
    assert queued is not None
    ours = queued.message_id_header.strip("<>")
    stranger = raw_email(
        sender="Claire Dubois <intrus@example.net>",  # the customer's name, another address
        subject="Re: Carte bloquée",
        in_reply_to=f"<{ours}>",
        references=f"<{ours}>",
        body="Merci de virer le remboursement sur FR76 0000 0000 0000.",
    )
    message = receive(stranger, mailbox).message
    assert message.conversation != conversation
    assert not conversation.messages.filter(text__contains="FR76").exists()
    event = Event.objects.get(verb="email.thread_refused")
    assert event.conversation == message.conversation
    assert event.data == {"number": conversation.number, "from": "intrus@example.net"}
    assert message.conversation.customer.identities.get().value == "intrus@example.net"


def test_a_forged_message_id_or_a_strangers_subject_tag_opens_a_new_conversation(
    team: Team,
) -> None:
    conversation = _first_conversation(team)
    ours = make_message_id(conversation_number=conversation.number, domain="banque.test")
    local, domain = ours.split("@")
    forged = f"{local[:-6]}{'0' * 6}@{domain}"  # a changed digest
    stranger = raw_email(
        sender="mallory@evil.test",
        subject=f"Re: [#{conversation.number}] Carte bloquée",
        in_reply_to=f"<{forged}>",
    )
    row = receive(stranger)
    assert row.message.conversation != conversation
    assert services.thread_hints(_parsed(stranger)).conversation_number is None


def test_a_subject_tag_from_the_customer_joins(team: Team) -> None:
    conversation = _first_conversation(team)
    tagged = raw_email(subject=f"Re: [#{conversation.number}] Carte bloquée")
    row = receive(tagged)
    assert row.message.conversation == conversation
    assert services.thread_hints(_parsed(tagged)).conversation_number == conversation.number


def test_a_follow_up_to_the_customers_own_mail_joins_but_not_from_a_stranger(team: Team) -> None:
    first = receive(raw_email(subject="Carte bloquée", message_id="<claire-1@example.org>"))
    conversation = first.message.conversation
    # "I forgot the attachment": Claire answers her own mail (no acknowledgement in between).
    follow_up = raw_email(
        subject="Re: Carte bloquée",
        message_id="<claire-2@example.org>",
        in_reply_to="<claire-1@example.org>",
    )
    assert receive(follow_up).message.conversation == conversation
    # Someone else quoting Claire's Message-ID (a forwarded thread, a guess) starts afresh.
    stranger = raw_email(
        sender="mallory@evil.test",
        subject="Re: Carte bloquée",
        message_id="<mallory-1@evil.test>",
        references="<claire-1@example.org>",
    )
    row = receive(stranger)
    assert row.message.conversation != conversation
    assert services.thread_hints(_parsed(stranger)).conversation_number is None


def _parsed(raw: bytes) -> Any:
    from guichet.channels.email.parser import parse_email

    return parse_email(raw, max_attachment_bytes=10**6)


def _dsn(original_id: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.banque.test>\r\n"
        "To: cartes@banque.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.banque.test>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.banque.test\r\n\r\n"
        "Final-Recipient: rfc822; claire@example.org\r\nAction: failed\r\n"
        "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <{original_id}>\r\nSubject: Re: Carte\r\n"
        "--B--\r\n"
    ).encode()


def test_a_bounce_is_recorded_on_the_outbound_message_it_bounces(team: Team, agent: Any) -> None:
    mailbox = make_mailbox(team=team)
    conversation = receive(raw_email(), mailbox).message.conversation
    reply = conversation_reply(actor=agent, conversation=conversation, text="Nous regardons.")
    outbound = outbound_queue_reply(message=reply)
    assert outbound is not None
    row = receive(_dsn(outbound.message_id_header.strip("<>")), mailbox)
    assert row.state == InboundEmail.State.BOUNCE
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    bounced = Event.objects.get(conversation=conversation, verb="email.bounced")
    assert bounced.data["outbound_email_id"] == outbound.pk
    assert Conversation.objects.count() == 1  # no conversation for the bounce itself


def test_a_bounce_for_mail_we_never_sent_is_ignored(team: Team) -> None:
    row = receive(_dsn("someone-else@example.com"))
    assert row.state == InboundEmail.State.IGNORED
    assert Conversation.objects.count() == 0
