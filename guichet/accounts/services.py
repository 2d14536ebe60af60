"""Writers for agents, teams and login throttling."""

from __future__ import annotations

import logging
import math
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from guichet.accounts.models import LoginFailure, Team, User
from guichet.core.models import Calendar

logger = logging.getLogger(__name__)


# Sign-in throttling. Three counters, over `LoginFailure` rows (docs/operations.md):
# - one client and one account: LOGIN_MAX_ATTEMPTS failures in LOGIN_LOCKOUT_SECONDS;
# - one client, all accounts: four times as many, in the same window;
# - one account, all clients: LOGIN_ACCOUNT_MAX_ATTEMPTS in LOGIN_ACCOUNT_LOCKOUT_SECONDS.
# A browser that signed in to the account before (`device`, from a signed cookie) is held by its
# own failures only: others' typos, from its address or against its account, never lock it out.
CLIENT_ATTEMPTS_FACTOR = 4


def _username_key(username: str) -> str:
    return username.strip().lower()[:150]


def _wait(rows: QuerySet[LoginFailure], limit: int, window: int, now: datetime) -> int:
    """Seconds until fewer than `limit` of `rows` are within the window (0: not locked)."""
    since = now - timedelta(seconds=window)
    times = list(
        rows.filter(created_at__gte=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[limit - 1 : limit]
    )
    if not times:
        return 0
    return max(1, math.ceil((times[0] + timedelta(seconds=window) - now).total_seconds()))


def login_throttle_wait(*, username: str, address: str, device: str = "") -> int:
    """Seconds before this client may try this account again; 0 when it may try now."""
    now = timezone.now()
    failures = LoginFailure.objects.all()
    account = _username_key(username)
    limit = settings.LOGIN_MAX_ATTEMPTS
    window = settings.LOGIN_LOCKOUT_SECONDS
    if device:
        return _wait(failures.filter(username=account, device=device), limit, window, now)
    return max(
        _wait(
            failures.filter(username=account, address=address[:64], device=""), limit, window, now
        ),
        _wait(failures.filter(address=address[:64]), limit * CLIENT_ATTEMPTS_FACTOR, window, now),
        _wait(
            failures.filter(username=account),
            settings.LOGIN_ACCOUNT_MAX_ATTEMPTS,
            settings.LOGIN_ACCOUNT_LOCKOUT_SECONDS,
            now,
        ),
    )


def login_is_throttled(*, username: str, address: str, device: str = "") -> bool:
    return login_throttle_wait(username=username, address=address, device=device) > 0


def login_failure_record(*, username: str, address: str, device: str = "") -> None:
    LoginFailure.objects.create(
        username=_username_key(username), address=address[:64], device=device[:32]
    )
    if random.random() < 0.02:  # cheap upkeep: keep only what a window can still count
        oldest = max(settings.LOGIN_LOCKOUT_SECONDS, settings.LOGIN_ACCOUNT_LOCKOUT_SECONDS)
        LoginFailure.objects.filter(
            created_at__lt=timezone.now() - timedelta(seconds=oldest)
        ).delete()


def login_success_record(*, username: str, address: str, device: str = "") -> None:
    """Forget this client's failures for the account (others' failures still count)."""
    pair = Q(address=address[:64], device="")
    if device:
        pair |= Q(device=device)
    LoginFailure.objects.filter(pair, username=_username_key(username)).delete()


def login_throttle_clear(*, user: User, actor: User) -> int:
    """Unlock `user`'s sign-in for every client (an administrator's decision); logged."""
    deleted, _ = LoginFailure.objects.filter(username=_username_key(user.get_username())).delete()
    logger.info(
        "sign-in unlocked for %s by %s (%d failures forgotten)",
        user.get_username(),
        actor.get_username(),
        deleted,
    )
    return deleted


@transaction.atomic
def team_create(
    *,
    name: str,
    slug: str,
    calendar: Calendar,
    email: str = "",
    languages: list[str] | None = None,
    first_response_minutes: int = 240,
) -> Team:
    return Team.objects.create(
        name=name,
        slug=slug,
        calendar=calendar,
        email=email,
        languages=languages or [],
        first_response_minutes=first_response_minutes,
    )


@transaction.atomic
def agent_create(
    *,
    username: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    role: str = User.Role.AGENT,
    teams: list[Team] | None = None,
    languages: list[str] | None = None,
    capacity: int = 20,
) -> User:
    user = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        role=role,
        languages=languages or ["fr"],
        capacity=capacity,
        is_staff=role == User.Role.ADMIN,
        is_superuser=role == User.Role.ADMIN,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    if teams:
        user.teams.set(teams)
    return user
