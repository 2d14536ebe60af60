"""Admin for tags (editable) and the conversation records, which it only shows.

Conversations, messages, attachments and the timeline change through the services, which write
each change's event: an edit here would skip the audit trail, so these pages are read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from guichet.conversations.models import Attachment, Conversation, Event, Message, Tag


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("created_at", "direction", "channel", "author_name", "delivery_status")
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["number", "subject", "status", "team", "assignee", "due_at"]
    list_filter = ["status", "channel", "team"]
    search_fields = ["number", "subject"]
    list_select_related = ["team", "assignee"]
    raw_id_fields = ["customer", "assignee"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["pk", "conversation", "direction", "channel", "delivery_status", "created_at"]
    list_filter = ["direction", "channel", "delivery_status"]
    list_select_related = ["conversation"]
    raw_id_fields = ["conversation", "author_agent"]
    exclude = ["html"]  # the text says it; the HTML would show as markup


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["filename", "content_type", "size", "message", "created_at"]
    exclude = ["storage_key"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "verb", "conversation", "customer", "actor_name"]
    list_filter = ["verb"]
    list_select_related = ["conversation", "customer"]
    raw_id_fields = ["conversation", "customer", "actor"]
    date_hierarchy = "created_at"
