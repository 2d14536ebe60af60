"""IMAP polling against a real Dovecot on loopback (RELIABILITY E03, E04).

The fixture writes a minimal dovecot.conf in a temporary folder (passwd-file auth, Maildir) and
runs `dovecot -F`. Skipped when Dovecot is not installed (`scripts/system-deps.sh test`).
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from guichet.accounts.models import Team
from guichet.channels.email import imap
from guichet.channels.email.models import InboundEmail, Mailbox
from guichet.channels.email.services import mailbox_create
from guichet.conversations.models import Conversation

from .inbound_support import raw_email

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not os.path.exists(DOVECOT), reason="Dovecot is not installed"),
]
USER, PASSWORD = "cartes", "s3cret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Dovecot:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.maildir = root / "mail" / USER

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(USER, PASSWORD)
        client.select("INBOX")
        return client

    def append(self, *messages: bytes) -> None:
        client = self.client()
        for raw in messages:
            client.append("INBOX", None, None, raw)
        client.logout()

    def unseen(self) -> int:
        client = self.client()
        _, data = client.uid("SEARCH", "UNSEEN")
        client.logout()
        return len(data[0].split())

    def rebuild_folder(self) -> None:
        """What a restore or a server migration does: new UIDVALIDITY, every message unseen."""
        for path in (self.maildir / "cur").iterdir():
            path.rename(self.maildir / "new" / path.name.split(":", 1)[0])
        for path in self.maildir.iterdir():
            if path.name.startswith("dovecot"):
                path.unlink()


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="guichet-dovecot-"))
    root.chmod(0o755)
    port = _free_port()
    if os.geteuid() == 0:  # Dovecot refuses to run its login and mail processes as root
        internal, login, mail_user = "dovecot", "dovenull", pwd.getpwnam("dovecot")
    else:
        me = pwd.getpwuid(os.geteuid())
        internal, login, mail_user = me.pw_name, me.pw_name, me
    for folder in ("run", "state", "mail", "home"):
        (root / folder).mkdir()
    for folder in ("mail", "home"):
        os.chown(root / folder, mail_user.pw_uid, mail_user.pw_gid)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (root / "dovecot.conf").write_text(
        f"""base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
    )
    process = subprocess.Popen(  # noqa: S603
        [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Dovecot(root, port)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                server.client().logout()
                break
            except (OSError, imaplib.IMAP4.error):
                assert process.poll() is None, (root / "dovecot.log").read_text()
                assert time.monotonic() < deadline, "Dovecot did not start"
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(dovecot: Dovecot, team: Team) -> Mailbox:
    return mailbox_create(
        address="cartes@banque.test",
        team=team,
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_ssl=False,
        imap_username=USER,
        imap_password=PASSWORD,
    )


def test_poll_stores_then_flags_seen_then_ingests(dovecot: Dovecot, mailbox: Mailbox) -> None:
    dovecot.append(raw_email(subject="Un"), raw_email(subject="Deux"), raw_email(message_id=None))
    result = imap.mailbox_poll(mailbox)
    assert (result.stored, result.duplicates, result.error) == (3, 0, "")
    assert result.processed == {"ingested": 3}
    assert dovecot.unseen() == 0
    assert Conversation.objects.count() == 3
    mailbox.refresh_from_db()
    assert mailbox.last_poll_at is not None and mailbox.imap_uidvalidity
    assert mailbox.poll_lease_until is None
    again = imap.mailbox_poll(mailbox)
    assert (again.stored, again.duplicates) == (0, 0)


def test_a_crash_before_the_flag_refetches_without_duplicates(
    dovecot: Dovecot, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(raw_email(subject="Un"), raw_email(subject="Deux"))

    def crash(*args: Any, **kwargs: Any) -> None:
        raise ConnectionResetError("connection lost before STORE")

    monkeypatch.setattr("imap_tools.BaseMailBox.flag", crash)
    failed = imap.mailbox_poll(mailbox)
    assert failed.stored == 1 and "connection lost" in failed.error
    assert dovecot.unseen() == 2  # stored, but never flagged: the server still offers it
    mailbox.refresh_from_db()
    assert "connection lost" in mailbox.last_poll_error
    monkeypatch.undo()
    result = imap.mailbox_poll(mailbox)
    assert (result.stored, result.duplicates, result.error) == (1, 1, "")
    assert InboundEmail.objects.count() == 2 and dovecot.unseen() == 0
    # The re-fetch also processes the row the first run stored but did not process.
    assert set(InboundEmail.objects.values_list("state", flat=True)) == {"ingested"}
    assert Conversation.objects.count() == 2


def test_a_uidvalidity_change_creates_nothing_twice(dovecot: Dovecot, mailbox: Mailbox) -> None:
    dovecot.append(raw_email(subject="Un"), raw_email(message_id=None))
    imap.mailbox_poll(mailbox)
    mailbox.refresh_from_db()
    before = mailbox.imap_uidvalidity
    time.sleep(1.1)  # Dovecot's UIDVALIDITY is a timestamp
    dovecot.rebuild_folder()
    assert dovecot.unseen() == 2
    result = imap.mailbox_poll(mailbox)
    assert (result.stored, result.duplicates) == (0, 2)
    mailbox.refresh_from_db()
    assert mailbox.imap_uidvalidity != before
    assert Conversation.objects.count() == 2


def test_one_poller_per_mailbox(dovecot: Dovecot, mailbox: Mailbox) -> None:
    dovecot.append(raw_email())
    assert imap._lease_take(mailbox)  # another poller holds the lease
    assert imap.mailbox_poll(mailbox).skipped
    assert dovecot.unseen() == 1 and InboundEmail.objects.count() == 0


def test_a_wrong_password_is_recorded_not_raised(dovecot: Dovecot, mailbox: Mailbox) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_password="wrong")
    mailbox.refresh_from_db()
    result = imap.mailbox_poll(mailbox)
    assert result.error
    mailbox.refresh_from_db()
    assert mailbox.last_poll_error and mailbox.poll_lease_until is None
