"""Writers of the web form and the portal: a message from the form, a reply from the portal.

Both end in `message_ingest` (channel "webform") inside one transaction with everything they
queue, so a failure stores nothing half-way. The form's confirmation email goes through the email
channel's outbox as an acknowledgement, under the rule every channel shares
(`guichet.channels.acknowledgements`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from guichet.channels.email.outbound import acknowledgement_queue
from guichet.conversations.models import Conversation
from guichet.conversations.services import message_ingest
from guichet.conversations.types import InboundAttachment, InboundMessage, IngestResult
from guichet.core.exceptions import NotAllowed
from guichet.customers.services import customer_find_by_identity

logger = logging.getLogger(__name__)

CHANNEL = "webform"


@dataclass(frozen=True)
class Submission:
    """A contact-form message, validated by the form."""

    name: str
    email: str
    subject: str
    text: str
    language: str
    submission_id: str
    attachments: tuple[InboundAttachment, ...] = ()


def webform_submit(*, submission: Submission) -> IngestResult:
    """Store the message (a new conversation) and queue its confirmation email.

    Idempotent on the form's submission id: sending the same form twice returns the first
    result and queues nothing more.
    """
    with transaction.atomic():
        result = message_ingest(
            InboundMessage(
                channel=CHANNEL,
                sender_kind="email",
                sender_value=submission.email,
                sender_name=submission.name,
                subject=submission.subject,
                text=submission.text,
                external_id=f"webform:{submission.submission_id}",
                language=submission.language,
                attachments=submission.attachments,
                source_ref="webform",
            )
        )
        if result.created and result.conversation_created:
            acknowledgement_queue(
                conversation=result.conversation,
                to_address=submission.email.strip().lower(),
                channel=CHANNEL,
            )
    return result


def portal_reply(
    *,
    customer_id: int,
    address: str,
    conversation: Conversation,
    text: str,
    language: str,
    submission_id: str,
    attachments: tuple[InboundAttachment, ...] = (),
) -> IngestResult:
    """A signed-in customer's message on one of their conversations.

    The conversation number is a verified hint: the caller has checked that the conversation
    belongs to the customer, and the address still has to be theirs now (an identity moved to
    another customer since sign-in makes the reply refused, never misfiled).
    """
    owner = customer_find_by_identity(kind="email", value=address)
    if owner is None or owner.pk != customer_id or conversation.customer_id != customer_id:
        raise NotAllowed(_("You cannot write on this conversation."))
    return message_ingest(
        InboundMessage(
            channel=CHANNEL,
            sender_kind="email",
            sender_value=address,
            text=text,
            external_id=f"portal:{submission_id}",
            conversation_number=conversation.number,
            language=language,
            attachments=attachments,
            source_ref="portal",
        )
    )
