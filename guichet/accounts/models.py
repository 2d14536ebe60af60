"""Agents, teams (queues), sites and skills."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from guichet.core.models import Calendar


class Skill(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("skill")
        verbose_name_plural = _("skills")

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    """An agency or counter where customers are received in person."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    address = models.TextField(_("address"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    calendar = models.ForeignKey(
        Calendar, on_delete=models.PROTECT, related_name="sites", verbose_name=_("opening hours")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """A queue of work: its calendar and response targets set the due times of its conversations."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    calendar = models.ForeignKey(
        Calendar, on_delete=models.PROTECT, related_name="teams", verbose_name=_("calendar")
    )
    email = models.EmailField(_("email address"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    skills = models.ManyToManyField(Skill, blank=True, related_name="teams")
    first_response_minutes = models.PositiveIntegerField(
        _("first human response target (business minutes)"), default=240
    )
    next_response_minutes = models.PositiveIntegerField(
        _("next response target (business minutes)"), default=480
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution target (business minutes)"), default=5 * 8 * 60
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who works in Guichet: an agent, a supervisor or an administrator."""

    class Role(models.TextChoices):
        AGENT = "agent", _("Agent")
        SUPERVISOR = "supervisor", _("Supervisor")
        ADMIN = "admin", _("Administrator")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.AGENT)
    teams = models.ManyToManyField(
        Team, blank=True, related_name="members", verbose_name=_("teams")
    )
    skills = models.ManyToManyField(
        Skill, blank=True, related_name="agents", verbose_name=_("skills")
    )
    sites = models.ManyToManyField(Site, blank=True, related_name="agents", verbose_name=_("sites"))
    languages = models.JSONField(_("languages"), default=list, blank=True)
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), default=20, help_text=_("Open conversations this person can hold at once.")
    )
    preferred_language = models.CharField(_("interface language"), max_length=8, blank=True)
    # Automatic assignment only picks available agents (signed in and not set away).
    available = models.BooleanField(_("available"), default=False)
    last_assigned_at = models.DateTimeField(_("last automatic assignment"), null=True, blank=True)

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class LoginFailure(models.Model):
    """One failed sign-in, counted per client and account, per client and per account.

    `device` is set when the browser had signed in to this account before (the known-browser
    cookie): its failures count against that browser alone, not against the shared address.
    """

    username = models.CharField(_("user name"), max_length=150, db_index=True)
    address = models.CharField(_("client address"), max_length=64, db_index=True)
    device = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("failed sign-in")
        verbose_name_plural = _("failed sign-ins")

    def __str__(self) -> str:
        return f"{self.username} from {self.address}"
