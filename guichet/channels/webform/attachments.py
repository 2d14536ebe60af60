"""Files a customer attaches on the form or the portal: how many, how large, which kinds.

The kind is read from the bytes (`conversations.content.sniff_content_type`, libmagic), never from
the file name or the browser's claim, and must be on a short list of documents and images people
actually send (RELIABILITY F04). Every problem is reported with the file's name and the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from guichet.conversations.content import safe_filename, sniff_content_type
from guichet.conversations.types import InboundAttachment

# Sniffed type → what people call it (shown in the form's help text).
ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/heic": "HEIC",
    "image/heif": "HEIC",
    "image/tiff": "TIFF",
    "text/plain": "TXT",
    "text/csv": "CSV",
    "application/msword": "Word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.ms-excel": "Excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.oasis.opendocument.text": "OpenDocument",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument",
}
KINDS_LABEL = gettext_lazy(
    "PDF, images (JPEG, PNG, GIF, WebP, HEIC, TIFF), Word, Excel, OpenDocument or text"
)
READ_CHUNK = 64 * 1024


class AttachmentError(ValueError):
    """A file cannot be accepted; the message says which file and why."""


@dataclass(frozen=True)
class Limits:
    count: int
    size: int

    @property
    def size_label(self) -> str:
        return str(filesizeformat(self.size))


def limits() -> Limits:
    return Limits(
        count=settings.WEBFORM_MAX_ATTACHMENTS, size=settings.WEBFORM_ATTACHMENT_MAX_BYTES
    )


def limits_help() -> str:
    current = limits()
    return ngettext(
        "Optional. Up to %(count)d file of %(size)s at most: %(kinds)s.",
        "Optional. Up to %(count)d files of %(size)s each at most: %(kinds)s.",
        current.count,
    ) % {"count": current.count, "size": current.size_label, "kinds": KINDS_LABEL}


def _read(upload: UploadedFile, max_bytes: int) -> bytes:
    """The file's bytes, reading at most one byte past the limit."""
    chunks: list[bytes] = []
    total = 0
    upload.seek(0)
    while total <= max_bytes:
        chunk = upload.read(min(READ_CHUNK, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def attachments_read(uploads: Sequence[UploadedFile]) -> tuple[InboundAttachment, ...]:
    """Check every file and return them ready for `message_ingest`; `AttachmentError` otherwise.

    A browser sends one empty, nameless part when no file was chosen: it is skipped.
    """
    chosen = [u for u in uploads if u.name or (u.size or 0) > 0]
    current = limits()
    if len(chosen) > current.count:
        raise AttachmentError(
            ngettext(
                "You can attach %(count)d file at most.",
                "You can attach %(count)d files at most.",
                current.count,
            )
            % {"count": current.count}
        )
    result = []
    for upload in chosen:
        name = safe_filename(upload.name or "")
        if (upload.size or 0) > current.size:
            raise AttachmentError(
                _("“%(name)s” is too large: each file may have %(size)s at most.")
                % {"name": name, "size": current.size_label}
            )
        content = _read(upload, current.size)
        if len(content) > current.size:
            raise AttachmentError(
                _("“%(name)s” is too large: each file may have %(size)s at most.")
                % {"name": name, "size": current.size_label}
            )
        if not content:
            raise AttachmentError(_("“%(name)s” is empty.") % {"name": name})
        sniffed = sniff_content_type(content)
        if sniffed not in ALLOWED_TYPES:
            raise AttachmentError(
                _("“%(name)s” cannot be sent: accepted files are %(kinds)s.")
                % {"name": name, "kinds": KINDS_LABEL}
            )
        result.append(
            InboundAttachment(
                filename=name,
                content=content,
                declared_content_type=str(upload.content_type or "")[:100],
            )
        )
    return tuple(result)
