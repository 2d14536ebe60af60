"""Walk-in queue: the reasons a site offers at its kiosk and the tickets visitors take.

A ticket's number restarts at 1 each day at each site. Its life: waiting → called (at a desk, by
an agent; it may be recalled) → served or absent; a visitor may also cancel while waiting.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from guichet.accounts.models import Site


class QueueReason(models.Model):
    """Why a visitor comes (a kiosk button), configured per site, labelled in French and English."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="queue_reasons", verbose_name=_("site")
    )
    label_fr = models.CharField(_("label (French)"), max_length=80)
    label_en = models.CharField(_("label (English)"), max_length=80)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["site", "position", "id"]
        verbose_name = _("queue reason")
        verbose_name_plural = _("queue reasons")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.label_en if (get_language() or "fr").startswith("en") else self.label_fr


class Ticket(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        CALLED = "called", _("Called")
        SERVED = "served", _("Served")
        ABSENT = "absent", _("Absent")
        CANCELLED = "cancelled", _("Cancelled")

    class Kind(models.TextChoices):
        WALK_IN = "walk_in", _("Walk-in")
        APPOINTMENT = "appointment", _("Appointment")

    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("site")
    )
    service_date = models.DateField(_("day"))
    number = models.PositiveIntegerField(_("number"))
    reason = models.ForeignKey(
        QueueReason,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        verbose_name=_("reason"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.WALK_IN)
    # An appointment of the appointments app, when the visitor checked in for one (no foreign key:
    # that app is optional for the queue).
    appointment_id = models.PositiveBigIntegerField(null=True, blank=True)
    priority = models.BooleanField(
        _("priority needed"),
        default=False,
        help_text=_("Accessibility or vulnerability: called before others."),
    )
    name = models.CharField(_("name"), max_length=120, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    # The ticket page's address: unguessable, so a visitor sees only their own ticket.
    token = models.CharField(max_length=43, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.WAITING
    )
    # A label until the appointments app provides desks (see docs/counter-paper.md).
    desk = models.CharField(_("desk"), max_length=60, blank=True)
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("called by"),
    )
    recalls = models.PositiveSmallIntegerField(_("recalls"), default=0)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    taken_at = models.DateTimeField(_("taken"))
    called_at = models.DateTimeField(_("called"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["taken_at", "id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "service_date", "number"], name="ticket_unique_daily_number"
            )
        ]
        indexes = [
            models.Index(fields=["site", "status", "taken_at"], name="ticket_site_status_taken"),
            models.Index(fields=["site", "service_date"], name="ticket_site_day"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def code(self) -> str:
        """What the board and the paper slip show: P for priority, R for appointments."""
        prefix = "R" if self.kind == self.Kind.APPOINTMENT else ("P" if self.priority else "A")
        return f"{prefix}{self.number:03d}"
