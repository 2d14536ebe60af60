from django.contrib import admin

from guichet.customers.models import Customer, Identity


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["display_name", "preferred_language", "advisor", "created_at"]
    search_fields = ["display_name", "identities__value"]
    raw_id_fields = ["advisor", "merged_into"]
    inlines = [IdentityInline]
