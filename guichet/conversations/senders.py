"""Registry of outbound senders: channels register here; conversations never imports a channel.

The contract of a sender (`Sender`, called with an outbound message whose delivery status is
"queued"):

- It is called INSIDE the transaction that wrote the message (an agent's reply, an appointment
  notice), through `services.message_hand_over`, once the message row exists. It writes the
  channel's delivery record (the email or SMS outbox row, …) in that same transaction, so that
  the message and its record are committed together or not at all: a reply is never left
  "queued" with nothing to send.
- Every side effect outside the database (enqueueing the send task, pushing to a WebSocket,
  rendering a letter) waits for the commit: `transaction.on_commit`.
- It runs in a savepoint of its own: an exception rolls back what the sender wrote, and the
  message is marked failed with a timeline event instead of losing the agent's reply. A sender
  may also record a refusal itself (no address, opted out): message failed, reason on the
  timeline.

A sender that can reach a customer whatever channel they came through (email to a known address,
SMS to a known number) registers a `recipient` function: it says where a reply on a conversation
would go ("" when nowhere). `reply_routes` lists the ways a reply can leave, which the reply box
offers and `conversation_reply` checks: a channel without a sender has no route, and a reply is
never stored as if it would reach the customer when nothing will send it.

A channel with an outbox also registers a `DeliveryReader`: given message ids, it returns what
its outbox knows of each (state, attempts, last error, next attempt) in one query, so that the
timeline shows "sending" or "retrying at 14:05 (attempt 2 of 5)".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guichet.conversations.models import Channel, Conversation, Message

Sender = Callable[[Message], None]
Recipient = Callable[[Conversation], str]
_SENDERS: dict[str, Sender] = {}
_RECIPIENTS: dict[str, Recipient] = {}
_suspended = False


@dataclass(frozen=True)
class ReplyRoute:
    """One way a reply can leave: on `channel`, to `recipient` ("" for the conversation's own
    thread: the chat window, the letter)."""

    channel: str
    recipient: str = ""


@dataclass(frozen=True)
class Delivery:
    """What a channel's outbox knows about one outbound message."""

    channel: str
    outbox_id: int
    state: str  # queued, sending, sent, delivered, failed
    recipient: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    reason: str  # the last error in words, "" when none


DeliveryReader = Callable[[Iterable[int]], dict[int, Delivery]]
_READERS: dict[str, DeliveryReader] = {}


def register_sender(channel: str, sender: Sender, *, recipient: Recipient | None = None) -> None:
    """Called from a channel's `AppConfig.ready()`; see the module's docstring for the contract.

    With `recipient`, the sender can also carry replies to conversations of other channels.
    """
    _SENDERS[channel] = sender
    if recipient is not None:
        _RECIPIENTS[channel] = recipient


def register_delivery_reader(channel: str, reader: DeliveryReader) -> None:
    """Called from a channel's `AppConfig.ready()` when it keeps an outbox."""
    _READERS[channel] = reader


def sender_for(channel: str) -> Sender | None:
    return _SENDERS.get(channel)


def senders_are_suspended() -> bool:
    return _suspended


def reply_routes(conversation: Conversation) -> list[ReplyRoute]:
    """The ways a reply on this conversation can reach the customer, the conversation's own
    channel first; empty when none (a counter visitor with no address)."""
    routes: list[ReplyRoute] = []
    if conversation.channel in _SENDERS:
        recipient = _RECIPIENTS.get(conversation.channel)
        routes.append(
            ReplyRoute(conversation.channel, recipient(conversation) if recipient else "")
        )
    for channel, recipient in _RECIPIENTS.items():
        if channel == conversation.channel or channel not in _SENDERS:
            continue
        address = recipient(conversation)
        if address:
            routes.append(ReplyRoute(channel, address))
    return routes


_CAME_IN: dict[str, Promise] = {
    Channel.COUNTER: gettext_lazy("This conversation came in at the counter"),
    Channel.PHONE: gettext_lazy("This conversation came in by phone"),
    Channel.WEBFORM: gettext_lazy("This conversation came in through the web form"),
}


def no_route_reason(channel: str) -> str:
    """Why no written reply can be sent, for the reply box and the service's refusal."""
    came_in = _CAME_IN.get(channel) or _("This conversation came in by %(channel)s") % {
        "channel": Channel(channel).label if channel in Channel.values else channel
    }
    return _(
        "%(came_in)s: a written reply cannot be sent on this channel, and this customer has "
        "no known e-mail address or mobile number."
    ) % {"came_in": came_in}


def deliveries(messages: Iterable[Message]) -> dict[int, Delivery]:
    """What the outboxes know about these outbound messages: one query per channel present."""
    by_channel: dict[str, list[int]] = {}
    for message in messages:
        if message.direction == Message.Direction.OUTBOUND and message.channel in _READERS:
            by_channel.setdefault(message.channel, []).append(message.pk)
    found: dict[int, Delivery] = {}
    for channel, ids in by_channel.items():
        found.update(_READERS[channel](ids))
    return found


@contextmanager
def senders_suspended() -> Iterator[None]:
    """Record replies without handing them to any channel (demo data, imports of history)."""
    global _suspended
    saved = dict(_SENDERS)
    _SENDERS.clear()
    _suspended = True
    try:
        yield
    finally:
        _suspended = False
        _SENDERS.clear()
        _SENDERS.update(saved)
