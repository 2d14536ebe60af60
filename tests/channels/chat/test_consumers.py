"""The WebSocket consumers through the real ASGI application served by uvicorn (one process,
in-memory layer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from guichet.accounts.models import User
from guichet.conversations.models import Conversation, Message
from tests.channels.chat.live import LiveAsgi, asgi_server


@pytest.fixture
def server(transactional_db: None) -> Iterator[LiveAsgi]:
    with asgi_server() as live:
        yield live


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def open_ws(live: LiveAsgi, path: str, cookie: str = "", origin: str = "") -> ClientConnection:
    headers = {"Cookie": cookie} if cookie else {}
    return connect(live.ws + path, origin=origin or live.url, additional_headers=headers)  # type: ignore[arg-type]


# How long to wait for a frame: a wait on a condition, so generous. The first message of a
# process loads triage's models, and CI's 2 cores may be shared with another suite.
FRAME_TIMEOUT = 30


def receive_type(ws: ClientConnection, kind: str) -> dict[str, Any]:
    for _ in range(10):
        frame = json.loads(ws.recv(timeout=FRAME_TIMEOUT))
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


def test_visitor_and_agent_talk_over_websockets(server: LiveAsgi, team: Any, agent: User) -> None:
    with open_ws(server, "/ws/chat/console/", cookie=session_cookie(agent)) as console:
        assert receive_type(console, "ready")
        with open_ws(server, "/ws/chat/") as visitor:
            visitor.send(json.dumps({"type": "hello", "token": None, "language": "en"}))
            assert receive_type(visitor, "welcome")["available"] is True
            visitor.send(json.dumps({"type": "message", "text": "Hello over WS", "id": "1"}))
            session = receive_type(visitor, "session")
            seen = receive_type(console, "line")
            assert (seen["text"], seen["kind"]) == ("Hello over WS", "inbound")
            console.send(json.dumps({"type": "reply", "number": seen["number"], "text": "Hi!"}))
            frame = receive_type(visitor, "line")
            while frame["kind"] != "outbound":
                frame = receive_type(visitor, "line")
            assert frame["text"] == "Hi!"
        # A new window with the stored token gets the whole transcript back.
        with open_ws(server, "/ws/chat/") as again:
            again.send(json.dumps({"type": "hello", "token": session["token"]}))
            restored = receive_type(again, "welcome")
    assert [line["text"] for line in restored["lines"]] == ["Hello over WS", "Hi!"]
    conversation = Conversation.objects.get()
    assert conversation.first_human_response_at is not None
    assert list(conversation.messages.values_list("direction", flat=True)) == [
        Message.Direction.INBOUND,
        Message.Direction.OUTBOUND,
    ]


def test_console_refuses_anonymous_and_foreign_origins(server: LiveAsgi, team: Any) -> None:
    with pytest.raises(InvalidStatus):
        open_ws(server, "/ws/chat/console/")  # no session: refused at the handshake
    with pytest.raises(InvalidStatus):
        open_ws(server, "/ws/chat/", origin="https://evil.example")


def test_visitor_junk_gets_errors_and_stores_nothing(server: LiveAsgi, team: Any) -> None:
    with open_ws(server, "/ws/chat/") as visitor:
        kinds = []
        for junk in ("not json", "[1, 2]", '{"type": "message", "text": ""}', "x" * 30000):
            visitor.send(junk)
            frame = json.loads(visitor.recv(timeout=FRAME_TIMEOUT))
            if frame["type"] == "session":
                frame = json.loads(visitor.recv(timeout=FRAME_TIMEOUT))
            kinds.append(frame["type"])
    assert kinds == ["error"] * 4
    assert not Conversation.objects.exists()
