"""Admin for agents (with unlocking a locked-out sign-in), teams, skills and sites."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from guichet.accounts.models import LoginFailure, Site, Skill, Team, User
from guichet.accounts.services import login_throttle_clear


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "is_active"]
    list_filter = ["role", "is_active", "teams"]
    filter_horizontal = ["teams", "skills", "sites", "groups", "user_permissions"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (
            _("Guichet"),
            {
                "fields": (
                    "role",
                    "teams",
                    "skills",
                    "sites",
                    "languages",
                    "capacity",
                    "preferred_language",
                )
            },
        ),
    )
    actions = ["unlock_sign_in"]

    @admin.action(description=_("Unlock sign-in (forget failed attempts)"), permissions=["change"])
    def unlock_sign_in(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        actor = request.user
        assert isinstance(actor, User)
        users = list(queryset.order_by("pk"))
        for user in users:
            forgotten = login_throttle_clear(user=user, actor=actor)
            # The admin's history of the agent records who unlocked, and when.
            self.log_change(
                request, user, f"Sign-in unlocked ({forgotten} failed attempts forgotten)"
            )
        self.message_user(
            request,
            ngettext(
                "Sign-in unlocked for %(count)d agent.",
                "Sign-in unlocked for %(count)d agents.",
                len(users),
            )
            % {"count": len(users)},
            messages.SUCCESS,
        )


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    """Failed sign-ins, for support: read-only (unlock an agent from the agents' list)."""

    list_display = ["created_at", "username", "address"]
    list_filter = ["created_at"]
    search_fields = ["username", "address"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "calendar", "first_response_minutes"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["skills"]


admin.site.register(Skill)
admin.site.register(Site)
