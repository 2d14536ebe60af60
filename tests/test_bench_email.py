"""Smoke test of bench/email_ingest.py: its generator and its import path run and count right.

Counts only, never timing; the figures come from running the script. Runs on whichever database
the test settings use (SQLite, or PostgreSQL with DATABASE_URL).
"""

from __future__ import annotations

import email
from pathlib import Path

import pytest

from bench import email_ingest
from bench.email_messages import expected_keys, generate, load_real_corpus, tiny_pdf, tiny_png


def test_generator_mixes_corpus_generated_and_replies() -> None:
    real = [("a", b"Subject: one\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n")] * 2 + [
        ("b", b"Subject: two\n\nno id\n")
    ]
    stream = generate(40, seed=1, to="box@bench-mail.example.org", tag="t", real=real)
    kinds = [m.kind for m in stream]
    assert len(stream) == 40
    assert kinds.count("corpus") == 3
    assert kinds.count("reply") == round(37 * 0.15)
    assert all(m.raw for m in stream if m.kind != "reply")
    for reply in (m for m in stream if m.kind == "reply"):
        assert reply.original is not None and reply.original < reply.index
    # The two copies of the same corpus message are one true duplicate.
    assert expected_keys([m.raw for m in stream if m.raw])[1].__len__() == 1
    parsed = email.message_from_bytes(next(m.raw for m in stream if m.attachments))
    assert parsed.is_multipart()
    assert tiny_pdf(__import__("random").Random(1), "é").startswith(b"%PDF-1.4")
    assert tiny_png(__import__("random").Random(1)).startswith(b"\x89PNG")


def test_corpus_loader_skips_absent_archives(tmp_path: Path) -> None:
    assert load_real_corpus(tmp_path) == []


def test_help_works(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        email_ingest.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--helpdesk" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_import_path_counts(tmp_path: Path, settings: object) -> None:
    real = load_real_corpus()[:6]
    stream = generate(20, seed=3, to="import-smoke@bench-mail.example.org", tag="smoke", real=real)
    result = email_ingest.run_import(stream, tmp_path, "smoke", in_process=True)
    assert result.sent == 20
    assert result.lost == 0
    assert result.rows == result.expected_rows == 20 - result.expected_duplicates
    assert (
        result.states["ingested"]
        + result.states["quarantined"]
        + result.states["ignored"]
        + result.states["bounce"]
        == result.rows
    )
    assert result.replies == round((20 - len(real)) * 0.15)
    # A reply to our acknowledgement (signed Message-ID) always joins; one to the customer's own
    # mail (not acknowledged, e.g. triage handed it to a person) does not, by design.
    assert result.replies_to_ack_threaded == result.replies_to_ack
    assert result.replies_threaded >= result.replies_to_ack_threaded
    assert len(result.command_output) == 2
