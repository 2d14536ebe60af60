"""Fixtures for appointments: a site open office hours in Paris, two agents present there."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from guichet.accounts.models import Site, Team, User
from guichet.channels.appointments.models import AgentSchedule, AppointmentType
from guichet.core.models import Calendar

PARIS = ZoneInfo("Europe/Paris")


def next_weekday(weekday: int, after: date | None = None) -> date:
    """The first date strictly after `after` (default: today in Paris) falling on `weekday`.

    Today is the sites' local day, not the machine's: `date.today()` follows the machine's time
    zone, which is a day behind Paris between midnight and 01:00 (02:00 in summer) on a UTC host.
    """
    day = (after or timezone.localdate(timezone=PARIS)) + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), PARIS)


@pytest.fixture
def site(calendar: Calendar) -> Site:
    return Site.objects.create(
        name="Agence Centre",
        address="1 place de la Mairie, Lyon",
        phone="+33 4 00 00 00 00",
        calendar=calendar,
    )


def present(agent: User, site: Site, weekdays: range = range(5)) -> None:
    agent.sites.add(site)
    for weekday in weekdays:
        AgentSchedule.objects.create(
            agent=agent, site=site, weekday=weekday, starts=time(9), ends=time(12)
        )
        AgentSchedule.objects.create(
            agent=agent, site=site, weekday=weekday, starts=time(14), ends=time(17)
        )


@pytest.fixture
def staffed_site(site: Site, agent: User, agent2: User) -> Site:
    present(agent, site)
    present(agent2, site)
    return site


@pytest.fixture
def in_person(team: Team) -> AppointmentType:
    return AppointmentType.objects.create(
        name="Account opening",
        name_fr="Ouverture de compte",
        mode="in_person",
        duration_minutes=30,
        team=team,
    )


@pytest.fixture
def by_video(team: Team) -> AppointmentType:
    return AppointmentType.objects.create(
        name="Video advice",
        name_fr="Conseil en visio",
        mode="video",
        duration_minutes=45,
        team=team,
    )


@pytest.fixture
def monday() -> date:
    return next_weekday(0)


@pytest.fixture(autouse=True)
def _immediate_public_url(settings: Any) -> None:
    settings.APPOINTMENT_PUBLIC_URL = "http://testserver"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _plain_static_files(settings: Any) -> None:
    """Pages render without `collectstatic` (the manifest storage needs it)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
