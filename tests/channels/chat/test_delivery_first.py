"""A customer's chat line reaches the agents' consoles as soon as it is stored; the ingest hooks
(triage) and the acknowledgement follow, and what they decide still lands."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from guichet.accounts.models import Team, User
from guichet.channels.chat import services
from guichet.channels.chat.visitor import visitor_id_new
from guichet.conversations.hooks import register_ingest_hook, unregister_ingest_hook
from guichet.conversations.models import Conversation, Message
from guichet.conversations.types import InboundMessage, IngestResult
from guichet.triage.models import Prediction, RoutingRule
from tests.channels.chat.live import LiveAsgi, asgi_server
from tests.channels.chat.test_consumers import open_ws, receive_type, session_cookie


@pytest.fixture
def server(transactional_db: None) -> Iterator[LiveAsgi]:
    with asgi_server() as live:
        yield live


def wait_for(check: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db
def test_store_holds_the_hooks_back_and_settle_runs_them(team: Team, other_team: Team) -> None:
    RoutingRule.objects.create(name="Everything", team=other_team, position=10)
    received = services.chat_message_store(visitor_id=visitor_id_new(), text="Bonjour")
    message = Message.objects.get()
    assert message.conversation.team == team  # stored, committed, not triaged yet
    assert not Prediction.objects.filter(message=message).exists()
    assert received.hooks_pending and received.conversation_created

    settled = services.chat_message_settle(received)

    assert Prediction.objects.filter(message=message).exists()
    assert settled.team_changed and settled.conversation.team == other_team
    assert Conversation.objects.get().team == other_team
    # No agent of the team it now belongs to is online: the acknowledgement, once.
    assert [line.kind for line in settled.lines] == ["notice"]
    # Settled again (it should not be): still one acknowledgement.
    services.chat_message_settle(received)
    assert Conversation.objects.get().events.filter(verb="acknowledgement.sent").count() == 1


@pytest.mark.django_db
def test_receive_still_does_everything_at_once(team: Team) -> None:
    received = services.chat_message_receive(visitor_id=visitor_id_new(), text="Bonjour")
    assert [line.kind for line in received.lines] == ["inbound", "notice"]
    assert Prediction.objects.filter(message=received.message).exists()
    assert received.hooks_pending == []


@pytest.mark.django_db
def test_a_batch_stores_several_visitors_in_one_go(team: Team) -> None:
    batch = [
        services.chat_message_check(visitor_id=visitor_id_new(), text=f"Bonjour {n}", name="Jo")
        for n in range(3)
    ]
    stored = services.chat_message_store_many(batch)
    assert [r.message.text for r in stored] == ["Bonjour 0", "Bonjour 1", "Bonjour 2"]
    assert Conversation.objects.count() == 3
    assert all(r.created and r.hooks_pending for r in stored)
    assert not Prediction.objects.exists()


def test_console_gets_the_line_before_the_hooks_and_their_effects_land(
    server: LiveAsgi, team: Team, agent: User
) -> None:
    released = threading.Event()
    ran: list[int] = []

    def slow_hook(inbound: InboundMessage, result: IngestResult) -> None:
        released.wait(10)
        ran.append(result.message.pk)

    register_ingest_hook("test.slow", slow_hook)
    try:
        with open_ws(server, "/ws/chat/console/", cookie=session_cookie(agent)) as console:
            assert receive_type(console, "ready")
            with open_ws(server, "/ws/chat/") as visitor:
                visitor.send(json.dumps({"type": "hello", "language": "fr"}))
                receive_type(visitor, "welcome")
                visitor.send(json.dumps({"type": "message", "text": "Ma carte", "id": "1"}))
                line = receive_type(console, "line")
                assert line["text"] == "Ma carte"
                assert not ran  # the hooks are still waiting
                released.set()
                message = Message.objects.get()
                assert wait_for(lambda: ran == [message.pk])
                assert wait_for(lambda: Prediction.objects.filter(message=message).exists())
    finally:
        released.set()
        unregister_ingest_hook("test.slow")


def test_console_keeps_receiving_while_its_reply_is_stored(
    server: LiveAsgi, team: Team, agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A console handles one frame at a time: a reply waiting for the database must not hold
    back the lines pushed to it meanwhile."""
    from guichet.channels.chat import db

    pool = db.PriorityExecutor(2, "chat-db-test")  # two threads, even with SQLite
    monkeypatch.setattr(db, "_pool", pool)
    reply_many = services.chat_reply_many
    replying = threading.Event()
    released = threading.Event()

    def slow_reply_many(replies: Any) -> list[Message | Exception]:
        replying.set()
        released.wait(10)
        return reply_many(replies)

    monkeypatch.setattr(services, "chat_reply_many", slow_reply_many)
    try:
        with open_ws(server, "/ws/chat/console/", cookie=session_cookie(agent)) as console:
            assert receive_type(console, "ready")
            with open_ws(server, "/ws/chat/") as visitor:
                visitor.send(json.dumps({"type": "hello", "language": "fr"}))
                receive_type(visitor, "welcome")
                visitor.send(json.dumps({"type": "message", "text": "Un", "id": "1"}))
                first = receive_type(console, "line")
                console.send(json.dumps({"type": "reply", "number": first["number"], "text": "Ok"}))
                assert replying.wait(5)
                visitor.send(json.dumps({"type": "message", "text": "Deux", "id": "2"}))
                second = receive_type(console, "line")
                while second["text"] != "Deux":
                    second = receive_type(console, "line")
                assert not released.is_set()
                released.set()
                answer = receive_type(visitor, "line")
                while answer["kind"] != "outbound":
                    answer = receive_type(visitor, "line")
                assert answer["text"] == "Ok"
    finally:
        released.set()
        pool.each_thread(connections.close_all)


@pytest.mark.django_db
def test_a_settled_batch_triages_every_message_and_says_once_that_a_chat_moved(
    team: Team, other_team: Team
) -> None:
    RoutingRule.objects.create(name="Everything", team=other_team, position=10)
    visitor, other = visitor_id_new(), visitor_id_new()
    stored = services.chat_message_store_many(
        [
            services.chat_message_check(visitor_id=visitor, text="Bonjour"),
            services.chat_message_check(visitor_id=visitor, text="Ma carte est bloquée"),
            services.chat_message_check(visitor_id=other, text="Hello"),
        ]
    )
    ran: list[int] = []
    register_ingest_hook("test.count", lambda inbound, result: ran.append(result.message.pk))
    try:
        settled = services.chat_message_settle_many(stored)
    finally:
        unregister_ingest_hook("test.count")

    assert sorted(ran) == sorted(received.message.pk for received in stored)
    assert [s.team_changed for s in settled] == [True, False, True]  # once per chat
    assert all(s.conversation.team == other_team for s in settled)
    # No agent of the new team is online: each new chat acknowledged once, on its first message.
    assert [[line.kind for line in s.lines] for s in settled] == [["notice"], [], ["notice"]]
    for conversation in Conversation.objects.all():
        assert conversation.events.filter(verb="acknowledgement.sent").count() == 1
        assert conversation.team == other_team
