"""Readers for chat: who is available, a visitor's conversation and transcript, the console list.

Visitor reads are scoped by the visitor's own signed id; agent reads by the permission policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guichet.accounts.models import Team, User
from guichet.channels import acknowledgements
from guichet.channels.chat.models import AgentPresence
from guichet.channels.promise import format_due, team_zone
from guichet.conversations.models import ACTIVE_STATUSES, Conversation, Event, Message
from guichet.conversations.selectors import visible_conversations
from guichet.customers.models import Customer, Identity

# The chat's acknowledgement is the shared one (`channels.acknowledgements`), with channel "chat":
# one window across channels, and triage's stop on automatic replies applies to it.
ACKNOWLEDGED = acknowledgements.VERB
MAX_CONSOLE_ROWS = 50


def chat_team() -> Team | None:
    """The team new chats go to: the first team, as for any message without a team."""
    return Team.objects.order_by("id").first()


def available_agents(*, team: Team | None, now: datetime | None = None) -> QuerySet[User]:
    """Active agents of `team` (or administrators) whose chat console is open and accepting."""
    since = (now or timezone.now()) - timedelta(seconds=settings.CHAT_PRESENCE_SECONDS)
    members = Q(role=User.Role.ADMIN) | Q(is_superuser=True)
    if team is not None:
        members |= Q(teams=team)
    return User.objects.filter(
        members,
        is_active=True,
        chat_presence__accepting=True,
        chat_presence__last_seen_at__gte=since,
    ).distinct()


def agents_available(*, team: Team | None = None) -> bool:
    return available_agents(team=team if team is not None else chat_team()).exists()


def presence_of(user: User) -> AgentPresence | None:
    return AgentPresence.objects.filter(user=user).first()


def _visitor_customer(visitor_id: str) -> Customer | None:
    identity = (
        Identity.objects.select_related("customer")
        .filter(kind=Identity.Kind.CHAT, value=visitor_id)
        .first()
    )
    if identity is None:
        return None
    customer = identity.customer
    seen = {customer.pk}
    while customer.merged_into_id is not None and customer.merged_into_id not in seen:
        customer = Customer.objects.get(pk=customer.merged_into_id)
        seen.add(customer.pk)
    return customer


def visitor_conversation(*, visitor_id: str | None) -> Conversation | None:
    """The visitor's current chat conversation: their latest active one on the chat channel."""
    if not visitor_id:
        return None
    customer = _visitor_customer(visitor_id)
    if customer is None:
        return None
    return (
        Conversation.objects.select_related("team__calendar", "customer")
        .filter(customer=customer, channel="chat", status__in=ACTIVE_STATUSES)
        .order_by("-last_message_at")
        .first()
    )


@dataclass(frozen=True)
class ChatLine:
    """One line of a chat transcript as the customer or the console shows it."""

    key: str  # "m123" for a message, "e45" for a notice: unique within a conversation
    kind: str  # "inbound", "outbound" or "notice"
    author: str
    text: str
    at: datetime
    number: int

    def payload(self) -> dict[str, Any]:
        return {
            "type": "line",
            "key": self.key,
            "kind": self.kind,
            "author": self.author,
            "text": self.text,
            "at": self.at.isoformat(),
            "time": timezone.localtime(self.at).strftime("%H:%M"),
            "number": self.number,
        }


def message_line(message: Message, number: int) -> ChatLine:
    kind = "inbound" if message.direction == Message.Direction.INBOUND else "outbound"
    return ChatLine(
        key=f"m{message.pk}",
        kind=kind,
        author=message.author_name,
        text=message.text,
        at=message.created_at,
        number=number,
    )


def acknowledgement_text(conversation: Conversation, data: dict[str, Any]) -> str:
    """The automatic notice in the current language: conversation number and promised time."""
    language = translation.get_language() or "fr"
    due = ""
    if data.get("due"):
        due_at = datetime.fromisoformat(data["due"])
        due = format_due(due_at, team_zone(conversation.team), language[:2])
    if due:
        return _(
            "No one is available to chat right now. Your message is saved as conversation "
            "no. %(number)s and a person will answer by %(due)s."
        ) % {"number": conversation.number, "due": due}
    return _(
        "No one is available to chat right now. Your message is saved as conversation "
        "no. %(number)s and a person will answer as soon as possible."
    ) % {"number": conversation.number}


def acknowledgement_line(conversation: Conversation, event: Event) -> ChatLine:
    return ChatLine(
        key=f"e{event.pk}",
        kind="notice",
        author="Guichet",
        text=acknowledgement_text(conversation, event.data),
        at=event.created_at,
        number=conversation.number,
    )


def chat_transcript(*, conversation: Conversation, after: datetime | None = None) -> list[ChatLine]:
    """Customer-visible lines (messages, not internal notes; the acknowledgement) in time order."""
    messages = conversation.messages.exclude(direction=Message.Direction.NOTE)
    events = conversation.events.filter(verb=ACKNOWLEDGED, data__channel="chat")
    if after is not None:
        messages = messages.filter(created_at__gt=after)
        events = events.filter(created_at__gt=after)
    lines = [message_line(m, conversation.number) for m in messages.order_by("created_at", "id")]
    lines += [acknowledgement_line(conversation, e) for e in events.order_by("created_at")]
    return sorted(lines, key=lambda line: (line.at, line.key))


def console_conversations(*, user: User) -> list[Conversation]:
    """Active chat conversations the agent may see, most recent activity first."""
    return list(
        visible_conversations(user=user)
        .filter(channel="chat", status__in=ACTIVE_STATUSES)
        .select_related("customer", "assignee")
        .order_by("-last_message_at", "-id")[:MAX_CONSOLE_ROWS]
    )


def console_conversation(*, user: User, number: int) -> Conversation:
    """One chat conversation the agent may see; `Conversation.DoesNotExist` otherwise."""
    return (
        visible_conversations(user=user)
        .filter(channel="chat")
        .select_related("customer", "team__calendar", "assignee")
        .get(number=number)
    )


def console_conversation_ids(*, user: User, numbers: list[int]) -> dict[int, int]:
    """Of these chat numbers, those the agent may see: number -> conversation id (what a reply
    needs: it locks the row itself)."""
    return dict(
        visible_conversations(user=user)
        .filter(channel="chat", number__in=numbers)
        .values_list("number", "pk")
    )


def visitor_ids_of(conversation: Conversation) -> list[str]:
    """The chat identities of the conversation's customer (more than one after a merge)."""
    return list(
        Identity.objects.filter(
            Q(customer_id=conversation.customer_id)
            | Q(customer__merged_into_id=conversation.customer_id),
            kind=Identity.Kind.CHAT,
        ).values_list("value", flat=True)
    )


def visitor_ids_of_many(conversations: list[Conversation]) -> dict[int, list[str]]:
    """`visitor_ids_of` for several conversations, in one query (customer id -> visitor ids)."""
    customers = {conversation.customer_id for conversation in conversations}
    found: dict[int, list[str]] = {customer: [] for customer in customers}
    rows = Identity.objects.filter(
        Q(customer_id__in=customers) | Q(customer__merged_into_id__in=customers),
        kind=Identity.Kind.CHAT,
    ).values_list("customer_id", "customer__merged_into_id", "value")
    for customer_id, merged_into_id, value in rows:
        for owner in (customer_id, merged_into_id):
            if owner in found:
                found[owner].append(value)
    return found
