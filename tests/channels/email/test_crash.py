"""Kill the SMTP server (SIGKILL) at random points of a batch: no acknowledged message is lost.

RFC 5321 §6.1 and RELIABILITY E04: a 250 is a promise. A client sends a batch, recording every
message answered 250; the server process is killed at random moments, restarted, and the client
re-sends what was not acknowledged. At the end each message is stored exactly once (the dedupe key
absorbs re-sends of messages stored just before the kill) and ingested exactly once (a restarted
server processes what a killed one had stored but not yet processed).
"""

from __future__ import annotations

import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from guichet.accounts.models import Team
from guichet.channels.email.models import InboundEmail
from guichet.conversations.models import Conversation

from .inbound_support import make_mailbox, raw_email

pytestmark = pytest.mark.django_db(transaction=True)

BATCH = 60
ROUNDS_WITH_KILLS = 5
MANAGE = Path(__file__).resolve().parents[3] / "manage.py"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _database_url() -> str:
    """The test database, as the server subprocess must reach it."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_orphan_server() -> object:
    yield None
    for server in STARTED:
        if server.poll() is None:
            server.kill()
            server.wait()
    STARTED.clear()


def _start(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": _database_url(), "TASKS_BACKEND": "immediate"}
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, str(MANAGE), "smtp_server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    STARTED.append(server)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            assert server.poll() is None, "the SMTP server exited at start-up"
            time.sleep(0.05)
    server.kill()
    raise AssertionError("the SMTP server did not start")


def _send(port: int, pending: list[tuple[str, bytes]], acked: set[str]) -> None:
    """Send until the server dies; record each message answered 250."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            for message_id, raw in pending:
                if client.sendmail("claire@example.org", ["cartes@banque.test"], raw) == {}:
                    acked.add(message_id)
    except (OSError, smtplib.SMTPException):
        return  # killed: whatever got no 250 is re-sent next round


def test_sigkill_during_a_batch_loses_no_acknowledged_message(team: Team) -> None:
    make_mailbox("cartes@banque.test", team=team)
    rng = random.Random(20261122)  # reproducible kill points
    batch = {f"crash-{n}@example.org": b"" for n in range(BATCH)}
    for message_id in batch:
        batch[message_id] = raw_email(message_id=f"<{message_id}>", subject=f"Lot {message_id}")
    acked: set[str] = set()
    port = _free_port()
    kills = 0
    for round_number in range(ROUNDS_WITH_KILLS + 1):
        pending = [(mid, raw) for mid, raw in batch.items() if mid not in acked]
        server = _start(port)
        client = threading.Thread(target=_send, args=(port, pending, acked))
        client.start()
        if round_number < ROUNDS_WITH_KILLS:
            time.sleep(rng.uniform(0.02, 0.4))
            server.send_signal(signal.SIGKILL)
            kills += 1
            server.wait()
            client.join(15)
            continue
        # The last run is not killed: it takes the rest and processes what killed runs stored.
        client.join(60)
        deadline = time.monotonic() + 30
        while InboundEmail.objects.filter(state=InboundEmail.State.RECEIVED).exists():
            assert time.monotonic() < deadline, "stored messages were not processed"
            time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert kills >= 3
    assert acked == set(batch), "messages still unacknowledged after the last round"

    stored = Counter(InboundEmail.objects.values_list("message_id_header", flat=True))
    assert set(stored) == set(batch), "an acknowledged message was lost"
    assert max(stored.values()) == 1, "a message was stored twice"
    assert not InboundEmail.objects.exclude(state=InboundEmail.State.INGESTED).exists()
    assert Conversation.objects.count() == BATCH
