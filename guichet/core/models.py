"""Shared base data: business-hours calendars and number sequences."""

from __future__ import annotations

from datetime import date, time

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from guichet.core.calendars import CalendarSpec


def _default_time_zone() -> str:
    return str(settings.TIME_ZONE)


class Calendar(models.Model):
    """Business hours and holidays in a time zone; teams and sites compute due times with it."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default=_default_time_zone)

    class Meta:
        verbose_name = _("calendar")
        verbose_name_plural = _("calendars")

    def __str__(self) -> str:
        return self.name

    def spec(self) -> CalendarSpec:
        hours: dict[int, list[tuple[time, time]]] = {}
        for period in self.periods.all():
            hours.setdefault(period.weekday, []).append((period.opens, period.closes))
        holidays: frozenset[date] = frozenset(h.date for h in self.holidays.all())
        return CalendarSpec(time_zone=self.time_zone, hours=hours, holidays=holidays)


class OpeningPeriod(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(
        _("closes"),
        help_text=_(
            "00:00 means midnight (end of day); a closing time before the opening time runs past "
            "midnight."
        ),
    )

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name = _("opening period")
        verbose_name_plural = _("opening periods")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Holiday(models.Model):
    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_per_day")
        ]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Sequence(models.Model):
    """A named counter for human-friendly numbers; incremented inside the writer's transaction."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
