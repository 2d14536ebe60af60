"""Admin of the phone channel (read-only lists: changes go through the agent pages)."""

from django.contrib import admin

from guichet.channels.phone.models import CallbackAttempt, CallbackRequest, CallLog


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(CallLog)
class CallLogAdmin(ReadOnly):
    list_display = ("pk", "conversation", "direction", "duration_seconds", "agent", "created_at")


@admin.register(CallbackRequest)
class CallbackRequestAdmin(ReadOnly):
    list_display = ("pk", "number", "status", "source", "attempts", "created_at")
    list_filter = ("status", "source")
    search_fields = ("number",)


@admin.register(CallbackAttempt)
class CallbackAttemptAdmin(ReadOnly):
    list_display = ("pk", "request", "outcome", "agent", "created_at")
