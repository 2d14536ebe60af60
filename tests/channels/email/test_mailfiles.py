"""Reading mail files for `import_mail`: files taken by their content, strict mbox splitting.

The shared corpora (../shared/datasets) are extracted into the test's tmp_path; those tests are
skipped when the archives are absent.
"""

from __future__ import annotations

import mailbox
import tarfile
from collections.abc import Iterable
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from guichet.accounts.models import Team
from guichet.channels.email.mailfiles import (
    BOM,
    Source,
    count_messages,
    iter_messages,
    recipient_addresses,
    sniff,
)
from guichet.channels.email.models import InboundEmail

from .inbound_support import raw_email

DATASETS = Path("/work/shared/datasets")
MIMEKIT = DATASETS / "email_mime_edge_cases/mimekit_testdata.tar.gz"
SPAMASSASSIN_T = DATASETS / "email_mime_edge_cases/spamassassin_t_data.tar.gz"
PUBLIC_CORPUS = (
    DATASETS / "email_spamassassin_publiccorpus/spamassassin_publiccorpus_20030228.tar.gz"
)


def read(*paths: Path) -> tuple[list[tuple[str, bytes]], list[Source]]:
    skipped: list[Source] = []
    messages = list(iter_messages(list(paths), skipped=skipped))
    return messages, skipped


def extract(archive: Path, into: Path) -> Path:
    if not archive.is_file():
        pytest.skip(f"{archive} is not present")
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def taken_files(messages: Iterable[tuple[str, bytes]]) -> set[Path]:
    return {Path(reference.rpartition("#")[0] or reference) for reference, _ in messages}


def mbox_message(sender: str, subject: str, body: str) -> bytes:
    return f"From: {sender}\nSubject: {subject}\n\n{body}\n".encode()


# --- files taken by what they hold ----------------------------------------------------------


def test_files_are_taken_by_their_content_not_their_name(tmp_path: Path) -> None:
    message = raw_email(subject="Sans extension")
    (tmp_path / "12345.abcdef").write_bytes(message)  # SpamAssassin-corpus style name
    (tmp_path / "body.1.txt").write_bytes(raw_email(subject="Texte"))  # MimeKit style
    (tmp_path / "bom.txt").write_bytes(BOM + raw_email(subject="BOM"))
    (tmp_path / "blank-first.msg").write_bytes(b"\n\r\n" + raw_email(subject="Blanc"))
    (tmp_path / "obsolete.eml").write_bytes(b"Subject : old syntax\n\nbody\n")
    (tmp_path / "archive.txt").write_bytes(
        b"From a@b.c Sat Jan  3 01:05:34 1996\n" + mbox_message("a@b.c", "Un", "un")
    )
    (tmp_path / "readme.md").write_bytes(b"# Notes\n\nFrom: nobody\n")
    (tmp_path / "feed.txt").write_bytes(b"https://phish.example/login.php\nhttp://x.test/\n")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    (tmp_path / "empty.eml").write_bytes(b"\n\n")
    (tmp_path / ".hidden").write_bytes(message)  # passed over silently, as before

    messages, skipped = read(tmp_path)

    references = [reference for reference, _ in messages]
    assert references == [
        str(tmp_path / "12345.abcdef"),
        f"{tmp_path / 'archive.txt'}#0",
        str(tmp_path / "blank-first.msg"),
        str(tmp_path / "body.1.txt"),
        str(tmp_path / "bom.txt"),
        str(tmp_path / "obsolete.eml"),
    ]
    raws = dict(messages)
    assert raws[str(tmp_path / "12345.abcdef")] == message
    # The BOM and the blank lines before the headers are not handed on.
    assert raws[str(tmp_path / "bom.txt")].startswith(b"From: ")
    assert raws[str(tmp_path / "blank-first.msg")].startswith(b"From: ")
    assert {(source.path.name, source.reason) for source in skipped} == {
        ("readme.md", "not mail: no header line at the start"),
        ("feed.txt", "not mail: no header line at the start"),
        ("photo.jpg", "not mail: no header line at the start"),
        ("empty.eml", "not mail: empty"),
    }
    assert count_messages([tmp_path]) == 6


