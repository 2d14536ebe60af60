"""The SMS keyword that asks for a callback ("RAPPEL", "CALL ME"), as an ingest hook."""

from __future__ import annotations

import logging

from guichet.channels.phone.models import CallbackRequest
from guichet.channels.phone.services import callback_request_create
from guichet.conversations.types import InboundMessage, IngestResult
from guichet.core.exceptions import InvalidInput

logger = logging.getLogger(__name__)

CALLBACK_WORDS = frozenset({"RAPPEL", "RAPPELEZ MOI", "CALL ME", "CALLBACK", "CALL BACK"})


def sms_callback_keyword(inbound: InboundMessage, result: IngestResult) -> None:
    from guichet.channels.sms.services import keyword  # channels may import each other

    if inbound.channel != "sms" or not result.created:
        return
    if keyword(inbound.text) not in CALLBACK_WORDS:
        return
    try:
        callback_request_create(
            conversation=result.conversation,
            number=inbound.sender_value,
            source=CallbackRequest.Source.SMS,
            language=result.conversation.language,
        )
    except InvalidInput:  # the text is stored anyway: an agent reads it
        logger.info(
            "SMS callback keyword from an unusable number on #%s", result.conversation.number
        )
