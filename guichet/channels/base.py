"""The contract between channels and the conversation layer.

A channel turns what it receives into an `InboundMessage` and calls
`guichet.conversations.services.message_ingest`; to deliver replies it registers a sender with
`guichet.conversations.senders.register_sender` in its `AppConfig.ready()`.
"""

from guichet.conversations.senders import Sender, register_sender
from guichet.conversations.types import InboundAttachment, InboundMessage, IngestResult

__all__ = ["InboundAttachment", "InboundMessage", "IngestResult", "Sender", "register_sender"]
