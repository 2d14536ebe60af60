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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from guichet.conversations.models import Message

Sender = Callable[[Message], None]
_SENDERS: dict[str, Sender] = {}


def register_sender(channel: str, sender: Sender) -> None:
    """Called from a channel's `AppConfig.ready()`; see the module's docstring for the contract."""
    _SENDERS[channel] = sender


def sender_for(channel: str) -> Sender | None:
    return _SENDERS.get(channel)


@contextmanager
def senders_suspended() -> Iterator[None]:
    """Record replies without handing them to any channel (demo data, imports of history)."""
    saved = dict(_SENDERS)
    _SENDERS.clear()
    try:
        yield
    finally:
        _SENDERS.clear()
        _SENDERS.update(saved)
