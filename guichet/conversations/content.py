"""Message content: HTML sanitising with nh3, plain-text fallback, attachment storage."""

from __future__ import annotations

import hashlib
import html as html_lib
import re
import secrets
import unicodedata

import magic
import nh3
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
MAX_TEXT_CHARS = 1_000_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Bidi overrides and isolates let a name like "gpj.exe" render as "exe.jpg" (RELIABILITY F02).
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_C1_CONTROL = re.compile("[\x80-\x9f]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Drop NUL and control characters and lone surrogates that databases refuse."""
    value = _LONE_SURROGATE.sub("\ufffd", value)
    return _CONTROL.sub("", value)[:max_chars]


def sanitise_html(raw: str) -> str:
    """Keep formatting, drop scripts, handlers, styles and remote images (never loaded)."""
    if not raw:
        return ""
    return nh3.clean(
        clean_text(raw),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer nofollow",
    )


def html_to_text(raw: str) -> str:
    """A readable plain-text version of an HTML body."""
    spaced = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-6])>", "\n", raw)
    stripped = nh3.clean(spaced, tags=set())
    text = html_lib.unescape(stripped)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def safe_filename(raw: str) -> str:
    """A display name with no path, control or bidi characters (storage uses a random key)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _BIDI.sub("", _C1_CONTROL.sub("", _CONTROL.sub("", _LONE_SURROGATE.sub("", name))))
    name = name.replace('"', "'").replace("\r", "").replace("\n", "").strip(" .")
    return name[:200] or "attachment"


def sniff_content_type(content: bytes) -> str:
    """The content type read from the bytes themselves, never from the sender's claim."""
    try:
        return str(magic.from_buffer(content[:8192], mime=True)) or "application/octet-stream"
    except Exception:  # libmagic refuses some inputs; never fail the message for it
        return "application/octet-stream"


def store_bytes(content: bytes, folder: str = "attachments") -> tuple[str, str]:
    """Store bytes under a random, unguessable key. Returns (storage key, sha256)."""
    key = secrets.token_urlsafe(24)
    path = f"{folder}/{key[:2]}/{key}"
    saved = default_storage.save(path, ContentFile(content))
    return saved, hashlib.sha256(content).hexdigest()
