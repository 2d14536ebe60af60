from django.contrib import admin

from guichet.conversations.models import Conversation, Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["number", "subject", "status", "team", "assignee", "due_at"]
    list_filter = ["status", "channel", "team"]
    search_fields = ["number", "subject"]
    raw_id_fields = ["customer", "assignee"]
    readonly_fields = ["number", "created_at", "updated_at"]
