"""Writers for conversations. Each function makes one change atomically and records its events.

Views, tasks and channels call these; nothing else saves conversation rows. Side effects (sending
a reply) run after commit.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import Team, User
from guichet.accounts.permissions import (
    can_assign_to_others,
    can_merge_customers,
    conversation_visibility_q,
    customer_visibility_q,
    is_admin,
)
from guichet.conversations import sla
from guichet.conversations.content import (
    clean_text,
    html_to_text,
    safe_filename,
    sanitise_html,
    sniff_content_type,
    store_bytes,
)
from guichet.conversations.models import (
    ACTIVE_STATUSES,
    TRANSITIONS,
    Attachment,
    Channel,
    Conversation,
    Event,
    Message,
    Priority,
    Status,
    Tag,
)
from guichet.conversations.senders import sender_for
from guichet.conversations.types import InboundMessage, IngestResult
from guichet.core.exceptions import Conflict, InvalidInput, NotAllowed
from guichet.core.services import sequence_next
from guichet.customers.models import Customer, Identity
from guichet.customers.services import (
    customer_get_or_create,
    customer_merge_rows,
    customer_update,
    identity_add,
)

logger = logging.getLogger(__name__)

MAX_SUBJECT = 255
MAX_TAGS = 20


def event_record(
    *,
    verb: str,
    conversation: Conversation | None = None,
    customer: Customer | None = None,
    actor: User | None = None,
    actor_name: str = "",
    data: dict | None = None,
) -> Event:
    """Write one timeline event; call inside the transaction of the change it describes."""
    return Event.objects.create(
        verb=verb,
        conversation=conversation,
        customer=customer,
        actor=actor,
        actor_name=actor_name or (actor.display_name if actor else ""),
        data=data or {},
    )


def _save(conversation: Conversation, fields: list[str]) -> None:
    sla.refresh_due_at(conversation)
    conversation.save(update_fields=[*fields, "due_at", "updated_at"])


def _lock_visible(actor: User, conversation: Conversation) -> Conversation:
    """The conversation's row, locked, if `actor` may see it; else `NotAllowed` (RELIABILITY A02).

    Views check visibility already; services check again so that no caller (API, task, a view
    that forgot) can act on a conversation of another team.
    """
    found = (
        Conversation.objects.select_for_update()
        .filter(conversation_visibility_q(actor), pk=conversation.pk)
        .first()
    )
    if found is None:
        raise NotAllowed(_("You cannot act on this conversation."))
    return found


def _ensure_visible(actor: User, conversation: Conversation) -> None:
    if not Conversation.objects.filter(
        conversation_visibility_q(actor), pk=conversation.pk
    ).exists():
        raise NotAllowed(_("You cannot act on this conversation."))


def _default_team() -> Team | None:
    return Team.objects.order_by("id").first()


def _conversation_new(
    *,
    customer: Customer,
    channel: str,
    subject: str,
    team: Team | None,
    language: str,
    now: datetime,
    priority: int = Priority.NORMAL,
) -> Conversation:
    conversation = Conversation(
        number=sequence_next(name="conversation"),
        subject=clean_text(subject, MAX_SUBJECT).strip(),
        customer=customer,
        team=team,
        channel=channel,
        language=language[:8],
        priority=priority,
        last_message_at=now,
        first_human_response_due=sla.first_human_response_due(team, now),
        resolution_due=sla.resolution_due(team, now),
    )
    sla.refresh_due_at(conversation)
    conversation.save()
    return conversation


def _attachments_store(message: Message, inbound: InboundMessage) -> None:
    from django.conf import settings

    for item in inbound.attachments:
        name = safe_filename(item.filename)
        if len(item.content) > settings.ATTACHMENT_MAX_BYTES:
            event_record(
                verb="attachment.rejected",
                conversation=message.conversation,
                actor_name=_("System"),
                data={"filename": name, "size": len(item.content), "reason": "too_large"},
            )
            continue
        key, digest = store_bytes(item.content)
        Attachment.objects.create(
            message=message,
            storage_key=key,
            filename=name,
            content_type=sniff_content_type(item.content),
            declared_content_type=clean_text(item.declared_content_type, 100),
            size=len(item.content),
            sha256=digest,
        )


def _thread_target(inbound: InboundMessage, customer: Customer) -> Conversation | None:
    """The conversation this message continues, from the hints its channel verified."""
    candidates = Conversation.objects.select_for_update().exclude(status=Status.CLOSED)
    if inbound.in_reply_to:
        earlier = (
            Message.objects.filter(channel=inbound.channel, external_id__in=inbound.in_reply_to)
            .exclude(conversation__status=Status.CLOSED)
            .order_by("-created_at")
            .values_list("conversation_id", flat=True)
            .first()
        )
        if earlier is not None:
            return candidates.get(pk=earlier)
    if inbound.conversation_number is not None:
        found = candidates.filter(number=inbound.conversation_number, customer=customer).first()
        if found is not None:
            return found
    if inbound.thread_on_open:
        return (
            candidates.filter(
                customer=customer, channel=inbound.channel, status__in=ACTIVE_STATUSES
            )
            .order_by("-last_message_at")
            .first()
        )
    return None


def message_ingest(inbound: InboundMessage) -> IngestResult:
    """Store one inbound message: find or create the customer, thread it, record events.

    Idempotent on (channel, external id): a second call with the same id returns the first result
    with `created=False` and changes nothing.
    """
    if inbound.channel not in Channel.values:
        raise InvalidInput(
            _("Unknown channel: %(channel)s.") % {"channel": str(inbound.channel)[:20]}
        )
    inbound = _inbound_clean(inbound)
    if inbound.external_id:
        existing = _existing_message(inbound)
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return _message_ingest(inbound)
    except IntegrityError:
        # A concurrent call stored the same external id first.
        if inbound.external_id:
            existing = _existing_message(inbound)
            if existing is not None:
                return existing
        raise


def _inbound_clean(inbound: InboundMessage) -> InboundMessage:
    """Fit the short fields to their columns and drop what databases refuse (NUL, lone surrogates).

    Without this, PostgreSQL answers such input with a database error instead of a clear refusal.
    """
    number = inbound.conversation_number
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        try:
            number = int(str(number).strip().lstrip("#"))
        except ValueError:
            number = None  # a hint only: an unreadable one opens a new conversation
    return dataclasses.replace(
        inbound,
        sender_name=clean_text(inbound.sender_name, 200),
        external_id=clean_text(inbound.external_id, 255),
        in_reply_to=tuple(
            ref for ref in (clean_text(ref, 255) for ref in inbound.in_reply_to[:100]) if ref
        ),
        conversation_number=number,
        language=clean_text(inbound.language, 8),
        source_ref=clean_text(inbound.source_ref, 255),
    )


def _existing_message(inbound: InboundMessage) -> IngestResult | None:
    message = (
        Message.objects.select_related("conversation")
        .filter(channel=inbound.channel, external_id=inbound.external_id)
        .first()
    )
    if message is None:
        return None
    return IngestResult(message.conversation, message, created=False, conversation_created=False)


def _message_ingest(inbound: InboundMessage) -> IngestResult:
    now = timezone.now()
    customer, customer_created = customer_get_or_create(
        kind=inbound.sender_kind,
        value=inbound.sender_value,
        display_name=inbound.sender_name,
        language=inbound.language,
    )
    html = sanitise_html(inbound.html)
    text = clean_text(inbound.text) or (html_to_text(html) if html else "")
    conversation = _thread_target(inbound, customer)
    conversation_created = conversation is None
    if conversation is None:
        team = Team.objects.filter(pk=inbound.team_id).first() if inbound.team_id else None
        conversation = _conversation_new(
            customer=customer,
            channel=inbound.channel,
            subject=inbound.subject or text[:80],
            team=team or _default_team(),
            language=inbound.language or customer.preferred_language,
            now=now,
        )
        event_record(
            verb="conversation.created",
            conversation=conversation,
            actor_name=customer.display_name,
            data={"channel": inbound.channel, "customer_created": customer_created},
        )
    else:
        _reopen_on_inbound(conversation, now)
    message = Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.INBOUND,
        channel=inbound.channel,
        author_kind=Message.AuthorKind.CUSTOMER,
        author_name=customer.display_name or inbound.sender_value[:200],
        text=text,
        html=html,
        external_id=inbound.external_id,
        source_ref=inbound.source_ref,
    )
    _attachments_store(message, inbound)
    event_record(
        verb="message.received",
        conversation=conversation,
        actor_name=message.author_name,
        data={"message_id": message.pk, "channel": inbound.channel},
    )
    return IngestResult(
        conversation, message, created=True, conversation_created=conversation_created
    )


def _reopen_on_inbound(conversation: Conversation, now: datetime) -> None:
    fields = ["last_message_at"]
    conversation.last_message_at = now
    if conversation.status in (
        Status.WAITING_CUSTOMER,
        Status.WAITING_THIRD_PARTY,
        Status.RESOLVED,
    ):
        event_record(
            verb="status.changed",
            conversation=conversation,
            actor_name=_("New message"),
            data={"from": conversation.status, "to": Status.OPEN, "reason": "inbound"},
        )
        conversation.status = Status.OPEN
        conversation.resolved_at = None
        fields += ["status", "resolved_at"]
    if conversation.snoozed_until is not None:
        conversation.snoozed_until = None
        fields.append("snoozed_until")
    if conversation.first_human_response_at is not None and conversation.next_response_due is None:
        conversation.next_response_due = sla.next_response_due(conversation.team, now)
        fields.append("next_response_due")
    _save(conversation, fields)


@transaction.atomic
def conversation_open(
    *,
    actor: User,
    channel: str,
    customer_kind: str,
    customer_value: str,
    customer_name: str,
    subject: str,
    text: str,
    team: Team | None,
    priority: int = Priority.NORMAL,
) -> Conversation:
    """Open a conversation on a customer's behalf (a phone call, a visit, a letter).

    What the customer asked is recorded as their inbound message, taken down by the agent.
    """
    if channel not in Channel.values:
        raise InvalidInput(_("Unknown channel."))
    if not text.strip():
        raise InvalidInput(_("Write down what the customer asked."))
    if team is not None and not is_admin(actor) and not actor.teams.filter(pk=team.pk).exists():
        raise NotAllowed(_("You can only open conversations for your own teams."))
    customer, _created = customer_get_or_create(
        kind=customer_kind,
        value=customer_value,
        display_name=clean_text(customer_name, 200).strip(),
    )
    now = timezone.now()
    conversation = _conversation_new(
        customer=customer,
        channel=channel,
        subject=subject or text[:80],
        team=team,
        language=customer.preferred_language,
        now=now,
        priority=priority,
    )
    event_record(
        verb="conversation.created",
        conversation=conversation,
        actor=actor,
        data={"channel": channel, "on_behalf": True},
    )
    message = Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.INBOUND,
        channel=channel,
        author_kind=Message.AuthorKind.CUSTOMER,
        author_agent=actor,
        author_name=(customer.display_name or customer_value)[:200],
        text=clean_text(text),
    )
    event_record(
        verb="message.received",
        conversation=conversation,
        actor=actor,
        data={"message_id": message.pk, "channel": channel, "recorded_by": actor.pk},
    )
    return conversation


@transaction.atomic
def conversation_reply(*, actor: User, conversation: Conversation, text: str) -> Message:
    """Answer the customer. The first answer by a person meets the first-human-response target."""
    text = clean_text(text).strip()
    if not text:
        raise InvalidInput(_("A reply cannot be empty."))
    conversation = _lock_visible(actor, conversation)
    if conversation.status == Status.CLOSED:  # checked on the locked row, not the caller's copy
        raise InvalidInput(_("This conversation is closed."))
    now = timezone.now()
    sender = sender_for(conversation.channel)
    message = Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        channel=conversation.channel,
        author_kind=Message.AuthorKind.AGENT,
        author_agent=actor,
        author_name=actor.display_name,
        text=text,
        delivery_status=Message.DeliveryStatus.QUEUED if sender else Message.DeliveryStatus.NONE,
    )
    fields = ["last_message_at", "next_response_due"]
    conversation.last_message_at = now
    conversation.next_response_due = None
    if conversation.first_human_response_at is None:
        conversation.first_human_response_at = now
        fields.append("first_human_response_at")
    if conversation.status == Status.NEW:
        conversation.status = Status.OPEN
        fields.append("status")
        event_record(
            verb="status.changed",
            conversation=conversation,
            actor=actor,
            data={"from": Status.NEW, "to": Status.OPEN, "reason": "replied"},
        )
    if conversation.assignee_id is None:
        conversation.assignee = actor
        fields.append("assignee")
        event_record(
            verb="assigned",
            conversation=conversation,
            actor=actor,
            data={"to": actor.pk, "to_name": actor.display_name, "reason": "replied"},
        )
    _save(conversation, fields)
    event_record(
        verb="message.sent", conversation=conversation, actor=actor, data={"message_id": message.pk}
    )
    if sender is not None:
        transaction.on_commit(lambda: sender(message))
    return message


@transaction.atomic
def conversation_note_add(*, actor: User, conversation: Conversation, text: str) -> Message:
    text = clean_text(text).strip()
    if not text:
        raise InvalidInput(_("A note cannot be empty."))
    _ensure_visible(actor, conversation)
    message = Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.NOTE,
        channel=conversation.channel,
        author_kind=Message.AuthorKind.AGENT,
        author_agent=actor,
        author_name=actor.display_name,
        text=text,
    )
    event_record(
        verb="note.added", conversation=conversation, actor=actor, data={"message_id": message.pk}
    )
    return message


def conversation_claim(*, actor: User, conversation: Conversation) -> Conversation:
    """Take an unassigned conversation. Of two simultaneous claims exactly one wins (T04)."""
    _ensure_visible(actor, conversation)
    with transaction.atomic():
        won = Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
            assignee=actor, updated_at=timezone.now()
        )
        if won:
            event_record(
                verb="claimed",
                conversation=conversation,
                actor=actor,
                data={"to": actor.pk, "to_name": actor.display_name},
            )
    fresh = Conversation.objects.select_related("assignee").get(pk=conversation.pk)
    if not won and fresh.assignee_id != actor.pk:
        owner = fresh.assignee.display_name if fresh.assignee else "?"
        raise Conflict(_("%(name)s has already taken this conversation.") % {"name": owner})
    return fresh


@transaction.atomic
def conversation_assign(
    *, actor: User, conversation: Conversation, assignee: User | None
) -> Conversation:
    """Hand the conversation to a member of its team (or unassign with None).

    Agents may hand over a conversation that is theirs or nobody's; taking one away from a
    colleague is for supervisors.
    """
    conversation = _lock_visible(actor, conversation)
    if not can_assign_to_others(actor) and conversation.assignee_id not in (None, actor.pk):
        raise NotAllowed(_("Only supervisors can take a conversation from someone else."))
    if assignee is not None:
        if not assignee.is_active:
            raise InvalidInput(_("This agent is not active."))
        if not is_admin(assignee) and (
            conversation.team_id is None
            or not assignee.teams.filter(pk=conversation.team_id).exists()
        ):
            raise InvalidInput(
                _("%(name)s is not a member of this conversation's team.")
                % {"name": assignee.display_name}
            )
    if conversation.assignee_id == (assignee.pk if assignee else None):
        return conversation
    previous = conversation.assignee_id
    conversation.assignee = assignee
    _save(conversation, ["assignee"])
    event_record(
        verb="assigned" if assignee else "unassigned",
        conversation=conversation,
        actor=actor,
        data={
            "from": previous,
            "to": assignee.pk if assignee else None,
            "to_name": assignee.display_name if assignee else "",
        },
    )
    return conversation


@transaction.atomic
def conversation_set_status(
    *, actor: User, conversation: Conversation, status: str
) -> Conversation:
    conversation = _lock_visible(actor, conversation)
    if status not in Status.values:
        raise InvalidInput(_("Unknown status."))
    if status == conversation.status:
        return conversation
    if status not in TRANSITIONS[conversation.status]:
        raise InvalidInput(
            _("A conversation cannot go from “%(from)s” to “%(to)s”.")
            % {"from": Status(conversation.status).label, "to": Status(status).label}
        )
    previous = conversation.status
    now = timezone.now()
    conversation.status = status
    fields = ["status"]
    if status == Status.RESOLVED:
        conversation.resolved_at = now
        fields.append("resolved_at")
    elif status == Status.CLOSED:
        conversation.closed_at = now
        fields.append("closed_at")
    elif previous == Status.RESOLVED:
        conversation.resolved_at = None
        fields.append("resolved_at")
    _save(conversation, fields)
    event_record(
        verb="status.changed",
        conversation=conversation,
        actor=actor,
        data={"from": previous, "to": status},
    )
    return conversation


@transaction.atomic
def conversation_set_priority(
    *, actor: User, conversation: Conversation, priority: int
) -> Conversation:
    if priority not in Priority.values:
        raise InvalidInput(_("Unknown priority."))
    conversation = _lock_visible(actor, conversation)
    if conversation.priority == priority:
        return conversation
    previous = conversation.priority
    conversation.priority = priority
    _save(conversation, ["priority"])
    event_record(
        verb="priority.changed",
        conversation=conversation,
        actor=actor,
        data={"from": previous, "to": priority},
    )
    return conversation


@transaction.atomic
def conversation_set_team(*, actor: User, conversation: Conversation, team: Team) -> Conversation:
    """Move to another team; due times not yet met are recomputed in the new team's calendar."""
    conversation = _lock_visible(actor, conversation)
    if conversation.team_id == team.pk:
        return conversation
    previous = conversation.team_id
    conversation.team = team
    fields = ["team"]
    if conversation.first_human_response_at is None:
        conversation.first_human_response_due = sla.first_human_response_due(
            team, conversation.created_at
        )
        fields.append("first_human_response_due")
    conversation.resolution_due = sla.resolution_due(team, conversation.created_at)
    fields.append("resolution_due")
    if conversation.next_response_due is not None:
        # The customer is waiting for an answer: count from their first unanswered message.
        conversation.next_response_due = sla.next_response_due(
            team, _awaiting_answer_since(conversation)
        )
        fields.append("next_response_due")
    unassigned = None
    if (
        conversation.assignee is not None
        and not is_admin(conversation.assignee)
        and not team.members.filter(pk=conversation.assignee.pk).exists()
    ):
        unassigned = conversation.assignee_id
        conversation.assignee = None
        fields.append("assignee")
    _save(conversation, fields)
    event_record(
        verb="team.changed",
        conversation=conversation,
        actor=actor,
        data={"from": previous, "to": team.pk, "to_name": team.name, "unassigned": unassigned},
    )
    return conversation


