"""Pushing chat lines to open windows through the channel layer, after commit.

Customer windows listen on their visitor group, agent consoles on their teams' groups. The layer
is Redis when `REDIS_URL` is set (any number of web processes) and in memory otherwise (one
process only). A push that fails never undoes what was stored: the line is in the transcript,
and windows that missed it fetch it on their next load or poll.

The chat sender (an agent's reply, after its commit) pushes and then marks the reply sent. Within
`replies_collected` (the console storing replies in the chat's database thread) it only lists the
replies instead: the console reads their pushes for all at once (`reply_pushes`), pushes from its
own event loop, then marks them sent, so that the database thread never waits for that loop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from guichet.channels.chat import selectors
from guichet.channels.chat.selectors import ChatLine
from guichet.channels.chat.visitor import ADMINS_GROUP, team_group, visitor_group
from guichet.conversations.models import Conversation, Message
from guichet.conversations.services import message_delivery_status_set

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyPush:
    """A stored reply's push, left to the caller of `replies_collected`."""

    message_id: int
    push: dict[str, Any]  # the arguments of `lines_push`


_collected: ContextVar[list[Message] | None] = ContextVar("chat_replies_collected", default=None)


@contextmanager
def replies_collected() -> Iterator[list[Message]]:
    """Within: the chat sender lists the replies committed instead of pushing them, for the
    caller to push (`reply_pushes`, `lines_push`) and then mark sent
    (`services.chat_replies_sent`)."""
    collected: list[Message] = []
    token = _collected.set(collected)
    try:
        yield collected
    finally:
        _collected.reset(token)


def console_payload(line: ChatLine, conversation: Conversation) -> dict[str, Any]:
    return {
        **line.payload(),
        "customer": conversation.customer.display_name,
        "subject": conversation.subject,
    }


def line_groups(
    conversation: Conversation, visitor_ids: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """(visitor groups, console groups) that should see a line of this conversation.

    `visitor_ids`: the conversation's `selectors.visitor_ids_of`, when already read."""
    if visitor_ids is None:
        visitor_ids = selectors.visitor_ids_of(conversation)
    visitors = [visitor_group(v) for v in visitor_ids]
    consoles = [team_group(conversation.team_id)]
    if conversation.team_id is not None:
        consoles.append(ADMINS_GROUP)
    return visitors, consoles


async def lines_push(
    *,
    visitor_groups: list[str],
    console_groups: list[str],
    lines: list[dict[str, Any]],
    console_lines: list[dict[str, Any]],
) -> None:
    await lines_push_many(
        [
            {
                "visitor_groups": visitor_groups,
                "console_groups": console_groups,
                "lines": lines,
                "console_lines": console_lines,
            }
        ]
    )


async def lines_push_many(pushes: Sequence[dict[str, Any]]) -> None:
    """Several `lines_push` at once: each group gets one layer message with all its lines, in
    order, consoles first. Under load a batch of stored messages is one message per group
    instead of one per line and group: less work for the layer, and fewer messages waiting in
    each window's inbox (the in-memory layer drops what comes past 100 waiting)."""
    layer = get_channel_layer()
    if layer is None:
        return
    by_group: dict[str, list[dict[str, Any]]] = {}
    for pushed in pushes:
        for line in pushed["console_lines"]:
            for group in pushed["console_groups"]:
                by_group.setdefault(group, []).append(line)
    for pushed in pushes:
        for line in pushed["lines"]:
            for group in pushed["visitor_groups"]:
                by_group.setdefault(group, []).append(line)
    for group, lines in by_group.items():
        await layer.group_send(group, {"type": "chat.lines", "lines": lines})


def lines_payload(
    conversation: Conversation, lines: list[ChatLine], visitor_ids: list[str] | None = None
) -> dict[str, Any]:
    """The arguments of `lines_push` for lines of a conversation (`visitor_ids`: see
    `line_groups`)."""
    visitors, consoles = line_groups(conversation, visitor_ids)
    return {
        "visitor_groups": visitors,
        "console_groups": consoles,
        "lines": [line.payload() for line in lines],
        "console_lines": [console_payload(line, conversation) for line in lines],
    }


def reply_pushes(messages: list[Message]) -> dict[int, ReplyPush]:
    """The pushes of stored replies (message id -> push), read for all of them at once: their
    conversations with the customers, the customers' windows."""
    conversations = Conversation.objects.select_related("customer").in_bulk(
        {message.conversation_id for message in messages}
    )
    visitor_ids = selectors.visitor_ids_of_many(list(conversations.values()))
    pushes = {}
    for message in messages:
        conversation = conversations[message.conversation_id]
        lines = [selectors.message_line(message, conversation.number)]
        payload = lines_payload(conversation, lines, visitor_ids[conversation.customer_id])
        pushes[message.pk] = ReplyPush(message.pk, payload)
    return pushes


def lines_push_sync(conversation: Conversation, lines: list[ChatLine]) -> None:
    """Push from synchronous code (a view, the sender); never raises."""
    try:
        async_to_sync(lines_push)(**lines_payload(conversation, lines))
    except Exception:
        logger.exception("Could not push chat lines of conversation %s", conversation.pk)


def chat_sender(message: Message) -> None:
    """The sender registered for channel "chat": called inside the reply's transaction, it
    pushes after commit (the reply itself is the transcript: no outbox row to write)."""
    transaction.on_commit(lambda: _reply_push(message))


def _reply_push(message: Message) -> None:
    """After the reply's commit: push it, or list it within `replies_collected`."""
    collected = _collected.get()
    if collected is not None:
        collected.append(message)
        return
    conversation = Conversation.objects.select_related("customer").get(pk=message.conversation_id)
    lines_push_sync(conversation, [selectors.message_line(message, conversation.number)])
    # In the transcript the customer reads, whether their window is open now or later.
    message_delivery_status_set(message_id=message.pk, status=Message.DeliveryStatus.SENT)
