"""The acknowledgement: the number, when a person will answer, how to reach one sooner.

DESIGN promises 1 and 2.
"""

# French texts use the typographic apostrophe (U+2019), as the catalogue does.
# ruff: noqa: RUF001

from __future__ import annotations

import gettext as gettext_module
import shutil
import subprocess
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.utils import translation

from guichet.accounts.models import Site, Team, User
from guichet.channels.email import threading
from guichet.channels.email.models import OutboundEmail
from guichet.channels.email.services import email_process, email_receive
from guichet.channels.promise import clock, format_due, opening_hours
from guichet.conversations.models import Conversation
from guichet.core.models import Calendar
from tests.channels.email.inbound_support import make_mailbox, raw_email
from tests.channels.email.outbound_support import SmtpSink, smtp_sink
from tests.conftest import make_calendar

__all__ = ["smtp_sink"]

PO = Path(django_settings.BASE_DIR) / "guichet" / "locale" / "fr" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def _catalogue(settings: Any) -> None:
    """A compiled, fresh French catalogue (as `make messages` builds it)."""
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        msgfmt = shutil.which("msgfmt")
        if msgfmt is None:
            pytest.fail(f"{MO} is missing or older than the .po: run `make messages`")
        subprocess.run([msgfmt, "--check", "-o", str(MO), str(PO)], check=True)  # noqa: S603
        # The stdlib caches catalogues by file path for the life of the process.
        gettext_module._translations.clear()  # type: ignore[attr-defined]
    settings.LOCALE_PATHS = list(settings.LOCALE_PATHS)  # drop cached catalogues


def test_due_time_reads_naturally() -> None:
    due = datetime(2020, 11, 23, 13, 0, tzinfo=UTC)  # a Monday, 14:00 in Paris
    with translation.override("fr"):
        assert format_due(due, PARIS, "fr") == "lundi 23 novembre 2020 à 14 h 00"
    with translation.override("en"):
        assert format_due(due, PARIS, "en") == "Monday 23 November 2020 at 2:00 pm"
    assert clock(time(9, 5), "fr") == "9 h 05" and clock(time(0, 30), "en") == "12:30 am"


@pytest.mark.django_db
def test_opening_hours_group_days() -> None:
    calendar = make_calendar("Agence")
    with translation.override("fr"):
        assert opening_hours(calendar, "fr") == (
            "du lundi au vendredi, 9 h 00 – 12 h 30 et 13 h 30 – 17 h 30"
        )
    with translation.override("en"):
        assert opening_hours(calendar, "en") == (
            "Monday to Friday, 9:00 am – 12:30 pm and 1:30 pm – 5:30 pm"
        )


@pytest.fixture
def reachable_team(team: Team, agent: User, calendar: Calendar) -> Team:
    Team.objects.filter(pk=team.pk).update(phone="01 23 45 67 89")
    site = Site.objects.create(
        name="Agence Lyon Part-Dieu", address="12 rue de la Gare\n69003 Lyon", calendar=calendar
    )
    agent.sites.add(site)
    return Team.objects.get(pk=team.pk)


def _deliver(raw: bytes, mailbox: Any) -> Conversation:
    row = email_process(email_receive(raw=raw, mailbox=mailbox, source="smtp"))
    assert row.message is not None, row.error
    return row.message.conversation


@pytest.mark.django_db(transaction=True)
def test_acknowledgement_in_french(smtp_sink: SmtpSink, reachable_team: Team) -> None:
    mailbox = make_mailbox("cartes@banque.test", team=reachable_team)
    conversation = _deliver(raw_email(message_id="<q1@example.org>"), mailbox)

    assert len(smtp_sink.delivered) == 1
    mail = smtp_sink.delivered[0].message
    ack = OutboundEmail.objects.get(kind=OutboundEmail.Kind.ACKNOWLEDGEMENT)
    assert ack.state == OutboundEmail.State.SENT and ack.to_address == "claire@example.org"
    assert str(mail["Auto-Submitted"]) == "auto-generated"
    assert str(mail["X-Auto-Response-Suppress"]) == "All"
    assert mail["Precedence"] is None
    assert str(mail["Message-ID"]) == f"<{ack.message_id_header}>"
    number = threading.conversation_number_from_message_id(ack.message_id_header)
    assert number == conversation.number  # our signed id: replies to it thread back
    assert str(mail["In-Reply-To"]) == "<q1@example.org>"
    assert str(mail["Subject"]) == f"Re: Carte bloquée [#{conversation.number}]"
    assert mail["From"].addresses[0].display_name == "Cartes"
    assert mail["From"].addresses[0].addr_spec == "cartes@banque.test"

    text_part, html_part = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = " ".join(text_part.get_content().split())
    assert conversation.first_human_response_due is not None
    with translation.override("fr"):
        due = format_due(conversation.first_human_response_due, PARIS, "fr")
    assert "h " in due and " à " in due
    assert f"Votre demande porte le numéro {conversation.number}" in text
    assert f"Une personne de notre équipe vous répondra au plus tard le {due}." in text
    assert "Pour parler à quelqu’un plus tôt :" in text
    assert (
        "appelez-nous au 01 23 45 67 89 (du lundi au vendredi, 9 h 00 – 12 h 30 et "
        "13 h 30 – 17 h 30)" in text
    )
    assert "venez nous voir : Agence Lyon Part-Dieu, 12 rue de la Gare 69003 Lyon" in text
    assert "envoyé automatiquement" in text
    assert "We have received" not in text
    html = html_part.get_content()
    assert '<html lang="fr">' in html and "au plus tard le" in html


@pytest.mark.django_db(transaction=True)
def test_acknowledgement_in_english(smtp_sink: SmtpSink, reachable_team: Team) -> None:
    mailbox = make_mailbox("cards@bank.test", team=reachable_team)
    raw = raw_email(
        sender="John Smith <john@example.com>",
        subject="Card blocked",
        body="Hello, my card has been blocked since yesterday.",
    )
    raw = b"Content-Language: en-GB\n" + raw  # set_content() would drop a Content-* header
    conversation = _deliver(raw, mailbox)
    mail = smtp_sink.delivered[0].message
    text_part = mail.get_body(("plain",))
    assert text_part is not None
    text = " ".join(text_part.get_content().split())
    assert conversation.first_human_response_due is not None
    with translation.override("en"):
        due = format_due(conversation.first_human_response_due, PARIS, "en")
    assert text.startswith("Hello John Smith,")
    assert f"Your request is number {conversation.number}" in text
    assert f"A member of our team will answer you by {due}." in text
    assert "call us on 01 23 45 67 89 (Monday to Friday, 9:00 am – 12:30 pm" in text
    assert "Bonjour" not in text


@pytest.mark.django_db(transaction=True)
def test_without_due_time_or_contact(smtp_sink: SmtpSink, team: Team) -> None:
    """A calendar with no open hours gives no due time: the text says "as soon as possible"."""
    team.calendar.periods.all().delete()
    mailbox = make_mailbox("cartes@banque.test", team=team)
    conversation = _deliver(raw_email(), mailbox)
    assert conversation.first_human_response_due is None
    text_part = smtp_sink.delivered[0].message.get_body(("plain",))
    assert text_part is not None
    text = " ".join(text_part.get_content().split())
    assert "vous répondra dès que possible" in text
    assert "plus tôt" not in text
