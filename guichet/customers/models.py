"""Customers and their identities (email addresses, phone numbers, handles)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Customer(models.Model):
    display_name = models.CharField(_("name"), max_length=200, blank=True)
    preferred_language = models.CharField(_("preferred language"), max_length=8, blank=True)
    preferred_channel = models.CharField(_("preferred channel"), max_length=20, blank=True)
    accessibility_needs = models.TextField(_("accessibility needs"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="advised_customers",
        verbose_name=_("named advisor"),
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        verbose_name=_("merged into"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [models.Index(fields=["display_name"])]

    def __str__(self) -> str:
        return self.display_name or f"#{self.pk}"


class Identity(models.Model):
    """One way to reach or recognise a customer; the value is normalised per kind."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        CHAT = "chat", _("Chat")
        PORTAL = "portal", _("Portal")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=254)
    verified = models.BooleanField(_("verified"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identity_unique_value")
        ]
        ordering = ["kind", "value"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"
