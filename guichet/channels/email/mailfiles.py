"""Read messages from message files, Maildir folders and mbox files (for `import_mail`).

Transport only: yields (where it came from, raw bytes); storing and parsing are the services'.
A file is taken by what it holds, not by its name: its first few KB are sniffed for a header
line (a single message) or an mbox `From ` separator line (an mbox); anything else is skipped
and reported. mbox files are split on strict separator lines only, one message at a time.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path
from typing import Literal

from guichet.channels.email.services import header_block

MAILDIR_PARTS = ("cur", "new", "tmp")
SNIFF_BYTES = 8192
BOM = b"\xef\xbb\xbf"

# An RFC 5322 header line: a field name of printable ASCII but colon and space, then a colon
# (obsolete syntax allowed white space before it). "https://…" (a URL list) is not one.
HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:(?!//)")
_DAY = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_ZONE = rb"(?:[+-]\d{4}|[A-Z]{1,5}(?: DST)?)"
# The strict mbox separator: `From <sender> <asctime date>`, e.g. `From a@b.c Sat Jan  3
# 01:05:34 1996`, with the variants seen in the wild: a zone before or after the year, no
# seconds, a comma after the day, and an RFC 5322 date (`Fri, 8 Jul 2011 12:08:34 +0200`).
SEPARATOR = re.compile(
    rb"From (?:\"[^\"\r\n]*\"\S*|\S+) +"
    rb"(?:"
    + _DAY
    + rb",? +"
    + _MONTH
    + rb" +\d{1,2} +\d{1,2}:\d{2}(?::\d{2})?(?: +"
    + _ZONE
    + rb")? +\d{2,4}(?: +"
    + _ZONE
    + rb")?"
    rb"|"
    + _DAY
    + rb", +\d{1,2} +"
    + _MONTH
    + rb" +\d{2,4} +\d{1,2}:\d{2}(?::\d{2})?(?: +"
    + _ZONE
    + rb")?"
    rb")[ \t]*\r?\n?\Z"
)
# A separator without a date (`From -`, `From 1844347792267117879@xxx`: Thunderbird and Gmail
# exports). Taken only in a file that starts with one, and only before a header line.
BARE_SEPARATOR = re.compile(rb"From \S+[ \t]*\r?\n?\Z")
ESCAPED_FROM = re.compile(rb">+From ")

Kind = Literal["maildir", "mbox", "message", "skipped"]


@dataclass(frozen=True)
class Source:
    """One thing to read under the given paths, or a file skipped (`reason` says why)."""

    path: Path
    kind: Kind
    reason: str = ""


def is_maildir(path: Path) -> bool:
    return path.is_dir() and all((path / part).is_dir() for part in ("cur", "new"))


def _is_blank(line: bytes) -> bool:
    return not line.strip()


def _is_separator(line: bytes) -> bool:
    return line.startswith(b"From ") and SEPARATOR.match(line) is not None


def _is_bare_separator(line: bytes) -> bool:
    return line.startswith(b"From ") and BARE_SEPARATOR.match(line) is not None


def sniff(path: Path) -> Source:
    """What the file holds, from its first few KB: a message, an mbox, or neither."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        return Source(path, "skipped", f"unreadable: {exc.strerror or exc}")
    head = head.removeprefix(BOM)
    lines = head.splitlines(keepends=True)
    while lines and _is_blank(lines[0]):
        lines.pop(0)
    if not lines:
        return Source(path, "skipped", "not mail: empty")
    first = lines[0]
    if _is_separator(first):
        return Source(path, "mbox")
    if _is_bare_separator(first) and len(lines) > 1 and HEADER_LINE.match(lines[1]):
        return Source(path, "mbox")
    if HEADER_LINE.match(first):
        return Source(path, "message")
    return Source(path, "skipped", "not mail: no header line at the start")


def is_mbox(path: Path) -> bool:
    return sniff(path).kind == "mbox"


