"""Admin for sites' desks and closures, agents' presence and absences, types and appointments."""

from django.contrib import admin

from guichet.channels.appointments.models import (
    AgentAbsence,
    AgentSchedule,
    Appointment,
    AppointmentType,
    Desk,
    SiteClosure,
)


@admin.register(Desk)
class DeskAdmin(admin.ModelAdmin):
    list_display = ["site", "number", "name", "active"]
    list_filter = ["site", "active"]


@admin.register(SiteClosure)
class SiteClosureAdmin(admin.ModelAdmin):
    list_display = ["site", "date", "reason"]
    list_filter = ["site"]


@admin.register(AgentSchedule)
class AgentScheduleAdmin(admin.ModelAdmin):
    list_display = ["agent", "site", "weekday", "date", "starts", "ends"]
    list_filter = ["site", "weekday"]


@admin.register(AgentAbsence)
class AgentAbsenceAdmin(admin.ModelAdmin):
    list_display = ["agent", "starts_at", "ends_at", "reason"]


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "mode", "duration_minutes", "team", "active"]
    filter_horizontal = ["skills"]


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "name", "type", "site", "agent", "status"]
    list_filter = ["status", "site", "type"]
    readonly_fields = ["reference", "customer", "conversation", "reminder_sent_at"]

    # Changes go through the services (events, notices): the admin only reads.
    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
