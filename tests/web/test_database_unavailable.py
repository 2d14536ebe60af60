"""A change that fails because the database is away is answered "not saved, try again" (503),
as a page or an htmx fragment, never a bare 500; connections are health-checked (issue 13, 8)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import InterfaceError, OperationalError

from guichet.conversations import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(ingest: Any) -> Any:
    return ingest().conversation


def _fail(exception: Exception) -> Any:
    def _raise(**kwargs: Any) -> None:
        raise exception

    return _raise


@pytest.mark.parametrize(
    "exception",
    [OperationalError("server closed the connection unexpectedly"), InterfaceError("closed")],
)
def test_failed_save_says_not_saved(
    login: Any, agent: Any, conversation: Any, monkeypatch: Any, exception: Exception
) -> None:
    monkeypatch.setattr(services, "conversation_note_add", _fail(exception))
    response = login(agent).post(f"/c/{conversation.number}/note", {"text": "Rappeler lundi"})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert "Not saved: the database is unavailable. Try again in a moment." in body
    assert "<html" in body and "Traceback" not in body
    assert not conversation.messages.filter(text="Rappeler lundi").exists()


def test_failed_save_htmx_gets_a_fragment(
    login: Any, agent: Any, conversation: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "conversation_note_add", _fail(OperationalError("gone")))
    response = login(agent).post(
        f"/c/{conversation.number}/note", {"text": "Rappeler lundi"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 503
    body = response.content.decode()
    assert "<html" not in body
    assert 'role="alert"' in body and "Not saved" in body


def test_other_errors_are_not_disguised(
    login: Any, agent: Any, conversation: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "conversation_note_add", _fail(RuntimeError("bug")))
    client = login(agent)
    with pytest.raises(RuntimeError):
        client.post(f"/c/{conversation.number}/note", {"text": "x"})


def test_connections_are_health_checked() -> None:
    assert django_settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
