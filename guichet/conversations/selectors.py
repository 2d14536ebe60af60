"""Readers for conversations and customers, always scoped by the acting user's permissions.

A row the user may not see behaves as if it did not exist (`DoesNotExist`, a 404 in views).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from guichet.accounts.models import User
from guichet.accounts.permissions import (
    conversation_visibility_q,
    customer_visibility_q,
    is_supervisor,
    team_ids,
)
from guichet.conversations import senders
from guichet.conversations.models import (
    ACTIVE_STATUSES,
    Attachment,
    Conversation,
    Event,
    Message,
    Status,
    Tag,
)
from guichet.customers.models import Customer

INBOX_VIEWS = ("mine", "unassigned", "teams", "all")
SORTS: dict[str, tuple[Any, ...]] = {
    "due": (F("due_at").asc(nulls_last=True), "-id"),
    "-due": (F("due_at").desc(nulls_last=True), "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "updated": ("last_message_at", "id"),
    "-updated": (F("last_message_at").desc(nulls_last=True), "-id"),
    "priority": ("priority", "-id"),
    "-priority": ("-priority", "-id"),
}


class InvalidFilter(ValueError):
    """A filter or sort value outside the allowed set (a 400, never passed to SQL)."""


@dataclass
class InboxFilters:
    view: str = "mine"
    status: str = ""  # "" = active (not resolved or closed), "any", or a Status value
    priority: int | None = None
    team_id: int | None = None
    channel: str = ""
    tag: str = ""
    overdue: bool = False
    snoozed: bool = False
    delivery_failed: bool = False  # the latest reply did not reach the customer
    sort: str = "due"
    extra: dict[str, Any] = field(default_factory=dict)


def visible_conversations(*, user: User) -> QuerySet[Conversation]:
    return Conversation.objects.filter(conversation_visibility_q(user))


def conversation_get(*, user: User, number: int) -> Conversation:
    """The conversation with this number if the user may see it; else `DoesNotExist`."""
    return (
        visible_conversations(user=user)
        .select_related("customer", "team", "assignee", "customer__advisor")
        .get(number=number)
    )


def available_views(user: User) -> tuple[str, ...]:
    return INBOX_VIEWS if is_supervisor(user) else INBOX_VIEWS[:3]


def _view_q(user: User, view: str) -> Q:
    if view == "mine":
        return Q(assignee_id=user.pk)
    if view == "unassigned":
        return Q(assignee__isnull=True)
    if view == "teams":
        return Q(team_id__in=team_ids(user))
    if view == "all" and is_supervisor(user):
        return Q()
    raise InvalidFilter(f"unknown view {view!r}")


def inbox_queryset(
    *, user: User, filters: InboxFilters, now: datetime | None = None
) -> QuerySet[Conversation]:
    now = now or timezone.now()
    qs = visible_conversations(user=user).filter(_view_q(user, filters.view))
    if filters.status == "":
        qs = qs.filter(status__in=ACTIVE_STATUSES)
    elif filters.status != "any":
        if filters.status not in Status.values:
            raise InvalidFilter(f"unknown status {filters.status!r}")
        qs = qs.filter(status=filters.status)
    if filters.priority is not None:
        qs = qs.filter(priority=filters.priority)
    if filters.team_id is not None:
        qs = qs.filter(team_id=filters.team_id)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.tag:
        qs = qs.filter(
            Exists(
                Tag.conversations.through.objects.filter(
                    conversation_id=OuterRef("pk"), tag__name=filters.tag
                )
            )
        )
    if filters.overdue:
        qs = qs.filter(due_at__lt=now)
    if filters.delivery_failed:
        qs = qs.alias(latest_delivery=_latest_outbound_status()).filter(
            latest_delivery=Message.DeliveryStatus.FAILED
        )
    if filters.snoozed:
        qs = qs.filter(snoozed_until__gt=now)
    else:
        qs = qs.filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
    if filters.sort not in SORTS:
        raise InvalidFilter(f"unknown sort {filters.sort!r}")
    return qs.order_by(*SORTS[filters.sort])


def inbox_page(
    *, user: User, filters: InboxFilters, page: int, page_size: int
) -> tuple[list[Conversation], int]:
    """One page of the inbox and the total count: a constant number of queries."""
    qs = inbox_queryset(user=user, filters=filters)
    total = qs.count()
    start = max(page - 1, 0) * page_size
    rows: list[Conversation] = list(
        # Customers are fetched for the page's rows only: joining them made PostgreSQL hash the
        # whole customer table before sorting (bench/results-2026-11-21.txt).
        qs.select_related("team", "assignee")
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.only("name")),
            Prefetch("customer", queryset=Customer.objects.only("display_name")),
        )
        .annotate(latest_delivery=_latest_outbound_status())
        .only(
            "number",
            "subject",
            "status",
            "priority",
            "channel",
            "due_at",
            "last_message_at",
            "created_at",
            "snoozed_until",
            "first_human_response_due",
            "first_human_response_at",
            "needs_decision",
            "customer",
            "team__name",
            "assignee__username",
            "assignee__first_name",
            "assignee__last_name",
        )[start : start + page_size]
    )
    return rows, total


def inbox_counts(*, user: User, now: datetime | None = None) -> dict[str, int]:
    """Active, unsnoozed conversations per inbox view, in one query."""
    now = now or timezone.now()
    qs = (
        visible_conversations(user=user)
        .filter(status__in=ACTIVE_STATUSES)
        .filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
    )
    aggregates = {view: Count("pk", filter=_view_q(user, view)) for view in available_views(user)}
    aggregates["overdue"] = Count("pk", filter=Q(due_at__lt=now))
    return {key: int(value or 0) for key, value in qs.aggregate(**aggregates).items()}


@dataclass(frozen=True)
class TimelineItem:
    kind: str  # "message" or "event"
    at: datetime
    message: Message | None = None
    event: Event | None = None


def conversation_timeline(*, conversation: Conversation) -> list[TimelineItem]:
    """Messages, notes and events in time order (the caller already checked visibility)."""
    messages = list(
        conversation.messages.select_related("author_agent")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    events = list(
        conversation.events.exclude(
            verb__in=["message.received", "message.sent", "note.added"]
        ).order_by("created_at")
    )
    _delivery_attach(messages, events)
    items = [TimelineItem("message", m.created_at, message=m) for m in messages]
    items += [TimelineItem("event", e.created_at, event=e) for e in events]
    return sorted(items, key=lambda item: item.at)


# Events that say why an outbound message did not leave (the latest one is shown on it).
DELIVERY_FAILURE_VERBS = frozenset(
    {
        "message.delivery_failed",
        "email.failed",
        "email.attempt_failed",
        "sms.blocked",
        "sms.failed",
        "sms.attempt_failed",
    }
)


def _delivery_attach(messages: list[Message], events: list[Event]) -> None:
    """Set `delivery` (what the channel's outbox knows, or None) and `delivery_event` (the
    latest event explaining a failure, or None) on each message: one query per channel."""
    found = senders.deliveries(messages)
    failures: dict[int, Event] = {}
    for event in events:
        message_id = (event.data or {}).get("message_id")
        if event.verb in DELIVERY_FAILURE_VERBS and isinstance(message_id, int):
            failures[message_id] = event
    for message in messages:
        message.delivery = found.get(message.pk)  # type: ignore[attr-defined]
        message.delivery_event = failures.get(message.pk)  # type: ignore[attr-defined]


def failed_latest_reply(timeline: list[TimelineItem]) -> Message | None:
    """The latest outbound message of this timeline if it failed to reach the customer."""
    for item in reversed(timeline):
        message = item.message
        if message is not None and message.direction == Message.Direction.OUTBOUND:
            failed = message.delivery_status == Message.DeliveryStatus.FAILED
            return message if failed else None
    return None


def _latest_outbound_status() -> Subquery:
    return Subquery(
        Message.objects.filter(conversation=OuterRef("pk"), direction=Message.Direction.OUTBOUND)
        .order_by("-created_at", "-id")
        .values("delivery_status")[:1]
    )


def attachment_get(*, user: User, attachment_id: int) -> Attachment:
    """The attachment if the user may see its conversation; else `DoesNotExist` (F03)."""
    return (
        Attachment.objects.select_related("message__conversation")
        .filter(conversation_visibility_q(user, prefix="message__conversation__"))
        .get(pk=attachment_id)
    )


def visible_customers(*, user: User) -> QuerySet[Customer]:
    return Customer.objects.filter(
        pk__in=Customer.objects.filter(customer_visibility_q(user)).values("pk")
    )


def customer_get(*, user: User, customer_id: int) -> Customer:
    return visible_customers(user=user).select_related("advisor", "merged_into").get(pk=customer_id)


def customer_kept(*, user: User, customer_id: int) -> Customer | None:
    """The customer that `customer_id` was merged into (following merges), if `user` may see it.

    A merged customer keeps no identity nor conversation, so it is not visible itself; its old
    address still leads to the customer kept. None when it was never merged or the customer kept
    is out of the user's sight (then the old address stays a 404).
    """
    merged_into = (
        Customer.objects.filter(pk=customer_id).values_list("merged_into_id", flat=True).first()
    )
    kept: int | None = None
    seen = {customer_id}
    while merged_into is not None and merged_into not in seen:
        seen.add(merged_into)
        kept = merged_into
        merged_into = (
            Customer.objects.filter(pk=kept).values_list("merged_into_id", flat=True).first()
        )
    if kept is None:
        return None
    return visible_customers(user=user).filter(pk=kept).first()


def customer_conversations(*, user: User, customer: Customer) -> QuerySet[Conversation]:
    """The customer's conversations across channels that the user may see, newest first."""
    return (
        visible_conversations(user=user)
        .filter(customer=customer)
        .select_related("team", "assignee")
        .order_by("-created_at")
    )