def _awaiting_answer_since(conversation: Conversation) -> datetime:
    messages = conversation.messages.order_by("created_at", "id")
    last_answer = (
        messages.filter(direction=Message.Direction.OUTBOUND)
        .values_list("created_at", flat=True)
        .last()
    )
    inbound = messages.filter(direction=Message.Direction.INBOUND)
    if last_answer is not None:
        inbound = inbound.filter(created_at__gt=last_answer)
    since = inbound.values_list("created_at", flat=True).first()
    return since or conversation.last_message_at or timezone.now()


@transaction.atomic
def conversation_set_tags(
    *, actor: User, conversation: Conversation, names: list[str]
) -> Conversation:
    cleaned = sorted({name for name in (clean_text(n, 50).strip().lower() for n in names) if name})
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(_("At most %(n)d tags.") % {"n": MAX_TAGS})
    conversation = _lock_visible(actor, conversation)
    before = sorted(conversation.tags.values_list("name", flat=True))
    if before == cleaned:
        return conversation
    tags = [Tag.objects.get_or_create(name=name)[0] for name in cleaned]
    conversation.tags.set(tags)
    _save(conversation, [])
    event_record(
        verb="tags.changed",
        conversation=conversation,
        actor=actor,
        data={"from": before, "to": cleaned},
    )
    return conversation


