"""Readers of the phone channel: caller lookup (for the telephony system) and the callback queue."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse

from guichet.accounts.models import User
from guichet.accounts.permissions import conversation_visibility_q
from guichet.channels.phone.models import CallbackRequest
from guichet.conversations.models import ACTIVE_STATUSES, Conversation
from guichet.customers.identities import normalise_phone
from guichet.customers.services import customer_find_by_identity

MAX_OPEN_CONVERSATIONS = 20


def caller_lookup(*, number: str) -> dict:
    """The customer holding this number and their open conversations (`InvalidInput` for a
    number that is not valid). Called with the telephony token, not as an agent: the token is
    the permission, and the answer carries only what a screen pop needs."""
    e164 = normalise_phone(number)
    customer = customer_find_by_identity(kind="phone", value=e164)
    customers = []
    if customer is not None:
        conversations = (
            Conversation.objects.filter(customer=customer, status__in=ACTIVE_STATUSES)
            .select_related("team", "assignee")
            .order_by("-last_message_at", "-id")[:MAX_OPEN_CONVERSATIONS]
        )
        customers.append(
            {
                "id": customer.pk,
                "name": customer.display_name,
                "language": customer.preferred_language,
                "advisor": customer.advisor.display_name if customer.advisor else "",
                "path": reverse("customer", args=[customer.pk]),
                "open_conversations": [
                    {
                        "number": conversation.number,
                        "subject": conversation.subject,
                        "status": conversation.status,
                        "channel": conversation.channel,
                        "team": conversation.team.name if conversation.team else "",
                        "assignee": (
                            conversation.assignee.display_name if conversation.assignee else ""
                        ),
                        "path": reverse("conversation", args=[conversation.number]),
                    }
                    for conversation in conversations
                ],
            }
        )
    return {"number": e164, "customers": customers}


def callback_queue(*, user: User, limit: int = 100) -> QuerySet[CallbackRequest]:
    """Waiting and in-progress requests the user may handle, in request order."""
    return (
        CallbackRequest.objects.filter(
            conversation_visibility_q(user, prefix="conversation__"),
            status__in=[CallbackRequest.Status.WAITING, CallbackRequest.Status.IN_PROGRESS],
        )
        .select_related("conversation__customer", "conversation__team", "taken_by")
        .order_by("created_at", "id")[:limit]
    )


def callback_get(*, user: User, pk: int) -> CallbackRequest | None:
    return (
        CallbackRequest.objects.filter(conversation_visibility_q(user, prefix="conversation__"))
        .select_related("conversation__customer", "conversation__team")
        .filter(pk=pk)
        .first()
    )
