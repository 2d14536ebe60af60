"""Message content: HTML sanitising, text version, file names, sniffing, storage (F02)."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest
from django.core.files.storage import default_storage
from django.utils import translation

from guichet.conversations.content import (
    clean_text,
    html_to_text,
    safe_filename,
    sanitise_html,
    sniff_content_type,
    store_bytes,
)
from guichet.conversations.models import Attachment, Event
from guichet.conversations.types import InboundAttachment


@pytest.fixture(autouse=True)
def _messages_in_english():
    """The tests read error messages in English; the install default is French."""
    with translation.override("en"):
        yield


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("raw", "forbidden"),
    [
        ('<p>Bonjour</p><script>alert("x")</script>', ["<script", "alert"]),
        ('<p onclick="steal()">Bonjour</p>', ["onclick", "steal"]),
        ('<img src="x" onerror="steal()">', ["onerror", "<img", "steal"]),
        ('<a href="javascript:steal()">clic</a>', ["javascript:"]),
        ('<a href="JaVaScRiPt:steal()">clic</a>', ["steal"]),
        ('<img src="https://tracker.example/pixel.gif">', ["<img", "tracker.example"]),
        ('<p style="background:url(https://tracker.example/x)">x</p>', ["style", "tracker"]),
        ("<style>body{background:url(https://t.example/x)}</style>", ["<style", "t.example"]),
        ('<iframe src="https://evil.example"></iframe>', ["<iframe", "evil"]),
        ('<form action="https://evil.example"><input name="pw"></form>', ["<form", "<input"]),
        ("<svg><script>alert(1)</script></svg>", ["<svg", "<script"]),
    ],
)
def test_sanitise_html_removes_active_and_remote_content(raw: str, forbidden: list[str]) -> None:
    cleaned = sanitise_html(raw).lower()
    for needle in forbidden:
        assert needle.lower() not in cleaned


def test_sanitise_html_keeps_formatting_and_safe_links() -> None:
    cleaned = sanitise_html(
        '<p>Votre <strong>carte</strong> : <a href="https://banque.example/aide">aide</a></p>'
    )
    assert "<strong>carte</strong>" in cleaned
    assert 'href="https://banque.example/aide"' in cleaned
    assert "noopener" in cleaned
    assert sanitise_html("") == ""


def test_sanitise_html_drops_nul_and_lone_surrogates() -> None:
    cleaned = sanitise_html("<p>a\x00b\ud800c</p>")
    assert "\x00" not in cleaned
    assert "\ud800" not in cleaned


def test_html_to_text_is_readable() -> None:
    text = html_to_text(
        sanitise_html(
            "<p>Bonjour,</p><p>Ma carte &amp; mon code<br>sont bloqués.</p><script>x()</script>"
        )
    )
    assert text == "Bonjour,\nMa carte & mon code\nsont bloqués."


def test_clean_text_limits_and_cleans() -> None:
    assert clean_text("a\x00b\x07c\td\ne") == "abc\td\ne"
    assert clean_text("\ud83d") == "\ufffd"
    assert len(clean_text("x" * 100_000, 255)) == 255


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32.dll", "system32.dll"),
        ("facture\r\nX-Evil: 1.pdf", "factureX-Evil: 1.pdf"),
        ("rapport\x00.pdf", "rapport.pdf"),
        ('devis "final".pdf', "devis 'final'.pdf"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("..", "attachment"),
        ("", "attachment"),
        ("   .hidden ", "hidden"),
    ],
)
def test_safe_filename(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_safe_filename_is_bounded() -> None:
    assert len(safe_filename("a" * 1000 + ".pdf")) == 200
    assert "\ud800" not in safe_filename("a\ud800.pdf")


def test_sniffing_ignores_the_file_name_and_the_claim() -> None:
    assert sniff_content_type(b"<!DOCTYPE html><html><body><script>x()</script></body></html>") == (
        "text/html"
    )
    assert sniff_content_type(tiny_png()) == "image/png"
    assert sniff_content_type(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n") == "application/pdf"
    assert sniff_content_type(b"") in {"application/x-empty", "application/octet-stream"}


def test_store_bytes_uses_random_keys(settings: object) -> None:
    key1, digest1 = store_bytes(b"same")
    key2, digest2 = store_bytes(b"same")
    assert key1 != key2
    assert digest1 == digest2 == hashlib.sha256(b"same").hexdigest()
    with default_storage.open(key1) as handle:
        assert handle.read() == b"same"


@pytest.mark.django_db
def test_ingested_attachments_are_sniffed_and_stored_under_random_keys(ingest, settings) -> None:
    result = ingest(
        attachments=(
            InboundAttachment(
                "../../facture.pdf", b"<html><body>hello</body></html>", "application/pdf"
            ),
            InboundAttachment("photo\u202egpj.exe", tiny_png(), "image/jpeg"),
        )
    )
    attachments = {a.filename: a for a in Attachment.objects.filter(message=result.message)}
    assert set(attachments) == {"facture.pdf", "photogpj.exe"}
    html = attachments["facture.pdf"]
    assert html.content_type == "text/html"
    assert html.declared_content_type == "application/pdf"
    assert attachments["photogpj.exe"].content_type == "image/png"
    for attachment in attachments.values():
        assert "facture" not in attachment.storage_key and ".." not in attachment.storage_key
        assert default_storage.exists(attachment.storage_key)
    with default_storage.open(html.storage_key) as handle:
        assert handle.read() == b"<html><body>hello</body></html>"


@pytest.mark.django_db
def test_oversize_attachment_is_set_aside_and_the_message_kept(ingest, settings) -> None:
    settings.ATTACHMENT_MAX_BYTES = 100
    result = ingest(
        attachments=(
            InboundAttachment("gros.bin", b"x" * 101),
            InboundAttachment("petit.txt", b"ok"),
        )
    )
    assert result.created
    assert list(result.message.attachments.values_list("filename", flat=True)) == ["petit.txt"]
    rejected = Event.objects.get(conversation=result.conversation, verb="attachment.rejected")
    assert rejected.data == {"filename": "gros.bin", "size": 101, "reason": "too_large"}


@pytest.mark.django_db
def test_ingested_html_is_sanitised_and_text_derived(ingest) -> None:
    result = ingest(
        text="",
        html='<p>Bonjour <img src="https://t.example/p.gif"><a href="javascript:x()">ici</a></p>'
        "<script>steal()</script>",
    )
    message = result.message
    assert "script" not in message.html and "t.example" not in message.html
    assert "javascript" not in message.html
    assert message.text == "Bonjour ici"
