from django.contrib import admin

from guichet.core.models import Calendar, Holiday, OpeningPeriod


class OpeningPeriodInline(admin.TabularInline):
    model = OpeningPeriod
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone"]
    inlines = [OpeningPeriodInline, HolidayInline]
