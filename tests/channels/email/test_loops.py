"""No loops (RFC 3834, RELIABILITY E01/E02): every rule that stops an acknowledgement, and two
Guichet mailboxes that acknowledge each other stop within two messages."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from guichet.accounts.models import Team
from guichet.channels.email import acknowledgement, parser, services
from guichet.channels.email.models import InboundEmail, Mailbox, OutboundEmail
from guichet.channels.email.outbound import acknowledge_after_ingest
from guichet.conversations.models import Event
from guichet.conversations.services import message_ingest
from guichet.conversations.types import IngestResult
from tests.channels.email.inbound_support import make_mailbox, raw_email
from tests.channels.email.outbound_support import SmtpSink, smtp_sink

__all__ = ["smtp_sink"]

ACK = OutboundEmail.Kind.ACKNOWLEDGEMENT


@pytest.fixture
def mailbox(team: Team) -> Mailbox:
    return make_mailbox("cartes@banque.test", team=team)


Deliver = Callable[..., tuple[OutboundEmail | None, IngestResult]]


@pytest.fixture
def deliver(mailbox: Mailbox) -> Deliver:
    """Parse, ingest and call the hook as the inbound path does (no SMTP: fast rule tests)."""

    def _deliver(
        raw: bytes, *, target: Mailbox | None = None, **replace: Any
    ) -> tuple[OutboundEmail | None, IngestResult]:
        box = target or mailbox
        parsed = parser.parse_email(raw, max_attachment_bytes=10**7)
        digest = hashlib.sha256(raw).hexdigest()
        row = InboundEmail.objects.create(
            mailbox=box,
            source=InboundEmail.Source.SMTP,
            dedupe_key=parsed.message_id or digest,
            raw=raw,
            raw_sha256=digest,
            raw_size=len(raw),
        )
        result = message_ingest(parser.to_inbound(parsed, raw_ref="test", team_id=box.team_id))
        # `replace` changes what the hook sees (e.g. a sender the parser would refuse).
        seen = dataclasses.replace(parsed, **replace) if replace else parsed
        return acknowledge_after_ingest(row, seen, result), result

    return _deliver


def _skipped(result: IngestResult) -> str:
    event = Event.objects.get(
        conversation=result.conversation, verb="email.acknowledgement_skipped"
    )
    return str(event.data["reason"])


pytestmark = pytest.mark.django_db


def test_a_person_gets_one_acknowledgement(deliver: Deliver) -> None:
    ack, result = deliver(raw_email(headers={"Auto-Submitted": "no"}))
    assert ack is not None and ack.kind == ACK and ack.to_address == "claire@example.org"
    assert ack.conversation == result.conversation


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, None, "auto-submitted"),
        ({"Auto-Submitted": "auto-generated"}, None, "auto-submitted"),
        ({"Precedence": "bulk"}, None, "precedence"),
        ({"Precedence": "junk"}, None, "precedence"),
        ({"Precedence": "list"}, None, "precedence"),
        ({"List-Id": "<annonces.example.org>"}, None, "list"),
        ({"Return-Path": "<>"}, None, "empty-return-path"),
        ({}, "MAILER-DAEMON@mx.example.org", "mailer-daemon"),
        ({"X-Autoreply": "yes"}, None, "x-autoreply"),
    ],
)
def test_no_acknowledgement_to_automatic_mail(
    deliver: Deliver, headers: dict[str, str], sender: str | None, reason: str
) -> None:
    raw = raw_email(headers=headers, **({"sender": sender} if sender else {}))
    ack, result = deliver(raw)
    assert ack is None and not OutboundEmail.objects.exists()
    assert _skipped(result) == f"auto_submitted:{reason}"


def test_no_acknowledgement_without_sender(deliver: Deliver) -> None:
    ack, result = deliver(raw_email(), from_address="")
    assert ack is None and _skipped(result) == "no_sender"


@pytest.mark.parametrize(
    "sender", ["cartes@banque.test", "Guichet <CARTES@banque.test>", "jean.dupont@banque.test"]
)
def test_no_acknowledgement_to_our_own_addresses_or_domains(deliver: Deliver, sender: str) -> None:
    ack, result = deliver(raw_email(sender=sender))
    assert ack is None and _skipped(result) == "own_address"


def test_no_acknowledgement_to_another_mailbox_of_ours(deliver: Deliver, team: Team) -> None:
    make_mailbox("credits@autre-banque.test", team=team)
    ack, result = deliver(raw_email(sender="credits@autre-banque.test"))
    assert ack is None and _skipped(result) == "own_address"


def test_once_per_conversation(deliver: Deliver, mailbox: Mailbox) -> None:
    raw = raw_email()
    first, result = deliver(raw)
    assert first is not None
    # Whatever calls the hook again for the same new conversation, no second acknowledgement.
    row = InboundEmail.objects.get()
    parsed = parser.parse_email(raw, max_attachment_bytes=10**7)
    assert acknowledge_after_ingest(row, parsed, result) is None
    assert _skipped(result) == "already_acknowledged"
    assert OutboundEmail.objects.filter(conversation=result.conversation).count() == 1


def test_follow_up_and_duplicates_get_nothing(deliver: Deliver, mailbox: Mailbox) -> None:
    raw = raw_email()
    ack, result = deliver(raw)
    assert ack is not None
    row = InboundEmail.objects.get()
    parsed = parser.parse_email(raw, max_attachment_bytes=10**7)
    duplicate = IngestResult(
        result.conversation, result.message, created=False, conversation_created=False
    )
    assert acknowledge_after_ingest(row, parsed, duplicate) is None
    follow_up = IngestResult(
        result.conversation, result.message, created=True, conversation_created=False
    )
    assert acknowledge_after_ingest(row, parsed, follow_up) is None
    assert OutboundEmail.objects.count() == 1
    assert not Event.objects.filter(verb="email.acknowledgement_skipped").exists()


def test_mailbox_without_acknowledgement(deliver: Deliver, mailbox: Mailbox) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(auto_acknowledge=False)
    mailbox.refresh_from_db()
    ack, _result = deliver(raw_email())
    assert ack is None and not OutboundEmail.objects.exists()


def test_hourly_cap_per_sender_across_conversations(deliver: Deliver, settings: Any) -> None:
    """A helpdesk that neither marks nor threads its "ticket received" mails (E01)."""
    settings.EMAIL_AUTO_REPLY_HOURLY_CAP = 3
    results = [
        deliver(raw_email(sender="Support <support@autre.example>", subject=f"Ticket {n}"))
        for n in range(5)
    ]
    acks = [ack for ack, _result in results if ack is not None]
    assert len(acks) == 3
    assert [_skipped(result) for _ack, result in results[3:]] == ["sender_cap", "sender_cap"]
    # Another sender is not affected; the same sender is answered again an hour later.
    other, _ = deliver(raw_email(sender="paul@example.org"))
    assert other is not None
    OutboundEmail.objects.filter(to_address__iexact="support@autre.example").update(
        created_at=timezone.now() - timedelta(minutes=61)
    )
    again, _ = deliver(raw_email(sender="SUPPORT@autre.example", subject="Ticket 6"))
    assert again is not None


# --- two Guichet mailboxes acknowledging each other, through SMTP and the inbound path -------


@contextmanager
def _as_separate_instance(monkeypatch: Any, mailbox: Mailbox) -> Iterator[None]:
    """Make `mailbox` the only address "we" own, as if the other mailbox ran another Guichet."""
    domain = mailbox.address.rsplit("@", 1)[1]
    with monkeypatch.context() as patch:
        patch.setattr(services, "own_addresses", lambda: {mailbox.address})
        patch.setattr(
            acknowledgement, "own_addresses_and_domains", lambda: ({mailbox.address}, {domain})
        )
        yield


def _exchange(
    sink: SmtpSink,
    first: bytes,
    to: Mailbox,
    mailboxes: dict[str, Mailbox],
    *,
    separate: Callable[[Mailbox], Any] | None = None,
    tamper: Callable[[bytes], bytes] = lambda raw: raw,
) -> int:
    """Deliver `first` to `to`, then every mail sent to a mailbox into it; count messages."""
    pending = [(first, to)]
    exchanged = seen = 0
    while pending and exchanged < 20:
        raw, target = pending.pop(0)
        exchanged += 1
        if separate is not None:
            with separate(target):
                services.email_process(
                    services.email_receive(raw=raw, mailbox=target, source="smtp")
                )
        else:
            services.email_process(services.email_receive(raw=raw, mailbox=target, source="smtp"))
        for delivery in sink.delivered[seen:]:
            for rcpt in delivery.rcpt_tos:
                if rcpt.lower() in mailboxes:
                    pending.append((tamper(delivery.raw), mailboxes[rcpt.lower()]))
        seen = len(sink.delivered)
    return exchanged


@pytest.fixture
def two_mailboxes(team: Team) -> tuple[Mailbox, Mailbox]:
    return (
        make_mailbox("contact@alpha.test", team=team),
        make_mailbox("support@beta.test", team=team),
    )


@pytest.mark.django_db(transaction=True)
def test_two_instances_stop_within_two_messages(
    smtp_sink: SmtpSink, monkeypatch: Any, two_mailboxes: tuple[Mailbox, Mailbox]
) -> None:
    alpha, beta = two_mailboxes
    boxes = {alpha.address: alpha, beta.address: beta}
    first = raw_email(sender=f"Beta <{beta.address}>", to=alpha.address, subject="Bonjour")
    exchanged = _exchange(
        smtp_sink,
        first,
        alpha,
        boxes,
        separate=lambda box: _as_separate_instance(monkeypatch, box),
    )
    assert exchanged == 2  # the first mail and alpha's acknowledgement; beta does not answer
    assert len(smtp_sink.delivered) == 1
    assert str(smtp_sink.delivered[0].message["Auto-Submitted"]) == "auto-generated"
    reasons = list(
        Event.objects.filter(verb="email.acknowledgement_skipped").values_list(
            "data__reason", flat=True
        )
    )
    assert reasons == ["auto_submitted:auto-submitted"]


@pytest.mark.django_db(transaction=True)
def test_even_without_auto_submitted_threading_stops_the_loop(
    smtp_sink: SmtpSink, monkeypatch: Any, two_mailboxes: tuple[Mailbox, Mailbox]
) -> None:
    """A relay that strips Auto-Submitted: the signed Message-ID still threads the answer back
    into the conversation already acknowledged, so nothing new is acknowledged."""
    alpha, beta = two_mailboxes
    boxes = {alpha.address: alpha, beta.address: beta}

    def strip(raw: bytes) -> bytes:
        return re.sub(rb"(?im)^(Auto-Submitted|X-Auto-Response-Suppress):[^\n]*\n", b"", raw)

    first = raw_email(sender=f"Beta <{beta.address}>", to=alpha.address, subject="Bonjour")
    exchanged = _exchange(
        smtp_sink,
        first,
        alpha,
        boxes,
        separate=lambda box: _as_separate_instance(monkeypatch, box),
        tamper=strip,
    )
    assert exchanged == 3
    assert OutboundEmail.objects.filter(kind=ACK).count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_mailboxes_of_one_instance_never_answer_each_other(
    smtp_sink: SmtpSink, two_mailboxes: tuple[Mailbox, Mailbox]
) -> None:
    alpha, beta = two_mailboxes
    boxes = {alpha.address: alpha, beta.address: beta}
    first = raw_email(sender=beta.address, to=alpha.address, subject="Bonjour")
    assert _exchange(smtp_sink, first, alpha, boxes) == 1
    assert smtp_sink.delivered == [] and not OutboundEmail.objects.exists()
