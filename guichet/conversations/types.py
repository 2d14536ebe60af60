"""What a channel hands to the conversation layer. `guichet.channels.base` re-exports these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guichet.conversations.models import Conversation, Message


@dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content: bytes
    declared_content_type: str = ""


@dataclass(frozen=True)
class InboundMessage:
    """One message from a customer, normalised by its channel.

    `sender_kind`/`sender_value` identify the customer (an identity kind and raw value).
    Threading hints are trusted as given, so a channel only sets them after verifying them:
    `in_reply_to` lists external ids of earlier messages, `conversation_number` names a
    conversation directly, and `thread_on_open` joins the customer's latest active conversation
    on the same channel (chat, SMS).
    """

    channel: str
    sender_kind: str
    sender_value: str
    sender_name: str = ""
    subject: str = ""
    text: str = ""
    html: str = ""
    external_id: str = ""
    in_reply_to: tuple[str, ...] = ()
    conversation_number: int | None = None
    thread_on_open: bool = False
    team_id: int | None = None
    language: str = ""
    attachments: tuple[InboundAttachment, ...] = ()
    source_ref: str = ""
    received_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestResult:
    conversation: Conversation
    message: Message
    created: bool  # False when the external id had already been ingested
    conversation_created: bool
