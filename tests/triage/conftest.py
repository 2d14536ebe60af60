"""Fixtures of the triage tests: available agents, a second team, helpers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from guichet.accounts.models import Team, User
from guichet.accounts.services import agent_create
from guichet.conversations.models import Conversation, Message
from tests.conftest import PASSWORD


def make_agent(username: str, team: Team, **fields) -> User:
    available = fields.pop("available", True)
    user = agent_create(username=username, password=PASSWORD, teams=[team], **fields)
    if available:
        User.objects.filter(pk=user.pk).update(available=True)
        user.available = True
    return user


def age_messages(conversation: Conversation, minutes: int) -> None:
    """Pretend the conversation's messages so far were written `minutes` ago."""
    earlier = timezone.now() - timedelta(minutes=minutes)
    Message.objects.filter(conversation=conversation).update(created_at=earlier)
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=earlier)


@pytest.fixture
def english_team(calendar) -> Team:
    from guichet.accounts.services import team_create

    return team_create(name="International", slug="international", calendar=calendar)


@pytest.fixture(autouse=True)
def _plain_static_storage(settings) -> None:
    # The manifest storage needs `collectstatic`; tests serve static names as they are.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def no_model(monkeypatch) -> None:
    """As on a fresh install: no intent model trained yet, whatever DATA_DIR holds."""
    monkeypatch.setattr("guichet.triage.intent.predict", lambda text: None)
