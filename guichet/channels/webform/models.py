"""Rate-limit counters, portal sign-in links and portal sessions.

Nothing here stores a usable secret: links and sessions keep only the SHA-256 of their token, and
rate-limit rows keep a keyed hash of the client address or email address, not the value itself.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from guichet.customers.models import Customer


class RateLimitHit(models.Model):
    """One counted action (a form message, a link request) for one key, within a scope."""

    scope = models.CharField(max_length=40)
    key_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("rate-limit hit")
        verbose_name_plural = _("rate-limit hits")
        indexes = [
            models.Index(fields=["scope", "key_digest", "created_at"], name="webform_rate_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.created_at}"


class PortalLink(models.Model):
    """A sign-in link asked for on the portal; made for known and unknown addresses alike.

    The token itself is never stored: `token_digest` is its SHA-256. Until the mail is sent,
    `nonce` holds what the token is derived from (an HMAC under the secret key), so a copy of the
    database alone cannot rebuild a link; it is cleared as soon as the mail has gone.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        # No customer has this address: nothing is sent (the page said the same thing anyway).
        UNKNOWN = "unknown", _("Unknown address")

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="portal_links"
    )
    # The address typed; forgotten as soon as it is found to belong to nobody.
    address = models.CharField(max_length=254, blank=True)
    language = models.CharField(max_length=8, blank=True)
    token_digest = models.CharField(max_length=64, unique=True)
    nonce = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("portal sign-in link")
        verbose_name_plural = _("portal sign-in links")

    def __str__(self) -> str:
        return f"{self.pk} {self.state}"


class PortalSession(models.Model):
    """A customer signed in to the portal (not a Django user: agents and customers never mix)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_sessions")
    # The email identity the link was sent to: replies are ingested under it.
    address = models.CharField(max_length=254)
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("portal session")
        verbose_name_plural = _("portal sessions")

    def __str__(self) -> str:
        return f"{self.pk} {self.customer_id}"
