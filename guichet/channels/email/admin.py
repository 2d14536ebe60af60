"""Admin for mailboxes (the IMAP password is write-only), received mail (quarantine) and the
outbox (read-only: the worker sends, retries and marks each row)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from guichet.channels.email.models import InboundEmail, Mailbox, OutboundEmail
from guichet.channels.email.services import email_reprocess


class MailboxForm(forms.ModelForm):
    imap_password = forms.CharField(
        label=_("IMAP password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Never shown. Leave blank to keep the stored password."),
    )

    class Meta:
        model = Mailbox
        fields = [
            "address",
            "name",
            "team",
            "enabled",
            "auto_acknowledge",
            "imap_host",
            "imap_port",
            "imap_ssl",
            "imap_username",
            "imap_password",
            "imap_folder",
        ]

    def clean_imap_password(self) -> str:
        typed: str = self.cleaned_data.get("imap_password") or ""
        # Blank keeps the stored one: the admin never sends the password back to the browser.
        return typed or (self.instance.imap_password if self.instance.pk else "")


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = MailboxForm
    list_display = ["address", "team", "enabled", "imap_host", "last_poll_at", "last_poll_error"]
    list_filter = ["enabled", "team"]
    readonly_fields = ["last_poll_at", "last_poll_error"]
    search_fields = ["address", "name"]


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    list_display = ["received_at", "mailbox", "message_id_header", "source", "state", "raw_size"]
    list_filter = ["state", "source", "mailbox"]
    search_fields = ["message_id_header", "envelope_from", "error"]
    date_hierarchy = "received_at"
    actions = ["reprocess"]
    # Stored mail is evidence: nobody edits it here, and the raw bytes stay out of the page.
    exclude = ["raw"]
    readonly_fields = [
        "mailbox",
        "source",
        "dedupe_key",
        "message_id_header",
        "raw_sha256",
        "raw_size",
        "envelope_from",
        "envelope_to",
        "state",
        "error",
        "message",
        "received_at",
        "processed_at",
        "duplicates",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Process the selected quarantined or ignored messages again"))
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundEmail]) -> None:
        outcomes = [email_reprocess(row).state for row in queryset.order_by("pk")]
        ingested = outcomes.count(InboundEmail.State.INGESTED)
        self.message_user(
            request,
            ngettext(
                "%(ingested)d of %(total)d message ingested.",
                "%(ingested)d of %(total)d messages ingested.",
                len(outcomes),
            )
            % {"ingested": ingested, "total": len(outcomes)},
            messages.SUCCESS if ingested == len(outcomes) else messages.WARNING,
        )


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = [
        "created_at", "kind", "to_address", "state", "attempts", "next_attempt_at", "sent_at",
    ]  # fmt: skip
    list_filter = ["state", "kind", "mailbox"]
    search_fields = ["to_address", "message_id_header", "last_error"]
    list_select_related = ["mailbox"]
    date_hierarchy = "created_at"
    raw_id_fields = ["conversation", "message"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
