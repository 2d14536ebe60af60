"""Appointments at a site: desks, closures, agents' presence, appointment types and bookings.

Sites themselves live in `accounts` (with their opening-hours calendar); this app keeps what the
counter needs around them. Times of day are wall-clock times in the site's calendar zone; instants
(`starts_at`, `ends_at`) are stored in UTC, so availability stays right across DST changes.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from guichet.accounts.models import Site, Skill, Team
from guichet.conversations.models import Conversation
from guichet.customers.models import Customer


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Desk(models.Model):
    """A counter position at a site where one agent receives people (also used by the queue)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="desks")
    name = models.CharField(_("name"), max_length=60)
    number = models.PositiveSmallIntegerField(_("number"), default=1)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["site", "number", "name"]
        verbose_name = _("desk")
        verbose_name_plural = _("desks")
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="desk_unique_number_per_site")
        ]

    def __str__(self) -> str:
        return f"{self.site} — {self.name}"


class SiteClosure(models.Model):
    """A day a site is closed besides its calendar's holidays (works, strike, local event)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField(_("date"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("site closure")
        verbose_name_plural = _("site closures")
        constraints = [
            models.UniqueConstraint(fields=["site", "date"], name="closure_unique_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.date}"


class AgentSchedule(models.Model):
    """When an agent is present at a site: every given weekday, or on one date only."""

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_schedules"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="agent_schedules")
    weekday = models.PositiveSmallIntegerField(
        _("weekday"), choices=Weekday.choices, null=True, blank=True
    )
    date = models.DateField(_("date"), null=True, blank=True)
    starts = models.TimeField(_("from"))
    ends = models.TimeField(_("to"))

    class Meta:
        ordering = ["agent", "weekday", "date", "starts"]
        verbose_name = _("agent presence")
        verbose_name_plural = _("agents' presence")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__isnull=False, date__isnull=True)
                | models.Q(weekday__isnull=True, date__isnull=False),
                name="schedule_weekday_xor_date",
            ),
            models.CheckConstraint(
                condition=models.Q(ends__gt=models.F("starts")), name="schedule_ends_after_starts"
            ),
        ]
        indexes = [models.Index(fields=["site", "agent"], name="schedule_site_agent")]

    def __str__(self) -> str:
        when = self.date.isoformat() if self.date else self.get_weekday_display()
        return f"{self.agent} @ {self.site} {when} {self.starts:%H:%M}-{self.ends:%H:%M}"


class AgentAbsence(models.Model):
    """An exception to the schedule: the agent is away between two instants (leave, training)."""

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="absences"
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("to"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        indexes = [models.Index(fields=["agent", "starts_at"], name="absence_agent_start")]

    def __str__(self) -> str:
        return f"{self.agent} {self.starts_at}-{self.ends_at}"


class AppointmentType(models.Model):
    """What can be booked: a mode, a duration, and who may serve it (a team and/or skills)."""

    class Mode(models.TextChoices):
        IN_PERSON = "in_person", _("In person")
        PHONE = "phone", _("By phone")
        VIDEO = "video", _("By video")

    name = models.CharField(_("name"), max_length=120)
    name_fr = models.CharField(_("name in French"), max_length=120, blank=True)
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices)
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"), default=30)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appointment_types",
        verbose_name=_("team"),
        help_text=_("Only members of this team serve it (any agent when empty)."),
    )
    skills = models.ManyToManyField(
        Skill, blank=True, related_name="appointment_types", verbose_name=_("skills")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["mode", "name"]
        verbose_name = _("appointment type")
        verbose_name_plural = _("appointment types")

    def __str__(self) -> str:
        return self.name

    def label(self, language: str) -> str:
        if language.startswith("fr") and self.name_fr:
            return self.name_fr
        return self.name


def new_reference() -> str:
    return secrets.token_urlsafe(9)


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        CANCELLED = "cancelled", _("Cancelled")
        ATTENDED = "attended", _("Attended")
        NO_SHOW = "no_show", _("Did not come")

    reference = models.CharField(max_length=16, unique=True, default=new_reference, editable=False)
    type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="appointments")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="appointments")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="appointments",
        verbose_name=_("advisor"),
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="appointments")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="appointments"
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.BOOKED
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email address"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        constraints = [
            # Second line of defence behind the per-agent row lock taken when booking.
            models.UniqueConstraint(
                fields=["agent", "starts_at"],
                condition=~models.Q(status="cancelled"),
                name="appointment_agent_start_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="appointment_ends_after_starts",
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "starts_at"], name="appointment_agent_start"),
            models.Index(fields=["site", "starts_at"], name="appointment_site_start"),
            models.Index(fields=["status", "starts_at"], name="appointment_status_start"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.BOOKED
