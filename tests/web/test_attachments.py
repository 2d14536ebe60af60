"""Attachment download headers (RELIABILITY F03)."""

from __future__ import annotations

import pytest

from guichet.conversations.models import Attachment
from guichet.conversations.types import InboundAttachment
from guichet.web.views.attachments import served_content_type

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)


def test_download_headers(ingest, agent, login) -> None:
    ingest(attachments=(InboundAttachment("relevé d'identité.png", PNG, "image/png"),))
    attachment = Attachment.objects.get()
    response = login(agent).get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''relev%C3%A9%20d%27identit%C3%A9.png" in disposition


def test_active_content_served_as_bytes(ingest, agent, login) -> None:
    html = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
    ingest(attachments=(InboundAttachment("page.html", html, "image/png"),))
    attachment = Attachment.objects.get()
    response = login(agent).get(f"/attachments/{attachment.pk}/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("sniffed", "served"),
    [
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("text/javascript", "application/octet-stream"),
        ("", "application/octet-stream"),
        ("image/jpeg", "image/jpeg"),
        ("application/pdf", "application/pdf"),
        ("text/plain", "text/plain"),
    ],
)
def test_served_content_type(sniffed: str, served: str) -> None:
    assert served_content_type(sniffed) == served


def test_attachment_link_on_conversation_page(ingest, agent, login) -> None:
    result = ingest(attachments=(InboundAttachment("scan.png", PNG),))
    attachment = Attachment.objects.get()
    body = login(agent).get(f"/c/{result.conversation.number}/").content.decode()
    assert f'href="/attachments/{attachment.pk}/"' in body and "scan.png" in body
