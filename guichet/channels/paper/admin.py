"""Admin: received paper letters, read-only (OCR status and errors, for support)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from guichet.channels.paper.models import PaperLetter


@admin.register(PaperLetter)
class PaperLetterAdmin(admin.ModelAdmin):
    list_display = ["filename", "status", "ocr_error", "pages", "matched_by", "created_at"]
    list_filter = ["status", "matched_by"]
    exclude = ["storage_key", "text"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