def test_a_file_named_on_the_command_line_is_sniffed_too(tmp_path: Path) -> None:
    (tmp_path / "notes.eml").write_bytes(b"Hello,\n\nnot a message at all.\n")
    (tmp_path / "mail.dat").write_bytes(BOM + raw_email())
    messages, skipped = read(tmp_path / "notes.eml", tmp_path / "mail.dat")
    assert [reference for reference, _ in messages] == [str(tmp_path / "mail.dat")]
    assert messages[0][1].startswith(b"From: ")
    assert [(source.path, source.kind) for source in skipped] == [
        (tmp_path / "notes.eml", "skipped")
    ]


def test_maildirs_are_read_as_before(tmp_path: Path) -> None:
    folder = mailbox.Maildir(tmp_path / "Maildir", create=True)
    folder.add(raw_email(subject="Un"))
    folder.add_folder("Sent").add(raw_email(subject="Deux"))
    (tmp_path / "Maildir" / "tmp" / "partial").write_bytes(raw_email(subject="Partiel"))
    loose = mailbox.Maildir(tmp_path / "other", create=True)
    loose.add(raw_email(subject="Trois"))
    messages, skipped = read(tmp_path)
    assert len(messages) == 2  # Maildir and other; the Maildir++ subfolder was never read
    assert all(":" in reference.rpartition("/")[2] for reference, _ in messages)
    assert skipped == []


