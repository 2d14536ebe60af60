"""Read messages from `.eml` files, Maildir folders and mbox files (for `import_mail`).

Transport only: yields (where it came from, raw bytes); storing and parsing are the services'.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path

from guichet.channels.email.services import header_block

MAILDIR_PARTS = ("cur", "new", "tmp")


def is_maildir(path: Path) -> bool:
    return path.is_dir() and all((path / part).is_dir() for part in ("cur", "new"))


def is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def _sources(path: Path) -> Iterator[Path]:
    """Maildirs, mbox and .eml files under `path`, in a stable order."""
    if is_maildir(path) or path.is_file():
        yield path
        return
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.name in MAILDIR_PARTS or child.name.startswith("."):
                if is_maildir(child):
                    yield child
                continue
            if child.is_dir() or child.suffix.lower() in (".eml", ".mbox", "") or is_mbox(child):
                yield from _sources(child)


def count_messages(paths: list[Path]) -> int:
    """How many messages `iter_messages` will yield (for the progress bar)."""
    return sum(1 for _ in iter_messages(paths, read=False))


def iter_messages(paths: list[Path], *, read: bool = True) -> Iterator[tuple[str, bytes]]:
    """(reference, raw bytes) for each message; mbox `From ` lines are not part of the bytes."""
    for root in paths:
        for source in _sources(root):
            if is_maildir(source):
                folder = mailbox.Maildir(source, factory=None, create=False)
                for key in sorted(folder.iterkeys()):
                    yield f"{source}:{key}", folder.get_bytes(key) if read else b""
            elif source.is_file() and is_mbox(source):
                box = mailbox.mbox(source, factory=None, create=False)
                try:
                    for index, key in enumerate(box.iterkeys()):
                        yield f"{source}#{index}", box.get_bytes(key) if read else b""
                finally:
                    box.close()
            elif source.is_file():
                yield str(source), source.read_bytes() if read else b""


def recipient_addresses(raw: bytes) -> list[str]:
    """Addresses in To, Cc and Delivered-To, lower-cased, in header order."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(header_block(raw))
        values = [
            str(value)
            for name in ("Delivered-To", "To", "Cc")
            for value in headers.get_all(name, [])
        ]
    except Exception:
        return []
    return [address.lower() for _, address in getaddresses(values) if address]
