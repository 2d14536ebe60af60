"""mailbox_add, mail_status and the admin: passwords never shown back, quarantine visible."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from guichet.accounts.models import Team
from guichet.channels.email.admin import MailboxForm
from guichet.channels.email.models import InboundEmail, Mailbox
from guichet.channels.email.services import email_process, email_receive

from .inbound_support import POISON, make_mailbox, raw_email

pytestmark = pytest.mark.django_db


def command(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_mailbox_add_reads_the_imap_password_from_the_environment(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARTES_IMAP_PASSWORD", "s3cret")
    output = command(
        "mailbox_add",
        "Cartes@Banque.test",
        "--team",
        "cartes",
        "--imap-host",
        "imap.banque.test",
        "--imap-user",
        "cartes",
        "--imap-password-env",
        "CARTES_IMAP_PASSWORD",
    )
    assert "cartes@banque.test added for team Cartes" in output and "s3cret" not in output
    mailbox = Mailbox.objects.get()
    assert mailbox.team == team and mailbox.imap_password == "s3cret"
    with pytest.raises(CommandError, match="exists already"):
        command("mailbox_add", "cartes@banque.test")


def test_mailbox_add_refuses_what_it_cannot_use(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CommandError, match="No team"):
        command("mailbox_add", "a@banque.test", "--team", "nope")
    with pytest.raises(CommandError, match="not-an-address"):
        command("mailbox_add", "not-an-address")
    with pytest.raises(CommandError, match="EMPTY_VAR"):
        command(
            "mailbox_add", "a@banque.test", "--imap-host", "h", "--imap-password-env", "EMPTY_VAR"
        )
    monkeypatch.setattr("sys.stdin", StringIO())  # not a terminal: no prompt possible
    with pytest.raises(CommandError, match="--imap-password-env"):
        command("mailbox_add", "a@banque.test", "--imap-host", "h", "--imap-user", "u")
    with pytest.raises(CommandError, match="unrecognized"):  # no option takes a password
        call_command("mailbox_add", "a@banque.test", "--imap-password", "x")
    assert Mailbox.objects.count() == 0


def test_mail_status_counts_everything_operators_need(team: Team) -> None:
    mailbox = make_mailbox(team=team)
    raw = raw_email()
    email_process(email_receive(raw=raw, mailbox=mailbox, source="smtp"))
    email_receive(raw=raw, mailbox=mailbox, source="smtp")  # a duplicate delivery
    email_process(email_receive(raw=POISON, mailbox=mailbox, source="smtp"))
    status = json.loads(command("mail_status", "--json"))
    assert status["inbound"]["ingested"] == 1
    assert status["inbound"]["quarantined"] == 1
    assert status["inbound"]["duplicates_skipped"] == 1
    assert status["inbound"]["waiting"] == 0
    assert set(status["outbox"]) == {"queued", "sending", "sent", "failed"}
    assert status["mailboxes"][0]["address"] == "cartes@banque.test"
    assert status["mailboxes"][0]["last_poll_at"] is None
    text = command("mail_status")
    assert "1 ingested, 1 quarantined" in text and "1 duplicates skipped" in text


def test_the_admin_never_shows_the_imap_password_and_blank_keeps_it(team: Team) -> None:
    mailbox = make_mailbox(team=team)
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_password="s3cret")
    mailbox.refresh_from_db()
    form = MailboxForm(instance=mailbox)
    assert "s3cret" not in str(form["imap_password"])
    data = {
        "address": mailbox.address,
        "name": "",
        "team": team.pk,
        "enabled": "on",
        "imap_port": 993,
        "imap_folder": "INBOX",
        "imap_password": "",
    }
    form = MailboxForm(data, instance=mailbox)
    assert form.is_valid(), form.errors
    assert form.save().imap_password == "s3cret"
    form = MailboxForm({**data, "imap_password": "n3w"}, instance=mailbox)
    assert form.is_valid() and form.save().imap_password == "n3w"


def test_admins_see_the_quarantine_and_can_reprocess(
    team: Team, admin_user: Any, settings: Any
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    quarantined = email_process(email_receive(raw=POISON, mailbox=None, source="smtp"))
    client = Client()
    client.force_login(admin_user)
    url = "/admin/email_channel/inboundemail/"
    page = client.get(url + "?state__exact=quarantined")
    if page.status_code == 302:
        pytest.skip("this user cannot open the Django admin")
    assert page.status_code == 200 and quarantined.message_id_header.encode() in page.content
    detail = client.get(f"{url}{quarantined.pk}/change/")
    assert detail.status_code == 200 and b"no single readable sender" in detail.content
    # A fixed parser (here: the raw bytes repaired) makes the reprocess action ingest it.
    InboundEmail.objects.filter(pk=quarantined.pk).update(raw=raw_email())
    response = client.post(
        url, {"action": "reprocess", "_selected_action": [quarantined.pk]}, follow=True
    )
    assert response.status_code == 200
    quarantined.refresh_from_db()
    assert quarantined.state == InboundEmail.State.INGESTED


def test_the_mail_processes_serve_starts_run_a_round(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` runs these with --loop; one round of each must work with nothing to do."""
    from guichet.channels.email.management.commands import mail_poll
    from guichet.web.management.commands.serve import GRACEFUL_SIGNAL, MAIL_PROCESSES

    monkeypatch.setattr(mail_poll, "close_old_connections", lambda: None)  # the test's transaction

    assert set(MAIL_PROCESSES) <= set(GRACEFUL_SIGNAL)
    for command in MAIL_PROCESSES.values():
        name, *args = [arg for arg in command if arg != "--loop"]
        out, err = StringIO(), StringIO()
        call_command(name, *args, stdout=out, stderr=err)
        assert err.getvalue() == ""
