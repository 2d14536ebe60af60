"""Builders shared by the inbound email tests: raw messages and mailboxes."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.utils import timezone

from guichet.accounts.models import Team
from guichet.channels.email.models import Mailbox
from guichet.channels.email.services import mailbox_create


def raw_email(
    *,
    sender: str = "Claire Dubois <claire@example.org>",
    to: str = "cartes@banque.test",
    subject: str = "Carte bloquée",
    body: str = "Bonjour, ma carte est bloquée depuis hier. Merci, Claire",
    message_id: str | None = "",
    in_reply_to: str = "",
    references: str = "",
    headers: dict[str, str] | None = None,
) -> bytes:
    """A small, valid French message. message_id="" makes a fresh one; None leaves it out."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    if message_id is not None:
        message["Message-ID"] = message_id or make_msgid(domain="example.org")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


def make_mailbox(address: str = "cartes@banque.test", team: Team | None = None) -> Mailbox:
    return mailbox_create(address=address, team=team)


# No final boundary and a broken Content-Type: Zammad's "MIME of death" family (E05).
POISON = (
    b"From: \x00\xff\r\nSubject: \\x\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n"
    b"--\r\nContent-Type: text/plain\r\n\r\nno end"
)
