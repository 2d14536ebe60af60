"""Admin: the reasons each site's kiosk offers (editable); tickets (read-only, for support)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from guichet.channels.counter.models import QueueReason, Ticket


@admin.register(QueueReason)
class QueueReasonAdmin(admin.ModelAdmin):
    list_display = ["label_fr", "label_en", "site", "position", "active"]
    list_filter = ["site", "active"]
    list_editable = ["position", "active"]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["code", "site", "service_date", "status", "desk", "taken_at", "called_at"]
    list_filter = ["site", "status", "service_date"]
    exclude = ["token"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
