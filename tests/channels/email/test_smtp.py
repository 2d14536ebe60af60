"""The inbound SMTP/LMTP server, driven by a real SMTP client (smtplib) on loopback (E04)."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DatabaseError

from guichet.accounts.models import Team
from guichet.channels.email import services
from guichet.channels.email import smtp as smtp_module
from guichet.channels.email.models import InboundEmail
from guichet.channels.email.smtp import InboundServer
from guichet.conversations.models import Conversation

from .inbound_support import make_mailbox, raw_email

pytestmark = pytest.mark.django_db(transaction=True)


def _server(lmtp: bool = False, max_size: int = 1_000_000) -> Iterator[InboundServer]:
    server = InboundServer("127.0.0.1", 0, lmtp=lmtp, max_size=max_size)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server(team: Team) -> Iterator[InboundServer]:
    make_mailbox("cartes@banque.test", team=team)
    yield from _server()


def _wait_processed(count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not InboundEmail.objects.filter(state=InboundEmail.State.RECEIVED).exists() and (
            InboundEmail.objects.count() >= count
        ):
            return
        time.sleep(0.05)
    raise AssertionError("the server did not process the messages in time")


def test_mail_for_a_mailbox_is_stored_before_250_then_ingested(
    smtp_server: InboundServer,
) -> None:
    raw = raw_email()
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10) as client:
        refused = client.sendmail("claire@example.org", ["Cartes@Banque.test"], raw)
        assert refused == {}
        # The 250 came back: the row is committed (another connection sees it at once).
        row = InboundEmail.objects.get()
        stored = bytes(row.raw).replace(b"\r\n", b"\n").rstrip()
        # Kept as sent, under the Return-Path a final delivery agent records.
        assert stored == b"Return-Path: <claire@example.org>\n" + raw.rstrip()
        assert row.envelope_from == "claire@example.org"
        assert row.source == InboundEmail.Source.SMTP
    _wait_processed(1)
    assert InboundEmail.objects.get().state == InboundEmail.State.INGESTED
    assert Conversation.objects.count() == 1


def test_unknown_recipients_get_550(smtp_server: InboundServer) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10) as client:
        client.ehlo()
        client.mail("claire@example.org")
        code, reply = client.rcpt("nobody@banque.test")
        assert code == 550 and b"5.1.1" in reply
        client.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("claire@example.org", ["nobody@banque.test"], raw_email())
    assert InboundEmail.objects.count() == 0


def test_a_disabled_mailbox_refuses_mail(team: Team) -> None:
    mailbox = make_mailbox("ferme@banque.test", team=team)
    type(mailbox).objects.filter(pk=mailbox.pk).update(enabled=False)
    for server in _server():
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo()
            client.mail("claire@example.org")
            assert client.rcpt("ferme@banque.test")[0] == 550


def test_451_when_storage_fails_and_the_retry_is_stored(
    smtp_server: InboundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_store = services.email_store

    def failing(**kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr("guichet.channels.email.smtp.email_store", failing)
    raw = raw_email()
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("claire@example.org", ["cartes@banque.test"], raw)
        assert refused.value.smtp_code == 451 and b"4.3.0" in refused.value.smtp_error
    assert InboundEmail.objects.count() == 0
    monkeypatch.setattr("guichet.channels.email.smtp.email_store", real_store)
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10) as client:
        assert client.sendmail("claire@example.org", ["cartes@banque.test"], raw) == {}
    _wait_processed(1)
    assert Conversation.objects.count() == 1


def test_a_database_error_gives_451(
    smtp_server: InboundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    def broken_create(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("database is locked")

    monkeypatch.setattr(InboundEmail.objects, "create", broken_create)
    with (
        smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        client.sendmail("claire@example.org", ["cartes@banque.test"], raw_email())
    assert refused.value.smtp_code == 451


def test_a_resent_message_is_stored_once(smtp_server: InboundServer) -> None:
    raw = raw_email()
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10) as client:
        client.sendmail("claire@example.org", ["cartes@banque.test"], raw)
        client.sendmail("claire@example.org", ["cartes@banque.test"], raw)  # 250 again
    _wait_processed(1)
    assert InboundEmail.objects.get().duplicates == 1
    assert Conversation.objects.count() == 1


def test_one_mail_for_two_mailboxes_is_one_row_each(
    smtp_server: InboundServer, other_team: Team
) -> None:
    make_mailbox("credits@banque.test", team=other_team)
    raw = raw_email(to="cartes@banque.test, credits@banque.test")
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10) as client:
        client.sendmail("c@example.org", ["cartes@banque.test", "credits@banque.test"], raw)
    _wait_processed(2)
    assert InboundEmail.objects.count() == 2
    assert Conversation.objects.count() == 2


def test_too_large_gets_552(team: Team) -> None:
    make_mailbox("cartes@banque.test", team=team)
    for server in _server(max_size=10_000):
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            with pytest.raises(smtplib.SMTPException) as refused:
                client.sendmail(
                    "c@example.org", ["cartes@banque.test"], raw_email(body="x" * 20_000)
                )
            assert "552" in str(refused.value)
    assert InboundEmail.objects.count() == 0


def test_lmtp_answers_once_per_recipient(team: Team, other_team: Team) -> None:
    make_mailbox("cartes@banque.test", team=team)
    make_mailbox("credits@banque.test", team=other_team)
    for server in _server(lmtp=True):
        with smtplib.LMTP("127.0.0.1", server.port, timeout=10) as client:
            refused = client.sendmail(
                "c@example.org", ["cartes@banque.test", "credits@banque.test"], raw_email()
            )
            assert refused == {}
            # smtplib reads one DATA reply; the second recipient's must be there too.
            assert client.getreply()[0] == 250
    _wait_processed(2)
    assert InboundEmail.objects.count() == 2


def test_the_envelope_sender_is_recorded_and_a_bounce_is_never_acknowledged(
    smtp_server: InboundServer,
) -> None:
    # A client-supplied Return-Path is not trusted: the envelope's (empty) one replaces it.
    raw = b"Return-Path: <someone@example.org>\n" + raw_email(subject="Undelivered")
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10) as client:
        client.sendmail("<>", ["cartes@banque.test"], raw)
    _wait_processed(1)
    row = InboundEmail.objects.get()
    assert bytes(row.raw).startswith(b"Return-Path: <>")
    assert b"someone@example.org" not in bytes(row.raw).split(b"\n\n")[0]
    from guichet.channels.email.models import OutboundEmail

    assert not OutboundEmail.objects.filter(kind=OutboundEmail.Kind.ACKNOWLEDGEMENT).exists()


def test_with_return_path_drops_folded_client_headers() -> None:
    from guichet.channels.email.smtp import with_return_path

    raw = b"Subject: x\r\nReturn-Path:\r\n <a@b.example>\r\nFrom: c@d.example\r\n\r\nbody\r\n"
    assert with_return_path(raw, "e@f.example") == (
        b"Return-Path: <e@f.example>\r\nSubject: x\r\nFrom: c@d.example\r\n\r\nbody\r\n"
    )


def test_lmtp_answers_each_recipient_with_its_own_outcome(
    team: Team, other_team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 2033 §4.2: a copy that could not be stored gets 451, the stored one 250."""
    make_mailbox("cartes@banque.test", team=team)
    credits = make_mailbox("credits@banque.test", team=other_team)
    real_store = smtp_module.email_store

    def failing_for_credits(**kwargs: Any) -> Any:
        if kwargs["mailbox"] == credits:
            raise DatabaseError("disk full")
        return real_store(**kwargs)

    monkeypatch.setattr(smtp_module, "email_store", failing_for_credits)
    for server in _server(lmtp=True):
        with smtplib.LMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo()
            client.mail("c@example.org")
            client.rcpt("cartes@banque.test")
            client.rcpt("credits@banque.test")
            code, _text = client.data(raw_email())
            assert code == 250  # the first recipient: stored
            code, text = client.getreply()
            assert code == 451 and b"4.3.0" in text
    _wait_processed(1)
    assert list(InboundEmail.objects.values_list("mailbox__address", flat=True)) == [
        "cartes@banque.test"
    ]