def test_sniff_tells_messages_mboxes_and_the_rest_apart(tmp_path: Path) -> None:
    cases = {
        "header": (b"Return-Path: <a@b.c>\n", "message"),
        "x-header": (b"X-Weird_Name.1: v\n", "message"),
        "strict": (b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nFrom: a\n", "mbox"),
        "bom-mbox": (BOM + b"From - Mon Jan 01 00:00:00 2001\r\nFrom: a\r\n", "mbox"),
        "bare": (b"From -\nFrom: a\n", "mbox"),
        "bare-then-text": (b"From Paris\nwith love\n", "skipped"),
        "prose": (b"From the desk of Jean,\n\nHello\n", "skipped"),
        "url": (b"https://example.test/\n", "skipped"),
        "csv": (b"id,url\n1,http://x\n", "skipped"),
    }
    for name, (data, _) in cases.items():
        (tmp_path / name).write_bytes(data)
    assert {name: sniff(tmp_path / name).kind for name in cases} == {
        name: kind for name, (_, kind) in cases.items()
    }


# --- mbox: strict separators, streamed -----------------------------------------------------


def test_an_unquoted_from_in_a_body_does_not_cut_a_message_in_two(tmp_path: Path) -> None:
    path = tmp_path / "archive.mbox"
    path.write_bytes(
        b"From jean@example.org Fri Jul  8 12:08:34 2011\n"
        b"From: jean@example.org\nSubject: Lettre\n\n"
        b"Bonjour,\n\nFrom the desk of Jean,\nFrom here on, all is fine.\n"
        b"From Russia with love\nFrom -\nFrom someone\n"
        b"From a@b.c yesterday at noon\n\n"
        b"From MAILER-DAEMON Fri Jul  8 12:08:35 2011 +0200\n"
        b"From: daemon@example.org\nSubject: Deux\n\nFin.\n"
    )
    messages, _ = read(path)
    assert [reference for reference, _ in messages] == [f"{path}#0", f"{path}#1"]
    first = messages[0][1]
    assert first.startswith(b"From: jean@example.org\n")
    assert b"\nFrom the desk of Jean,\nFrom here on, all is fine.\n" in first
    assert first.endswith(b"From a@b.c yesterday at noon\n")  # the blank line before is dropped
    assert messages[1][1] == b"From: daemon@example.org\nSubject: Deux\n\nFin.\n"


def test_separator_variants_seen_in_the_wild_split(tmp_path: Path) -> None:
    separators = [
        b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011",
        b"From a@b.c Sat Jan  3 01:05:34 1996",
        b"From - Mon Jan 01 00:00:00 2001",
        b"From 12a1mailbot1@web.de  Thu Aug 22 13:17:22 2002",
        b"From nsb Thu Oct  3 16:20:57 1991",
        b"From jm@example.org Wed Sep  5 09:09:09 2001 +0100",
        b"From jm@example.org Wed Sep  5 09:09:09 MET DST 2001",
        b"From jm@example.org Wed Sep  5 09:09 2001",
        b"From jm@example.org Wed, 5 Sep 2001 09:09:09 +0100",
    ]
    path = tmp_path / "variants"
    path.write_bytes(
        b"".join(
            line + b"\r\n" + f"Subject: {n}\r\n\r\nbody {n}\r\n\r\n".encode()
            for n, line in enumerate(separators)
        )
    )
    messages, _ = read(path)
    assert [raw for _, raw in messages] == [
        f"Subject: {n}\r\n\r\nbody {n}\r\n".encode() for n in range(len(separators))
    ]


def test_quoted_from_lines_are_unquoted_once(tmp_path: Path) -> None:
    path = tmp_path / "rd.mbox"
    path.write_bytes(
        b"From a@b.c Sat Jan  3 01:05:34 1996\nSubject: q\n\n"
        b">From the desk of Jean\n>>From a quote\n> From a reply\n>Fromage\n"
    )
    [(_, raw)] = read(path)[0]
    assert raw == (
        b"Subject: q\n\nFrom the desk of Jean\n>From a quote\n> From a reply\n>Fromage\n"
    )


def test_python_mailbox_output_reads_back_unchanged(tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "py.mbox", create=True)
    originals = [raw_email(subject="Un"), raw_email(subject="Deux", body="From here on.\n")]
    for raw in originals:
        box.add(raw)
    box.close()
    messages, _ = read(tmp_path / "py.mbox")
    assert [raw for _, raw in messages] == originals  # `>From here on.` unquoted again
    assert count_messages([tmp_path / "py.mbox"]) == 2


def test_dateless_separators_split_only_files_written_with_them(tmp_path: Path) -> None:
    thunderbird = tmp_path / "thunderbird"
    thunderbird.write_bytes(
        BOM + b"From -\nFrom: a\nSubject: 1\n\nFrom Russia with love\n\n"
        b"From -\nFrom: a\nSubject: 2\n\nFrom Russia with love\nYear: 1963\n"
    )
    messages, _ = read(thunderbird)
    assert [raw for _, raw in messages] == [
        b"From: a\nSubject: 1\n\nFrom Russia with love\n",
        b"From: a\nSubject: 2\n\nFrom Russia with love\nYear: 1963\n",
    ]
    strict = tmp_path / "strict"
    strict.write_bytes(b"From a@b.c Sat Jan  3 01:05:34 1996\nSubject: 1\n\nFrom -\nTo: x\n")
    assert [raw for _, raw in read(strict)[0]] == [b"Subject: 1\n\nFrom -\nTo: x\n"]


def test_an_mbox_is_streamed_not_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.mbox"
    with path.open("wb") as handle:
        for n in range(200):
            handle.write(b"From a@b.c Sat Jan  3 01:05:34 1996\n")
            handle.write(f"Subject: {n}\n\n".encode() + b"x" * 1000 + b"\n\n")

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("the whole file was read")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(mailbox.mbox, "get_bytes", refuse)
    messages = iter_messages([path])
    reference, raw = next(messages)
    assert (reference, raw[:12]) == (f"{path}#0", b"Subject: 0\n\n")
    assert sum(1 for _ in messages) == 199


# --- the shared corpora ---------------------------------------------------------------------


def test_every_mimekit_file_is_taken_or_reported(tmp_path: Path) -> None:
    root = extract(MIMEKIT, tmp_path) / "mimekit_testdata"
    messages, skipped = read(root)
    assert taken_files(messages) | {source.path for source in skipped} == files_under(root)
    # Before: 10 of the 36 files (7 of the 32 in messages/), the rest passed over silently.
    assert len(taken_files(messages)) == 36 and skipped == []
    test_data = root / "UnitTests/TestData"
    assert len(taken_files(iter_messages([test_data / "messages"]))) == 32
    counts = {
        name: count_messages([test_data / "mbox" / name])
        for name in ("simple.mbox.txt", "issue1189.mbox.txt", "unmunged.mbox.txt")
    }
    assert counts == {"simple.mbox.txt": 3, "issue1189.mbox.txt": 4, "unmunged.mbox.txt": 2}
    unmunged = [raw for _, raw in iter_messages([test_data / "mbox/unmunged.mbox.txt"])]
    assert all(b"\nFrom Russia with love\n" in raw for raw in unmunged)
    assert all(raw.startswith(b"From: Jeffrey Stedfast") for raw in unmunged)  # no BOM
    quoted = b"".join(raw for _, raw in iter_messages([test_data / "mbox/content-length.mbox.txt"]))
    assert b"\nFrom - Fri Dec 13 15:01:21 1996\n" in quoted
    assert b"\n>From - Fri Dec 13" not in quoted
    feedback = dict(iter_messages([test_data / "messages/feedback-report.txt"]))
    assert next(iter(feedback.values())).startswith(b"From: <abusedesk@example.com>")


def test_spamassassin_test_data_non_mail_is_listed(tmp_path: Path) -> None:
    root = extract(SPAMASSASSIN_T, tmp_path) / "spamassassin_t_data"
    messages, skipped = read(root)
    assert taken_files(messages) | {source.path for source in skipped} == files_under(root)
    assert sorted(str(source.path.relative_to(root / "t/data")) for source in skipped) == [
        "phishing/openphish-feed.txt",
        "phishing/phishtank-feed.csv",
        "spam/bsmtp",  # an SMTP transcript (HELO, MAIL FROM…), not a message
        "spam/bsmtpnull",
    ]
    assert len(messages) == 132  # spam/008's "From  :<tst1@…>" line no longer cuts it in two


def test_the_whole_public_corpus_is_taken(tmp_path: Path) -> None:
    root = extract(PUBLIC_CORPUS, tmp_path)
    skipped: list[Source] = []
    # Before: 2,830 (the files that start with a `From ` line); 170 passed over silently.
    assert count_messages([root], skipped=skipped) == 3000
    assert skipped == []


# --- import_mail ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_mail_lists_and_counts_what_it_skipped(tmp_path: Path, team: Team) -> None:
    (tmp_path / "00001.0123456789abcdef").write_bytes(raw_email(subject="Un"))
    (tmp_path / "bom.txt").write_bytes(BOM + raw_email(subject="Deux"))
    (tmp_path / "archive").write_bytes(
        b"From a@b.c Sat Jan  3 01:05:34 1996\n"
        + raw_email(subject="Trois", body="Bonjour,\n\nFrom the desk of Jean,\nmerci.")
    )
    (tmp_path / "notes.txt").write_bytes(b"Shopping list\n")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    out, err = StringIO(), StringIO()
    call_command("import_mail", str(tmp_path), "--no-progress", stdout=out, stderr=err)
    assert (
        "3 messages: 3 ingested, 0 duplicates skipped, 0 quarantined, 0 delivery reports, "
        "0 ignored, 2 files skipped (not mail)." in out.getvalue()
    )
    assert f"{tmp_path / 'notes.txt'}: skipped, not mail: no header line at the start" in (
        err.getvalue()
    )
    assert f"{tmp_path / 'photo.jpg'}: skipped, not mail" in err.getvalue()
    raws = [bytes(row.raw) for row in InboundEmail.objects.all()]
    assert sorted(raw.split(b"Subject: ")[1].split(b"\n")[0] for raw in raws) == [
        b"Deux",
        b"Trois",
        b"Un",
    ]
    assert all(raw.startswith(b"From: ") for raw in raws)  # no BOM, no separator line

    out, err = StringIO(), StringIO()
    call_command(
        "import_mail", str(tmp_path / "notes.txt"), "--no-progress", stdout=out, stderr=err
    )
    assert "0 messages:" in out.getvalue() and "1 files skipped (not mail)" in out.getvalue()
    assert "notes.txt: skipped, not mail" in err.getvalue()


def test_recipients_of_a_pathological_to_header_are_none_not_a_crash() -> None:
    # The shape of MimeKit's stack-overflow.txt: thousands of folded encoded words.
    words = "\n\t=?utf-8?Q?date=3E2017-08-20T10:08:28.617=3C/pr?=" * 3000
    raw = f"From: a@b.c\nTo: <test@test.com>,{words}\n\nbody\n".encode()
    assert recipient_addresses(raw) == []
