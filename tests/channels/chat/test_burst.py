"""Under a burst from many windows at once, every customer line is stored, reaches every
console once, gets its triage; every agent reply is stored and reaches its customer, marked
sent. Replies and pushes go in batches (`consumers._Batcher`, `push.lines_push_many`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from websockets.sync.client import ClientConnection

from guichet.accounts.models import Team, User
from guichet.channels.chat import push, services
from guichet.channels.chat.visitor import visitor_id_new
from guichet.conversations.hooks import register_ingest_hook, unregister_ingest_hook
from guichet.conversations.models import Conversation, Message
from guichet.core.exceptions import InvalidInput
from guichet.triage.models import Prediction
from tests.channels.chat.live import LiveAsgi, asgi_server
from tests.channels.chat.test_consumers import open_ws, receive_type, session_cookie

VISITORS = 25
MESSAGES = 4
REPLIES = 3


@pytest.fixture
def server(transactional_db: None) -> Iterator[LiveAsgi]:
    with asgi_server() as live:
        yield live


def lines_until(ws: ClientConnection, done: Any, seconds: float = 30.0) -> list[dict[str, Any]]:
    """The frames `ws` receives until `done(frames)` (or the time is up)."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while not done(frames) and time.monotonic() < deadline:
        try:
            frames.append(json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic()))))
        except TimeoutError:
            break
    return frames


def inbound(frames: list[dict[str, Any]]) -> list[str]:
    return [f["text"] for f in frames if f["type"] == "line" and f["kind"] == "inbound"]


@pytest.fixture
def hooked() -> Iterator[list[int]]:
    """Messages the ingest hooks (triage among them) ran for."""
    ran: list[int] = []
    register_ingest_hook("test.burst", lambda inbound, result: ran.append(result.message.pk))
    yield ran
    unregister_ingest_hook("test.burst")


def test_a_burst_from_many_customers_is_all_stored_delivered_and_triaged(
    server: LiveAsgi, team: Team, agent: User, agent2: User, hooked: list[int]
) -> None:
    expected = {f"Question {v}.{n}" for v in range(VISITORS) for n in range(MESSAGES)}
    with ExitStack() as stack:
        consoles = []
        for user in (agent, agent2):
            console = stack.enter_context(
                open_ws(server, "/ws/chat/console/", cookie=session_cookie(user))
            )
            assert receive_type(console, "ready")
            consoles.append(console)
        visitors = [stack.enter_context(open_ws(server, "/ws/chat/")) for _v in range(VISITORS)]
        for ws in visitors:
            ws.send(json.dumps({"type": "hello", "language": "fr"}))
            receive_type(ws, "welcome")
        for n in range(MESSAGES):  # all at once, every window
            for v, ws in enumerate(visitors):
                ws.send(json.dumps({"type": "message", "text": f"Question {v}.{n}", "id": str(n)}))

        received = [
            lines_until(console, lambda frames: set(inbound(frames)) >= expected)
            for console in consoles
        ]
        for frames in received:
            assert sorted(inbound(frames)) == sorted(expected)  # all of them, each once
            assert not [f for f in frames if f["type"] == "error"]

        # Each console answers half the chats, every answer at once (within the replies one
        # console may have waiting, `consumers.MAX_PENDING`): all stored, all reach their
        # customer, in the order typed.
        numbers = sorted({f["number"] for f in received[0] if f["type"] == "line"})
        for index, number in enumerate(numbers):
            for n in range(REPLIES):
                consoles[index % 2].send(
                    json.dumps({"type": "reply", "number": number, "text": f"Reponse {n}"})
                )
        for ws in visitors:
            frames = lines_until(
                ws, lambda frames: sum(f.get("kind") == "outbound" for f in frames) >= REPLIES
            )
            answers = [f["text"] for f in frames if f.get("kind") == "outbound"]
            assert answers == [f"Reponse {n}" for n in range(REPLIES)]
        for console in consoles:
            frames = lines_until(console, lambda frames: False, seconds=0.5)
            assert not [f for f in frames if f["type"] == "error"]

    customer_lines = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert sorted(customer_lines.values_list("text", flat=True)) == sorted(expected)
    assert Conversation.objects.count() == VISITORS
    deadline = time.monotonic() + 30  # the hooks run after the push, for every message
    while len(hooked) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(hooked) == sorted(customer_lines.values_list("pk", flat=True))
    # Triage among them: each conversation's first message got its language and intent.
    assert (
        Prediction.objects.filter(message__isnull=False).values("message_id").distinct().count()
        == VISITORS
    )
    replies = Message.objects.filter(direction=Message.Direction.OUTBOUND)
    assert replies.count() == VISITORS * REPLIES
    deadline = time.monotonic() + 10
    while replies.exclude(delivery_status=Message.DeliveryStatus.SENT).exists():
        assert time.monotonic() < deadline, "replies not marked sent"
        time.sleep(0.1)


@pytest.mark.django_db
def test_a_refused_reply_leaves_the_others_of_its_batch_stored(
    team: Team, agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    first = services.chat_message_receive(visitor_id=visitor_id_new(), text="Bonjour")
    second = services.chat_message_receive(visitor_id=visitor_id_new(), text="Salut")
    with push.replies_collected() as committed, django_capture_on_commit_callbacks(execute=True):
        results = services.chat_reply_many(
            [
                (agent, first.conversation.number, "Oui"),
                (agent, 999_999, "Nobody"),
                (agent, second.conversation.number, "Bien sûr"),
            ]
        )
    assert isinstance(results[0], Message) and isinstance(results[2], Message)
    assert isinstance(results[1], InvalidInput)
    assert [m.text for m in committed] == ["Oui", "Bien sûr"]  # left to the caller to push
    pushes = push.reply_pushes(committed)
    assert pushes[results[0].pk].push["lines"][0]["text"] == "Oui"
    assert Message.objects.get(pk=results[0].pk).delivery_status == Message.DeliveryStatus.QUEUED
    services.chat_replies_sent(message_ids=[results[0].pk, results[2].pk])
    assert set(
        Message.objects.filter(direction=Message.Direction.OUTBOUND).values_list(
            "delivery_status", flat=True
        )
    ) == {Message.DeliveryStatus.SENT}


def test_pushes_of_a_batch_are_one_layer_message_per_group() -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    sent: list[tuple[str, dict[str, Any]]] = []

    async def group_send(group: str, message: dict[str, Any]) -> None:
        sent.append((group, message))

    original = layer.group_send
    layer.group_send = group_send
    try:
        async_to_sync(push.lines_push_many)(
            [
                {
                    "visitor_groups": [f"v{n}"],
                    "console_groups": ["team", "admins"],
                    "lines": [{"text": f"line {n}"}],
                    "console_lines": [{"text": f"console line {n}"}],
                }
                for n in range(3)
            ]
        )
    finally:
        layer.group_send = original
    assert [group for group, _message in sent] == ["team", "admins", "v0", "v1", "v2"]
    assert [line["text"] for line in sent[0][1]["lines"]] == [
        "console line 0",
        "console line 1",
        "console line 2",
    ]
    assert sent[2][1] == {"type": "chat.lines", "lines": [{"text": "line 0"}]}
