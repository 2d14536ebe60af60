from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from guichet.accounts.models import Site, Skill, Team, User


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


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "calendar", "first_response_minutes"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["skills"]


admin.site.register(Skill)
admin.site.register(Site)
