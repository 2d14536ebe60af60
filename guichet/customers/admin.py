"""Admin for customers, read-only: edits and merges go through the agent pages and the services,
which normalise identities and write the customer's timeline."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from guichet.customers.models import Customer, Identity


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["display_name", "preferred_language", "advisor", "created_at"]
    search_fields = ["display_name", "identities__value"]
    raw_id_fields = ["advisor", "merged_into"]
    inlines = [IdentityInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
