"""`import_mail`: .eml files, Maildir folders and mbox files through the same services."""

from __future__ import annotations

import mailbox
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from guichet.accounts.models import Team
from guichet.channels.email.models import InboundEmail
from guichet.conversations.models import Conversation

from .inbound_support import POISON, make_mailbox, raw_email

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_mail", *args, "--no-progress", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_eml_maildir_and_mbox_are_imported_once(tmp_path: Path, team: Team) -> None:
    (tmp_path / "one.eml").write_bytes(raw_email(subject="Un"))
    (tmp_path / "poison.eml").write_bytes(POISON)
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    maildir.add(raw_email(subject="Deux"))
    maildir.add(raw_email(subject="Trois"))
    box = mailbox.mbox(tmp_path / "archive.mbox", create=True)
    box.add(raw_email(subject="Quatre"))
    box.add(raw_email(subject="Cinq"))
    box.close()

    output = run(str(tmp_path))
    assert "6 messages: 5 ingested, 0 duplicates skipped, 1 quarantined" in output
    assert Conversation.objects.count() == 5
    assert set(InboundEmail.objects.values_list("source", flat=True)) == {"import"}

    again = run(str(tmp_path))  # a second import creates nothing
    assert "0 ingested, 6 duplicates skipped, 0 quarantined" in again
    assert Conversation.objects.count() == 5


def test_the_mailbox_comes_from_the_recipients_or_the_option(
    tmp_path: Path, team: Team, other_team: Team
) -> None:
    cartes = make_mailbox("cartes@banque.test", team=team)
    credits = make_mailbox("credits@banque.test", team=other_team)
    (tmp_path / "a.eml").write_bytes(raw_email(to="Crédits <credits@banque.test>"))
    (tmp_path / "b.eml").write_bytes(raw_email(to="someone@else.test"))
    run(str(tmp_path / "a.eml"), str(tmp_path / "b.eml"))
    by_subject = {row.mailbox_id: row for row in InboundEmail.objects.all()}
    assert set(by_subject) == {credits.pk, None}
    assert by_subject[credits.pk].message.conversation.team == other_team
    assert by_subject[None].message.conversation.team == team  # the default team

    (tmp_path / "c.eml").write_bytes(raw_email(to="credits@banque.test"))
    run(str(tmp_path / "c.eml"), "--mailbox", "CARTES@banque.test")
    assert InboundEmail.objects.filter(mailbox=cartes).count() == 1


def test_bad_arguments_are_refused(tmp_path: Path, team: Team) -> None:
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.eml"))
    (tmp_path / "a.eml").write_bytes(raw_email())
    with pytest.raises(CommandError, match="No mailbox"):
        run(str(tmp_path / "a.eml"), "--mailbox", "nobody@banque.test")
