"""Rate limits kept in the database, so they hold across web processes and restarts (W06).

A key (a client address, an email address) is stored as a keyed hash: the table says "this key
acted N times this hour" without keeping the address itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.crypto import salted_hmac

from guichet.channels.webform.models import RateLimitHit

WINDOW = timedelta(hours=1)
_SALT = "guichet.channels.webform.ratelimit"

# Scopes.
FORM_IP = "form-ip"
FORM_ADDRESS = "form-address"
LINK_ADDRESS = "link-address"


@dataclass(frozen=True)
class Limit:
    scope: str
    key: str
    per_hour: int


def digest(key: str) -> str:
    return salted_hmac(_SALT, key.strip().lower(), algorithm="sha256").hexdigest()


def _count(limit: Limit, now: datetime) -> int:
    return RateLimitHit.objects.filter(
        scope=limit.scope, key_digest=digest(limit.key), created_at__gt=now - WINDOW
    ).count()


def exceeded(limits: list[Limit], now: datetime | None = None) -> Limit | None:
    """The first limit already reached (the next action would pass it), or None."""
    now = now or timezone.now()
    for limit in limits:
        if limit.key and _count(limit, now) >= limit.per_hour:
            return limit
    return None


def record(limits: list[Limit], now: datetime | None = None) -> None:
    """Count one action against each limit; now and then, forget hits older than the window."""
    now = now or timezone.now()
    RateLimitHit.objects.bulk_create(
        [
            RateLimitHit(scope=limit.scope, key_digest=digest(limit.key), created_at=now)
            for limit in limits
            if limit.key
        ]
    )
    if random.random() < 0.02:  # cheap upkeep: the table stays about one hour deep
        RateLimitHit.objects.filter(created_at__lt=now - WINDOW).delete()