def _sources(path: Path) -> Iterator[Source]:
    """Maildirs, mbox files and message files under `path`, and files skipped, in a stable
    order. Hidden files and the parts of a Maildir (cur/, new/, tmp/) found loose are passed
    over."""
    if is_maildir(path):
        yield Source(path, "maildir")
    elif path.is_file():
        yield sniff(path)
    elif path.is_dir():
        for child in sorted(path.iterdir()):
            if child.name in MAILDIR_PARTS or child.name.startswith("."):
                if is_maildir(child):
                    yield Source(child, "maildir")
                continue
            yield from _sources(child)
    else:
        yield Source(path, "skipped", "not a regular file")


def _message(data: bytes) -> bytes:
    """A message file's bytes without a UTF-8 BOM or blank lines before the headers."""
    data = data.removeprefix(BOM)
    start = 0
    while (end := data.find(b"\n", start)) >= 0 and _is_blank(data[start : end + 1]):
        start = end + 1
    return data[start:]


def _unescape(line: bytes) -> bytes:
    """`>From ` (mboxrd/mboxo quoting of a body line) loses one `>`."""
    return line[1:] if line.startswith(b">") and ESCAPED_FROM.match(line) else line


def iter_mbox(path: Path, *, read: bool = True) -> Iterator[bytes]:
    """Each message of an mbox, streamed: split on strict separator lines only (an unquoted
    "From here on" in a body stays in its message), `>From ` lines unquoted, the separator
    line and the blank line before the next one left out. With read=False, b"" for each."""
    parts: list[bytes] = []
    started = False  # a separator was seen
    bare = False  # the file starts with a dateless separator: those split too
    held: bytes | None = None  # a dateless separator waiting for a header line after it
    filled = False  # the current message has a non-blank line

    def flush() -> Iterator[bytes]:
        if filled:
            if parts and _is_blank(parts[-1]):
                parts.pop()
            yield b"".join(parts) if read else b""

    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            if number == 0:
                line = line.removeprefix(BOM)
            if held is not None:
                if HEADER_LINE.match(line):
                    yield from flush()
                    parts, filled = [], False
                else:
                    if read:
                        parts.append(held)
                    filled = True
                held = None
            if not started:
                if _is_blank(line):
                    continue
                started = True
                bare = not _is_separator(line)
                continue  # the first line is a separator (see `sniff`)
            if _is_separator(line):
                yield from flush()
                parts, filled = [], False
            elif bare and _is_bare_separator(line):
                held = line
            else:
                if read:
                    parts.append(_unescape(line))
                filled = filled or not _is_blank(line)
        if held is not None:
            if read:
                parts.append(held)
            filled = True
        yield from flush()


def count_messages(paths: list[Path], *, skipped: list[Source] | None = None) -> int:
    """How many messages `iter_messages` will yield (for the progress bar); the files it will
    skip are added to `skipped`."""
    return sum(1 for _ in iter_messages(paths, read=False, skipped=skipped))


def iter_messages(
    paths: list[Path], *, read: bool = True, skipped: list[Source] | None = None
) -> Iterator[tuple[str, bytes]]:
    """(reference, raw bytes) for each message; mbox `From ` lines are not part of the bytes.
    References are the file's path, `path#index` in an mbox, `folder:key` in a Maildir. Files
    that are not mail are passed over, and added to `skipped` when given."""
    for root in paths:
        for source in _sources(root):
            if source.kind == "maildir":
                folder = mailbox.Maildir(source.path, factory=None, create=False)
                for key in sorted(folder.iterkeys()):
                    yield f"{source.path}:{key}", folder.get_bytes(key) if read else b""
            elif source.kind == "mbox":
                for index, raw in enumerate(iter_mbox(source.path, read=read)):
                    yield f"{source.path}#{index}", raw
            elif source.kind == "message":
                yield str(source.path), _message(source.path.read_bytes()) if read else b""
            elif skipped is not None:
                skipped.append(source)


def recipient_addresses(raw: bytes) -> list[str]:
    """Addresses in To, Cc and Delivered-To, lower-cased, in header order; none when the
    headers defeat the parser (MimeKit's stack-overflow.txt makes `getaddresses` recurse too
    deep)."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(header_block(raw))
        values = [
            str(value)
            for name in ("Delivered-To", "To", "Cc")
            for value in headers.get_all(name, [])
        ]
        return [address.lower() for _, address in getaddresses(values) if address]
    except Exception:  # RecursionError included
        return []
