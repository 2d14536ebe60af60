"""Registry of outbound senders: channels register here; conversations never imports a channel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from guichet.conversations.models import Message

Sender = Callable[[Message], None]
_SENDERS: dict[str, Sender] = {}


def register_sender(channel: str, sender: Sender) -> None:
    """Called from a channel's `AppConfig.ready()`; the sender queues the message for delivery."""
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
