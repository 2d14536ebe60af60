"""Attachment download: never rendered by the browser, only saved (RELIABILITY F03)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from guichet.conversations import selectors
from guichet.conversations.models import Attachment
from guichet.web.views.common import acting_user

# Types a browser may execute or render as a document: always served as opaque bytes.
_ACTIVE_MARKERS = ("html", "xml", "svg", "javascript", "ecmascript", "x-shockwave-flash")


def served_content_type(sniffed: str) -> str:
    kind = (sniffed or "").lower().split(";")[0].strip()
    if not kind or "/" not in kind or any(marker in kind for marker in _ACTIVE_MARKERS):
        return "application/octet-stream"
    return kind


@login_required
@require_GET
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    user = acting_user(request)
    try:
        attachment = selectors.attachment_get(user=user, attachment_id=pk)
    except Attachment.DoesNotExist:
        raise Http404(_("No such attachment.")) from None
    try:
        handle = default_storage.open(attachment.storage_key, "rb")
    except FileNotFoundError:
        raise Http404(_("This file is missing from storage.")) from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type=served_content_type(attachment.content_type),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response
