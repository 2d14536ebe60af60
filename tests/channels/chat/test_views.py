"""Chat pages without JavaScript, the JSON fallback, the widget script and the agent console."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from guichet.accounts.models import User
from guichet.channels.chat import services
from guichet.channels.chat.visitor import COOKIE_NAME, visitor_id_new, visitor_token
from guichet.conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


def test_no_javascript_chat_round_trip(team: Any, agent: User, login: Callable) -> None:
    client = Client()
    page = client.get("/chat/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Talk to a person" in body
    assert "No one is available to chat right now." in body
    assert 'id="chat-callback"' in body
    sent = client.post("/chat/send", {"text": "Ma carte est bloquée", "name": "Jeanne"})
    assert sent.status_code == 303
    assert COOKIE_NAME in sent.cookies
    conversation = Conversation.objects.get()
    body = client.get("/chat/").content.decode()
    assert "Ma carte est bloquée" in body
    assert f"conversation no. {conversation.number}" in body
    # The agent answers from the console without JavaScript; the customer reloads and reads it.
    agent_client = login(agent)
    console = agent_client.get(f"/chat/console/?c={conversation.number}")
    assert console.status_code == 200
    assert "Ma carte est bloquée" in console.content.decode()
    reply = agent_client.post(
        f"/chat/console/{conversation.number}/reply", {"text": "Je regarde, Jeanne."}
    )
    assert reply.status_code == 303
    assert "Je regarde, Jeanne." in client.get("/chat/").content.decode()
    # The console's page load made the agent available.
    assert "A person is online" in client.get("/chat/").content.decode()


def test_empty_message_is_a_400_and_nothing_is_stored(team: Any) -> None:
    response = Client().post("/chat/send", {"text": "  "})
    assert response.status_code == 400
    assert not Conversation.objects.exists()


def test_posting_without_csrf_token_is_refused(team: Any) -> None:
    response = Client(enforce_csrf_checks=True).post("/chat/send", {"text": "Hi"})
    assert response.status_code == 403
    assert not Conversation.objects.exists()


def test_json_fallback_and_no_access_to_another_visitor(team: Any) -> None:
    client = Client()
    sent = client.post(
        "/chat/api/send",
        json.dumps({"text": "Par le widget", "id": "m1"}),
        content_type="application/json",
        HTTP_X_CHAT_TOKEN="",
    )
    assert sent.status_code == 200, sent.content
    token = sent.json()["token"]
    assert sent.json()["lines"][0]["text"] == "Par le widget"
    polled = client.get("/chat/api/messages", HTTP_X_CHAT_TOKEN=token).json()
    assert "Par le widget" in [line["text"] for line in polled["lines"]]
    assert polled["available"] is False
    # Another visitor, a forged token, or none: nothing of this conversation.
    other = visitor_token(visitor_id_new())
    for header in (other, token[:-3] + "abc", ""):
        lines = client.get("/chat/api/messages", HTTP_X_CHAT_TOKEN=header).json()["lines"]
        assert lines == []
    assert client.get("/chat/api/messages?after=yesterday").status_code == 400


def test_json_send_needs_the_token_header(team: Any) -> None:
    # A cross-site form cannot set a header: without it the exempt endpoint refuses.
    response = Client().post("/chat/api/send", {"text": "Hi"})
    assert response.status_code == 400
    assert not Conversation.objects.exists()


@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from(["text", "name", "email", "id", "type"]),
            st.one_of(st.text(max_size=300), st.integers(), st.none(), st.lists(st.integers())),
        ).map(lambda d: json.dumps(d).encode()),
    )
)
def test_hostile_json_never_a_500(team: Any, body: bytes) -> None:
    before = Message.objects.count()
    response = Client().post(
        "/chat/api/send", body, content_type="application/json", HTTP_X_CHAT_TOKEN=""
    )
    assert response.status_code in (200, 400, 429)
    if response.status_code != 200:
        assert Message.objects.count() == before


def test_widget_script_is_self_contained() -> None:
    response = Client().get("/chat/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    script = response.content.decode()
    assert "Parler à une personne" in script and "Talk to a person" in script
    assert "http://" not in script and "https://" not in script  # nothing from elsewhere


def test_only_the_embedded_chat_may_be_framed_and_only_by_listed_sites(settings: Any) -> None:
    settings.CHAT_WIDGET_ORIGINS = ["https://www.example.org"]
    embedded = Client().get("/chat/?embed=1&lang=fr")
    assert "frame-ancestors 'self' https://www.example.org" in embedded["Content-Security-Policy"]
    assert "X-Frame-Options" not in embedded
    assert 'lang="fr"' in embedded.content.decode()
    page = Client().get("/chat/")
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]


def test_console_needs_a_login_and_hides_other_teams(
    team: Any, outsider: User, login: Callable
) -> None:
    assert Client().get("/chat/console/").status_code == 302
    received = services.chat_message_receive(visitor_id=visitor_id_new(), text="Secret")
    client = login(outsider)
    page = client.get("/chat/console/")
    assert page.status_code == 200
    assert "Secret" not in page.content.decode()
    assert client.get(f"/chat/console/?c={received.conversation.number}").status_code == 404
    assert client.get("/chat/console/?c=abc").status_code == 404
    refused = client.post(f"/chat/console/{received.conversation.number}/reply", {"text": "x"})
    assert refused.status_code == 400
    assert received.conversation.messages.count() == 1


def test_agent_can_set_themself_away(agent: User, login: Callable) -> None:
    client = login(agent)
    client.get("/chat/console/")
    assert "A person is online" in Client().get("/chat/").content.decode()
    client.post("/chat/console/accepting", {"accepting": "0"})
    assert "No one is available" in Client().get("/chat/").content.decode()
