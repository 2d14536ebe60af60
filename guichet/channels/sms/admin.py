"""Admin of the SMS channel: the outbox (read-only) and the opt-out list."""

from django.contrib import admin

from guichet.channels.sms.models import OutboundSms, SmsOptOut


@admin.register(SmsOptOut)
class SmsOptOutAdmin(admin.ModelAdmin):
    list_display = ("number", "keyword", "created_at")
    search_fields = ("number",)


@admin.register(OutboundSms)
class OutboundSmsAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "to_number", "state", "parts", "attempts", "created_at")
    list_filter = ("state", "kind")
    search_fields = ("to_number", "provider_id")
    readonly_fields = [field.name for field in OutboundSms._meta.fields]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