@transaction.atomic
def conversation_snooze(
    *, actor: User, conversation: Conversation, until: datetime | None
) -> Conversation:
    """Hide from the inbox until a time; a new inbound message wakes it up earlier."""
    if until is not None and until <= timezone.now():
        raise InvalidInput(_("Choose a time in the future."))
    conversation = _lock_visible(actor, conversation)
    conversation.snoozed_until = until
    _save(conversation, ["snoozed_until"])
    event_record(
        verb="snoozed" if until else "unsnoozed",
        conversation=conversation,
        actor=actor,
        data={"until": until.isoformat() if until else None},
    )
    return conversation


@transaction.atomic
def customer_merge(*, actor: User, source: Customer, target: Customer) -> Customer:
    """Merge a duplicate customer into another: identities and conversations move to the target."""
    if not can_merge_customers(actor):
        raise NotAllowed(_("Only supervisors can merge customers."))
    # Locks both rows and refuses a merge that lost a race (Conflict) before anything else.
    customer_merge_rows(source=source, target=target)
    if not is_admin(actor):
        # A supervisor merges only customers they can see (RELIABILITY A02); raising here rolls
        # back the identities already moved. Conversations have not moved yet, so this is the
        # visibility from before the merge.
        visible = Customer.objects.filter(
            pk__in=Customer.objects.filter(customer_visibility_q(actor)).values("pk")
        ).filter(pk__in=[source.pk, target.pk])
        if visible.count() != 2:
            raise NotAllowed(_("You can only merge customers you can see."))
    moved_rows = list(Conversation.objects.filter(customer=source).order_by("id"))
    moved = [conversation.number for conversation in moved_rows]
    Conversation.objects.filter(customer=source).update(customer=target)
    for conversation in moved_rows:
        event_record(
            verb="customer.changed",
            conversation=conversation,
            actor=actor,
            data={"from": source.pk, "to": target.pk, "reason": "merge"},
        )
    event_record(
        verb="customer.merged",
        customer=target,
        actor=actor,
        data={"source": source.pk, "source_name": source.display_name, "conversations": moved},
    )
    event_record(
        verb="customer.merged_away", customer=source, actor=actor, data={"target": target.pk}
    )
    return target


