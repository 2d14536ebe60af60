"""Shared fixtures. Data is built through the real services, as the application builds it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import time
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from guichet.accounts.models import Team, User
from guichet.accounts.services import agent_create, team_create
from guichet.conversations.services import message_ingest
from guichet.conversations.types import InboundMessage, IngestResult
from guichet.core.calendars import OFFICE_HOURS
from guichet.core.models import Calendar, OpeningPeriod

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any) -> None:
    """The manifest storage needs `collectstatic`; tests serve static names as they are. Every
    page may render `{% static %}`, Guichet's error pages included (a 404 from any view)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _english_by_default(settings: Any) -> Iterator[None]:
    """Tests assert the English source strings, which French (the product's default) would
    replace as soon as they are translated; French is tested on purpose in tests/test_i18n.py."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def make_calendar(name: str = "Bureau", hours: dict | None = None) -> Calendar:
    calendar = Calendar.objects.create(name=name, time_zone="Europe/Paris")
    for weekday, intervals in (hours or OFFICE_HOURS).items():
        for opens, closes in intervals:
            OpeningPeriod.objects.create(
                calendar=calendar, weekday=weekday, opens=opens, closes=closes
            )
    return calendar


@pytest.fixture
def calendar(db: None) -> Calendar:
    return make_calendar()


@pytest.fixture
def team(calendar: Calendar) -> Team:
    return team_create(name="Cartes", slug="cartes", calendar=calendar)


@pytest.fixture
def other_team(calendar: Calendar) -> Team:
    return team_create(name="Crédits", slug="credits", calendar=calendar)


@pytest.fixture
def agent(team: Team) -> User:
    return agent_create(
        username="alice", password=PASSWORD, first_name="Alice", last_name="Martin", teams=[team]
    )


@pytest.fixture
def agent2(team: Team) -> User:
    return agent_create(
        username="bruno", password=PASSWORD, first_name="Bruno", last_name="Petit", teams=[team]
    )


@pytest.fixture
def outsider(other_team: Team) -> User:
    """An agent of another team: must see nothing of `team`."""
    return agent_create(username="olga", password=PASSWORD, first_name="Olga", teams=[other_team])


@pytest.fixture
def supervisor(team: Team) -> User:
    return agent_create(
        username="sophie",
        password=PASSWORD,
        first_name="Sophie",
        role=User.Role.SUPERVISOR,
        teams=[team],
    )


@pytest.fixture
def admin_user(db: None) -> User:
    return agent_create(username="root", password=PASSWORD, role=User.Role.ADMIN)


@pytest.fixture
def ingest(team: Team) -> Callable[..., IngestResult]:
    """ingest(text=..., sender=..., **InboundMessage fields) into `team` by default."""
    counter = {"n": 0}

    def _ingest(
        text: str = "Bonjour, ma carte est bloquée.",
        sender: str = "client@example.org",
        **fields: Any,
    ) -> IngestResult:
        counter["n"] += 1
        fields.setdefault("team_id", team.pk)
        fields.setdefault("channel", "email")
        fields.setdefault("sender_kind", "email")
        fields.setdefault("subject", f"Demande {counter['n']}")
        return message_ingest(InboundMessage(sender_value=sender, text=text, **fields))

    return _ingest


@pytest.fixture
def login() -> Callable[[User], Client]:
    def _login(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login


__all__ = ["PASSWORD", "make_calendar", "time"]
