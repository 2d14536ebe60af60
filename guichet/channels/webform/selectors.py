"""What a signed-in customer may read on the portal: their own conversations, nothing else.

Every query starts from the customer (RELIABILITY A01, F03): another customer's conversation,
message or attachment is "not found", exactly like one that does not exist. Internal notes are
never shown, nor their attachments.
"""

from __future__ import annotations

from django.db.models import QuerySet

from guichet.conversations.models import Attachment, Conversation, Message
from guichet.customers.models import Customer

SHOWN_DIRECTIONS = (Message.Direction.INBOUND, Message.Direction.OUTBOUND)
LIST_LIMIT = 200
MAX_ID = 2**63 - 1  # a larger number from a URL would be a database error, not "not found"


def portal_conversations(*, customer: Customer) -> QuerySet[Conversation]:
    """The customer's conversations, across channels, most recent first."""
    return Conversation.objects.filter(customer=customer).order_by("-last_message_at", "-pk")[
        :LIST_LIMIT
    ]


def portal_conversation_get(*, customer: Customer, number: int) -> Conversation:
    """`Conversation.DoesNotExist` unless the conversation is the customer's."""
    if not 0 < number <= MAX_ID:
        raise Conversation.DoesNotExist
    return Conversation.objects.select_related("team__calendar").get(
        customer=customer, number=number
    )


def portal_messages(*, conversation: Conversation) -> QuerySet[Message]:
    return (
        Message.objects.filter(conversation=conversation, direction__in=SHOWN_DIRECTIONS)
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def portal_attachment_get(*, customer: Customer, attachment_id: int) -> Attachment:
    """`Attachment.DoesNotExist` unless it belongs to a shown message of the customer's."""
    if not 0 < attachment_id <= MAX_ID:
        raise Attachment.DoesNotExist
    return Attachment.objects.get(
        pk=attachment_id,
        message__conversation__customer=customer,
        message__direction__in=SHOWN_DIRECTIONS,
    )
