"""Writers for agents, teams and login throttling."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from guichet.accounts.models import LoginFailure, Team, User
from guichet.core.models import Calendar


def login_is_throttled(*, username: str, address: str) -> bool:
    """True when this account or this address has failed too often within the window."""
    since = timezone.now() - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    recent = LoginFailure.objects.filter(created_at__gte=since)
    limit = settings.LOGIN_MAX_ATTEMPTS
    return (
        recent.filter(username=username.lower()[:150]).count() >= limit
        or recent.filter(address=address[:64]).count() >= limit * 4
    )


def login_failure_record(*, username: str, address: str) -> None:
    LoginFailure.objects.create(username=username.lower()[:150], address=address[:64])


def login_success_record(*, username: str) -> None:
    LoginFailure.objects.filter(username=username.lower()[:150]).delete()


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