@transaction.atomic
def customer_identity_add(*, actor: User, customer: Customer, kind: str, value: str) -> Identity:
    """Add an email address, phone number or handle to a customer, with its timeline event."""
    identity = identity_add(customer=customer, kind=kind, value=value)
    event_record(
        verb="customer.identity_added",
        customer=customer,
        actor=actor,
        data={"kind": identity.kind, "value": identity.value},
    )
    return identity


@transaction.atomic
def customer_edit(
    *,
    actor: User,
    customer: Customer,
    display_name: str,
    preferred_language: str,
    advisor: User | None,
) -> list[str]:
    """Change a customer's name, language and named advisor; returns the fields changed."""
    changed = customer_update(
        customer=customer,
        display_name=clean_text(display_name, 200).strip(),
        preferred_language=preferred_language,
        advisor=advisor,
        clear_advisor=advisor is None,
    )
    if changed:
        event_record(
            verb="customer.updated", customer=customer, actor=actor, data={"fields": changed}
        )
    return changed


def message_delivery_status_set(*, message_id: int, status: str) -> int:
    """Record what a channel learnt about the delivery of an outbound message (sent, failed,
    bounced). The caller records its timeline event in the same transaction."""
    if status not in Message.DeliveryStatus.values:
        raise InvalidInput(f"unknown delivery status {status!r}")
    return Message.objects.filter(pk=message_id, direction=Message.Direction.OUTBOUND).update(
        delivery_status=status
    )
