"""A Message-ID is not an identity (issue 12, point 1).

Scanners, copiers and web-form scripts send a fixed or recycled Message-ID. Only a true
re-delivery (same Message-ID, same body; transport headers may differ) is absorbed; any other
message under a Message-ID already stored is kept as its own message and counted.
"""

from __future__ import annotations

import re
import tarfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from guichet.accounts.models import Team
from guichet.channels.email.mailfiles import iter_messages
from guichet.channels.email.models import InboundEmail
from guichet.channels.email.selectors import mail_status
from guichet.channels.email.services import (
    Incoming,
    body_digest,
    email_process,
    email_process_batch,
    email_store,
    email_store_batch,
    message_id_of,
)
from guichet.conversations.models import Message

from .inbound_support import make_mailbox, raw_email

pytestmark = pytest.mark.django_db
SMTP = InboundEmail.Source.SMTP
FIXED = "<scan@copier.example>"  # a copier that sends every scan with the same Message-ID
DATASETS = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "email_mime_edge_cases"


def test_a_different_message_reusing_a_message_id_is_kept(team: Team) -> None:
    mailbox = make_mailbox(team=team)
    first = email_store(
        raw=raw_email(message_id=FIXED, body="Scan 1: avis d'imposition"),
        mailbox=mailbox,
        source=SMTP,
    )
    second = email_store(
        raw=raw_email(message_id=FIXED, body="Scan 2: bulletin de salaire"),
        mailbox=mailbox,
        source=SMTP,
    )
    assert not first.duplicate and not second.duplicate
    assert first.inbound_email.pk != second.inbound_email.pk
    assert second.inbound_email.dedupe_key.startswith("midb:")
    for row in (first.inbound_email, second.inbound_email):
        assert email_process(row).state == InboundEmail.State.INGESTED
    texts = sorted(Message.objects.values_list("text", flat=True))
    assert texts == ["Scan 1: avis d'imposition", "Scan 2: bulletin de salaire"]
    status = mail_status()["inbound"]
    assert status["message_id_reused"] == 1 and status["duplicates_skipped"] == 0


def test_a_true_redelivery_is_absorbed_even_with_new_transport_headers(team: Team) -> None:
    mailbox = make_mailbox(team=team)
    raw = raw_email(message_id=FIXED, body="Scan 2: bulletin de salaire")
    email_store(raw=raw_email(message_id=FIXED, body="Scan 1"), mailbox=mailbox, source=SMTP)
    kept = email_store(raw=raw, mailbox=mailbox, source=SMTP)
    # Re-delivered through another relay, and with CRLF turned into LF by a file export.
    again = email_store(
        raw=b"Received: from mx2.example\n" + raw.replace(b"\r\n", b"\n"),
        mailbox=mailbox,
        source=SMTP,
    )
    original = email_store(
        raw=raw_email(message_id=FIXED, body="Scan 1"), mailbox=mailbox, source=SMTP
    )
    assert again.duplicate and again.inbound_email.pk == kept.inbound_email.pk
    assert original.duplicate
    assert InboundEmail.objects.count() == 2
    assert mail_status()["inbound"]["duplicates_skipped"] == 2


def test_rows_stored_before_the_body_digest_still_compare(team: Team) -> None:
    mailbox = make_mailbox(team=team)
    old = email_store(raw=raw_email(message_id=FIXED, body="Avant"), mailbox=mailbox, source=SMTP)
    InboundEmail.objects.filter(pk=old.inbound_email.pk).update(body_sha256="")
    same = email_store(raw=raw_email(message_id=FIXED, body="Avant"), mailbox=mailbox, source=SMTP)
    other = email_store(raw=raw_email(message_id=FIXED, body="Après"), mailbox=mailbox, source=SMTP)
    assert same.duplicate and not other.duplicate


def test_the_batch_store_keeps_them_too_within_and_across_batches(team: Team) -> None:
    mailbox = make_mailbox(team=team)
    batch = [
        Incoming(raw=raw_email(message_id=FIXED, body=f"Scan {n}"), mailbox=mailbox)
        for n in (1, 2, 2, 3)
    ]
    results = email_store_batch(batch, source=InboundEmail.Source.IMPORT)
    assert [r.duplicate for r in results] == [False, False, True, False]
    assert results[1].inbound_email.pk == results[2].inbound_email.pk
    again = email_store_batch(
        [
            Incoming(raw=raw_email(message_id=FIXED, body=f"Scan {n}"), mailbox=mailbox)
            for n in (3, 4)
        ],
        source=InboundEmail.Source.IMPORT,
    )
    assert [r.duplicate for r in again] == [True, False]
    rows = email_process_batch(
        [r.inbound_email for r in results + again if not r.duplicate], acknowledge=False
    )
    assert {row.state for row in rows} == {InboundEmail.State.INGESTED}
    assert Message.objects.count() == 4


@pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is not beside the project")
def test_the_mime_test_sets_lose_no_distinct_message(tmp_path: Path, team: Team) -> None:
    """Every distinct message of the MIME test sets is stored; only byte-identical bodies under
    one Message-ID count as duplicates."""
    for archive in ("mimekit_testdata.tar.gz", "spamassassin_t_data.tar.gz"):
        with tarfile.open(DATASETS / archive) as tar:
            tar.extractall(tmp_path, filter="data")
    read = [raw for _ref, raw in iter_messages([tmp_path])]
    # What makes a message distinct: its Message-ID and its body, or its bytes without one.
    distinct = {
        (message_id_of(raw), body_digest(raw)) if message_id_of(raw) else raw for raw in read
    }
    out = StringIO()
    call_command("import_mail", str(tmp_path), "--no-progress", stdout=out, stderr=StringIO())
    status = mail_status()["inbound"]
    assert InboundEmail.objects.count() == len(distinct)
    # What the command says agrees with the store: each message processed and counted once.
    said = re.search(r"(\d+) messages: (\d+) ingested, (\d+) duplicates skipped", out.getvalue())
    assert said is not None
    assert int(said[1]) == len(read) and int(said[3]) == len(read) - len(distinct)
    assert int(said[2]) == status["ingested"]
    assert status["duplicates_skipped"] == len(read) - len(distinct)
    assert status["message_id_reused"] > 0
