"""Writers for conversations. Each function makes one change atomically and records its events.

Views, tasks and channels call these; nothing else saves conversation rows. A reply is handed to
its channel's sender inside its transaction (the outbox row is committed with it); the sending
itself runs after commit.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
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
from guichet.conversations.hooks import customer_merge_hooks_run, ingest_hooks_run_many
from guichet.conversations.hooks import ingest_helpers as ingest_helpers  # for bulk imports
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
from guichet.conversations.senders import (
    Sender,
    no_route_reason,
    reply_routes,
    sender_for,
    senders_are_suspended,
)
from guichet.conversations.types import InboundMessage, IngestResult
from guichet.core.exceptions import Conflict, InvalidInput, NotAllowed
from guichet.core.services import rows_update, sequence_next, sequence_next_many
from guichet.customers.models import Customer, Identity
from guichet.customers.services import (
    customer_get_or_create,
    customer_get_or_create_many,
    customer_merge_rows,
    customer_update,
    identity_add,
    identity_normalise,
)

logger = logging.getLogger(__name__)

MAX_SUBJECT = 255
MAX_TAGS = 20
MAX_TAG_CHARS = 50  # Tag.name
MAX_CUSTOMER_NAME_CHARS = 200  # Customer.display_name


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


# Teams read by message_ingest, by id (None: the default team), while `ingest_lookups_cached` runs.
_INGEST_TEAMS: ContextVar[dict[int | None, Team | None] | None] = ContextVar(
    "ingest_teams", default=None
)


@contextmanager
def ingest_lookups_cached(*, keep: bool = False) -> Iterator[None]:
    """Within this block, `message_ingest` reads each team (and its calendar) once, not per message.

    For callers ingesting a batch of messages in one transaction (a mail import); a team edited
    meanwhile is seen from the next block on. `keep`: inside another such block, use its cache.
    """
    if keep and _INGEST_TEAMS.get() is not None:
        yield
        return
    token = _INGEST_TEAMS.set({})
    try:
        yield
    finally:
        _INGEST_TEAMS.reset(token)


def _ingest_team(team_id: int | None) -> Team | None:
    """The team `team_id` (None: the default team) with its calendar's hours and holidays loaded,
    so that computing its due times reads nothing more."""
    cache = _INGEST_TEAMS.get()
    if cache is not None and team_id in cache:
        return cache[team_id]
    teams = Team.objects.select_related("calendar").prefetch_related(
        "calendar__periods", "calendar__holidays"
    )
    team = teams.filter(pk=team_id).first() if team_id else teams.order_by("id").first()
    if cache is not None:
        cache[team_id] = team
    return team


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


class IngestRefused(InvalidInput):
    """`message_ingest_many` refused messages of a batch before writing anything of it.

    `errors` maps each refused message's index in the batch to the error `message_ingest` would
    have raised for it; the caller may ingest the others again without them.
    """

    def __init__(self, errors: dict[int, Exception]) -> None:
        self.errors = errors
        super().__init__(str(errors[min(errors)]))


@dataclasses.dataclass(frozen=True)
class _Item:
    inbound: InboundMessage  # cleaned (`_inbound_clean`)
    identity: str  # the sender's identity value, normalised


def _item(inbound: InboundMessage) -> _Item:
    if inbound.channel not in Channel.values:
        raise InvalidInput(
            _("Unknown channel: %(channel)s.") % {"channel": str(inbound.channel)[:20]}
        )
    inbound = _inbound_clean(inbound)
    return _Item(inbound, identity_normalise(kind=inbound.sender_kind, value=inbound.sender_value))


def message_ingest(inbound: InboundMessage) -> IngestResult:
    """Store one inbound message: find or create the customer, thread it, record events.

    Idempotent on (channel, external id): a second call with the same id returns the first result
    with `created=False` and changes nothing. The batch of one of `message_ingest_many`.
    """
    try:
        return message_ingest_many([inbound])[0]
    except IngestRefused as refused:
        raise refused.errors[0] from None


def message_ingest_many(inbounds: Sequence[InboundMessage]) -> list[IngestResult]:
    """`message_ingest` for a batch, with set-based database work; one result per message.

    Each result is the one `message_ingest` would have given, called on the messages one after
    the other: duplicates (in the database or earlier in the batch) come back `created=False`,
    a sender seen twice is created once, a message joins a conversation opened or reopened by an
    earlier one of the batch (in-reply-to, `thread_on_open`). One exception: a
    `conversation_number` hint names a conversation stored before the batch (the hint was made
    before the batch's conversations had numbers).

    Before writing anything, every message is checked (channel, sender identity); if any is
    refused, nothing is written and `IngestRefused` lists them. Then one savepoint for the batch:
    one query for the external ids stored already, one for the senders' identities (and one
    INSERT each for new customers and identities), up to three to find thread targets and one to
    lock them, one statement for the new conversation numbers, one INSERT each for
    conversations, messages and attachments, two for events (those before the messages, and
    after), one UPDATE for the conversations joined.
    The ingest hooks then run for the batch (`hooks.ingest_hooks_run_many`). A concurrent writer
    storing one of the same messages or senders first makes the batch start over (it then finds
    them).
    """
    items: list[_Item] = []
    errors: dict[int, Exception] = {}
    for index, inbound in enumerate(inbounds):
        try:
            items.append(_item(inbound))
        except Exception as exc:
            errors[index] = exc
    if errors:
        raise IngestRefused(errors)
    if not items:
        return []
    with ingest_lookups_cached(keep=True):
        for attempt in range(3):
            try:
                with transaction.atomic():
                    return _ingest_many(items)
            except IntegrityError:
                # A concurrent call stored the same external id or sender first.
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")


def _messages_stored(keys: set[tuple[str, str]]) -> dict[tuple[str, str], Message]:
    by_channel: dict[str, set[str]] = {}
    for channel, external_id in keys:
        by_channel.setdefault(channel, set()).add(external_id)
    wanted = Q(pk__in=[])
    for channel, ids in by_channel.items():
        wanted |= Q(channel=channel, external_id__in=ids)
    return {
        (message.channel, message.external_id): message
        for message in Message.objects.select_related("conversation").filter(wanted)
    }


@dataclasses.dataclass
class _Targets:
    """Thread targets stored before the batch, read once for it."""

    by_reference: dict[tuple[str, str], tuple[datetime, int, int]]  # -> created, id, conversation
    by_number: dict[int, tuple[int, int]]  # number -> conversation, customer
    latest_open: dict[tuple[int, str], tuple[datetime, int]]  # customer, channel -> last, id
    locked: dict[int, Conversation]

    @classmethod
    def load(cls, items: list[tuple[_Item, Customer]]) -> _Targets:
        references: dict[str, set[str]] = {}
        numbers: set[int] = set()
        open_for: set[int] = set()
        channels: set[str] = set()
        for item, customer in items:
            inbound = item.inbound
            if inbound.in_reply_to:
                references.setdefault(inbound.channel, set()).update(inbound.in_reply_to)
            if inbound.conversation_number is not None:
                numbers.add(inbound.conversation_number)
            if inbound.thread_on_open:
                open_for.add(customer.pk)
                channels.add(inbound.channel)
        targets = cls({}, {}, {}, {})
        if references:
            wanted = Q(pk__in=[])
            for channel, ids in references.items():
                wanted |= Q(channel=channel, external_id__in=ids)
            rows = (
                Message.objects.filter(wanted)
                .exclude(conversation__status=Status.CLOSED)
                .values_list("channel", "external_id", "created_at", "pk", "conversation_id")
            )
            for channel, external_id, created_at, pk, conversation_id in rows:
                known = targets.by_reference.get((channel, external_id))
                if known is None or (created_at, pk) > known[:2]:
                    targets.by_reference[(channel, external_id)] = (created_at, pk, conversation_id)
        if numbers:
            for number, pk, customer_id in (
                Conversation.objects.filter(number__in=numbers)
                .exclude(status=Status.CLOSED)
                .values_list("number", "pk", "customer_id")
            ):
                targets.by_number[number] = (pk, customer_id)
        if open_for:
            for customer_id, channel, last, pk in Conversation.objects.filter(
                customer_id__in=open_for, channel__in=channels, status__in=ACTIVE_STATUSES
            ).values_list("customer_id", "channel", "last_message_at", "pk"):
                known_open = targets.latest_open.get((customer_id, channel))
                if last is not None and (known_open is None or last > known_open[0]):
                    targets.latest_open[(customer_id, channel)] = (last, pk)
        return targets

    def candidates(self, item: _Item, customer: Customer) -> list[int]:
        """The stored conversations this message may continue, in the order they are tried."""
        inbound = item.inbound
        found: list[int] = []
        refs = [self.by_reference.get((inbound.channel, ref)) for ref in inbound.in_reply_to]
        latest = max((ref for ref in refs if ref is not None), default=None)
        if latest is not None:
            found.append(latest[2])
        number = inbound.conversation_number
        if number is not None and number in self.by_number:
            pk, customer_id = self.by_number[number]
            if customer_id == customer.pk:
                found.append(pk)
        if inbound.thread_on_open and (customer.pk, inbound.channel) in self.latest_open:
            found.append(self.latest_open[(customer.pk, inbound.channel)][1])
        return found

    def lock(self, ids: set[int]) -> None:
        """Lock the candidates, in id order; any closed meanwhile are no longer candidates."""
        if not ids:
            return
        for conversation in (
            Conversation.objects.select_for_update()
            .filter(pk__in=ids)
            .exclude(status=Status.CLOSED)
            .order_by("pk")
        ):
            if conversation.team_id is not None:
                conversation.team = _ingest_team(conversation.team_id)
            self.locked[conversation.pk] = conversation


def _ingest_many(items: list[_Item]) -> list[IngestResult]:
    from django.conf import settings

    now = timezone.now()
    results: list[IngestResult | None] = [None] * len(items)
    stored = _messages_stored(
        {(i.inbound.channel, i.inbound.external_id) for i in items if i.inbound.external_id}
    )
    fresh: list[int] = []
    first_of: dict[tuple[str, str], int] = {}
    repeats: list[tuple[int, int]] = []  # (index, index of the first copy in the batch)
    for index, item in enumerate(items):
        key = (item.inbound.channel, item.inbound.external_id)
        if item.inbound.external_id:
            if key in stored:
                message = stored[key]
                results[index] = IngestResult(
                    message.conversation, message, created=False, conversation_created=False
                )
                continue
            if key in first_of:
                repeats.append((index, first_of[key]))
                continue
            first_of[key] = index
        fresh.append(index)
    if not fresh:
        return [result for result in results if result is not None]
    senders = customer_get_or_create_many(
        [
            (
                items[i].inbound.sender_kind,
                items[i].identity,
                items[i].inbound.sender_name,
                items[i].inbound.language,
            )
            for i in fresh
        ]
    )
    planned = [(items[i], customer) for i, (customer, _created) in zip(fresh, senders, strict=True)]
    targets = _Targets.load(planned)
    targets.lock({pk for item, customer in planned for pk in targets.candidates(item, customer)})

    new_conversations: list[Conversation] = []
    joined: dict[int, tuple[Conversation, set[str]]] = {}
    messages: list[Message] = []
    attachments: list[Attachment] = []
    # Written before the messages (as one at a time: the timeline sorts on creation time), the
    # message's own events after them.
    opened: list[Event] = []
    events: list[Event] = []
    received: list[tuple[Event, Message]] = []
    # What the batch itself wrote, newer than anything stored: a later message may thread on it.
    by_reference: dict[tuple[str, str], tuple[int, Conversation]] = {}
    latest_open: dict[tuple[int, str], Conversation] = {}
    dues: dict[int | None, tuple[datetime | None, datetime | None]] = {}
    for index, (customer, customer_created) in zip(fresh, senders, strict=True):
        inbound = items[index].inbound
        html = sanitise_html(inbound.html)
        text = clean_text(inbound.text) or (html_to_text(html) if html else "")
        conversation = _batch_target(inbound, customer, targets, by_reference, latest_open)
        conversation_created = conversation is None
        if conversation is None:
            team = _ingest_team(inbound.team_id) if inbound.team_id else None
            team = team or _ingest_team(None)
            team_key = team.pk if team else None
            if team_key not in dues:
                dues[team_key] = (
                    sla.first_human_response_due(team, now),
                    sla.resolution_due(team, now),
                )
            conversation = Conversation(
                number=0,  # allocated below, for the whole batch at once
                subject=clean_text(inbound.subject or text[:80], MAX_SUBJECT).strip(),
                customer=customer,
                team=team,
                channel=inbound.channel,
                language=(inbound.language or customer.preferred_language)[:8],
                priority=Priority.NORMAL,
                last_message_at=now,
                first_human_response_due=dues[team_key][0],
                resolution_due=dues[team_key][1],
            )
            sla.refresh_due_at(conversation)
            new_conversations.append(conversation)
            opened.append(
                Event(
                    verb="conversation.created",
                    conversation=conversation,
                    actor_name=customer.display_name,
                    data={"channel": inbound.channel, "customer_created": customer_created},
                )
            )
        else:
            reopened = _reopen_on_inbound(conversation, now, opened)
            joined.setdefault(conversation.pk, (conversation, set()))[1].update(reopened)
        message = Message(
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
        messages.append(message)
        for upload in inbound.attachments:
            name = safe_filename(upload.filename)
            if len(upload.content) > settings.ATTACHMENT_MAX_BYTES:
                events.append(
                    Event(
                        verb="attachment.rejected",
                        conversation=conversation,
                        actor_name=_("System"),
                        data={"filename": name, "size": len(upload.content), "reason": "too_large"},
                    )
                )
                continue
            storage_key, digest = store_bytes(upload.content)
            attachments.append(
                Attachment(
                    message=message,
                    storage_key=storage_key,
                    filename=name,
                    content_type=sniff_content_type(upload.content),
                    declared_content_type=clean_text(upload.declared_content_type, 100),
                    size=len(upload.content),
                    sha256=digest,
                )
            )
        event = Event(
            verb="message.received",
            conversation=conversation,
            actor_name=message.author_name,
            data={"message_id": None, "channel": inbound.channel},
        )
        events.append(event)
        received.append((event, message))
        if inbound.external_id:
            by_reference[(inbound.channel, inbound.external_id)] = (index, conversation)
        latest_open[(conversation.customer_id, conversation.channel)] = conversation
        results[index] = IngestResult(
            conversation, message, created=True, conversation_created=conversation_created
        )

    numbers = sequence_next_many(name="conversation", n=len(new_conversations))
    for conversation, number in zip(new_conversations, numbers, strict=True):
        conversation.number = number
    Conversation.objects.bulk_create(new_conversations)
    if joined:
        changed: set[str] = {"due_at", "updated_at"}
        for conversation, joined_fields in joined.values():
            sla.refresh_due_at(conversation)
            conversation.updated_at = now
            changed |= joined_fields
        rows_update([conversation for conversation, _fields in joined.values()], sorted(changed))
    if opened:
        Event.objects.bulk_create(opened)
    Message.objects.bulk_create(messages)
    if attachments:
        Attachment.objects.bulk_create(attachments)
    for event, message in received:
        event.data["message_id"] = message.pk
    Event.objects.bulk_create(events)
    for index, first in repeats:
        done = results[first]
        assert done is not None
        results[index] = IngestResult(
            done.conversation, done.message, created=False, conversation_created=False
        )
    ingest_hooks_run_many([(items[i].inbound, results[i]) for i in fresh])  # type: ignore[misc]
    return [result for result in results if result is not None]


def _batch_target(
    inbound: InboundMessage,
    customer: Customer,
    targets: _Targets,
    by_reference: dict[tuple[str, str], tuple[int, Conversation]],
    latest_open: dict[tuple[int, str], Conversation],
) -> Conversation | None:
    """The conversation this message continues, from the hints its channel verified: the rules
    of one message at a time, where what the batch wrote already is the newest."""
    if inbound.in_reply_to:
        written = [
            by_reference[(inbound.channel, ref)]
            for ref in inbound.in_reply_to
            if (inbound.channel, ref) in by_reference
        ]
        if written:  # the latest written wins, as the newest message would
            return max(written, key=lambda found: found[0])[1]
        refs = [targets.by_reference.get((inbound.channel, ref)) for ref in inbound.in_reply_to]
        latest = max((ref for ref in refs if ref is not None), default=None)
        if latest is not None and latest[2] in targets.locked:
            return targets.locked[latest[2]]
    number = inbound.conversation_number
    if number is not None and number in targets.by_number:
        pk, customer_id = targets.by_number[number]
        if customer_id == customer.pk and pk in targets.locked:
            return targets.locked[pk]
    if inbound.thread_on_open:
        found = latest_open.get((customer.pk, inbound.channel))
        if found is not None:
            return found
        latest_stored = targets.latest_open.get((customer.pk, inbound.channel))
        if latest_stored is not None and latest_stored[1] in targets.locked:
            return targets.locked[latest_stored[1]]
    return None


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


def _reopen_on_inbound(conversation: Conversation, now: datetime, events: list[Event]) -> list[str]:
    """An inbound message on an existing conversation: the changes, in memory (the caller saves
    the fields returned); a status change appends its event to `events`."""
    fields = ["last_message_at"]
    conversation.last_message_at = now
    if conversation.status in (
        Status.WAITING_CUSTOMER,
        Status.WAITING_THIRD_PARTY,
        Status.RESOLVED,
    ):
        events.append(
            Event(
                verb="status.changed",
                conversation=conversation,
                actor_name=_("New message"),
                data={"from": conversation.status, "to": Status.OPEN, "reason": "inbound"},
            )
        )
        conversation.status = Status.OPEN
        conversation.resolved_at = None
        fields += ["status", "resolved_at", *sla.resume(conversation, now)]
    if conversation.snoozed_until is not None:
        conversation.snoozed_until = None
        fields.append("snoozed_until")
    if conversation.first_human_response_at is not None and conversation.next_response_due is None:
        conversation.next_response_due = sla.next_response_due(conversation.team, now)
        fields.append("next_response_due")
    return fields


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
def conversation_reply(
    *, actor: User, conversation: Conversation, text: str, channel: str | None = None
) -> Message:
    """Answer the customer on `channel` (by default the first of `senders.reply_routes`: the
    conversation's own channel when it has a sender). The first answer by a person meets the
    first-human-response target. A channel nothing can send on is refused: the reply is not
    stored, so it never counts as an answer the customer received."""
    text = clean_text(text).strip()
    if not text:
        raise InvalidInput(_("A reply cannot be empty."))
    conversation = _lock_visible(actor, conversation)
    if conversation.status == Status.CLOSED:  # checked on the locked row, not the caller's copy
        raise InvalidInput(_("This conversation is closed."))
    now = timezone.now()
    routes = [route.channel for route in reply_routes(conversation)]
    if not routes and senders_are_suspended():
        # Recording history (demo data, imports): the reply was given, nothing is to be sent.
        channel, sender = conversation.channel, None
    else:
        if not routes:
            raise InvalidInput(no_route_reason(conversation.channel))
        channel = channel or routes[0]
        if channel not in routes:
            raise InvalidInput(
                _("A reply to this customer cannot be sent by %(channel)s.")
                % {"channel": Channel(channel).label if channel in Channel.values else channel}
            )
        sender = sender_for(channel)
    message = Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        channel=channel,
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
        verb="message.sent",
        conversation=conversation,
        actor=actor,
        data={"message_id": message.pk, "channel": channel},
    )
    if sender is not None:
        message_hand_over(message, sender=sender)
    return message


def message_hand_over(message: Message, *, sender: Sender | None = None) -> bool:
    """Hand a queued outbound message to its channel's sender, in the caller's transaction.

    The sender writes its delivery record (outbox row) in this transaction and leaves the sending
    to after commit (`senders`' contract). It runs in a savepoint: when it raises, what it wrote
    is rolled back and the message is marked failed with a `message.delivery_failed` event; the
    message itself stays. Returns False then, or when no sender is registered for the channel.
    """
    sender = sender or sender_for(message.channel)
    if sender is None:
        return False
    # A transaction when the caller has none, so that the failure below is recorded with it.
    with transaction.atomic(savepoint=False):
        try:
            with transaction.atomic():
                sender(message)
        except Exception as exc:
            logger.exception("The %s sender failed on message %s", message.channel, message.pk)
            message_delivery_status_set(message_id=message.pk, status=Message.DeliveryStatus.FAILED)
            message.delivery_status = Message.DeliveryStatus.FAILED
            event_record(
                verb="message.delivery_failed",
                conversation=message.conversation,
                actor_name=str(Channel(message.channel).label),
                data={
                    "message_id": message.pk,
                    "channel": message.channel,
                    "reason": "sender_error",
                    "error": type(exc).__name__,
                },
            )
            return False
    return True


@transaction.atomic
def conversation_spoken_with(
    *, actor: User, conversation: Conversation, reason: str = "call"
) -> Conversation:
    """A person spoke with the customer without writing (a phone call, in either direction): the
    first-human-response target is met and nobody is left waiting for an answer. The channel
    records what was said (its message) and its own timeline event in the same transaction."""
    conversation = _lock_visible(actor, conversation)
    now = timezone.now()
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
            data={"from": Status.NEW, "to": Status.OPEN, "reason": reason},
        )
    _save(conversation, fields)
    return conversation


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
    # Due times stop while we wait on the customer and restart, shifted, when that ends.
    if status == Status.WAITING_CUSTOMER:
        fields += sla.pause(conversation, now)
    elif previous == Status.WAITING_CUSTOMER:
        fields += sla.resume(conversation, now)
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
    cleaned = sorted({name for name in (clean_text(n).strip().lower() for n in names) if name})
    too_long = [name for name in cleaned if len(name) > MAX_TAG_CHARS]
    if too_long:
        # Refused, not cut: a cut tag would silently file the conversation under another name.
        raise InvalidInput(
            _("A tag has at most %(n)d characters: “%(tag)s” is too long.")
            % {"n": MAX_TAG_CHARS, "tag": too_long[0]}
        )
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
def conversation_customer_set(
    *, actor: User, conversation: Conversation, customer: Customer
) -> Conversation:
    """Give a conversation to another customer: a letter or visit whose sender an agent found.

    Used by channels that cannot always tell who wrote (paper mail); recorded on the timeline.
    """
    conversation = _lock_visible(actor, conversation)
    if customer.merged_into_id is not None:
        raise InvalidInput(_("This customer was merged into another one."))
    if conversation.customer_id == customer.pk:
        return conversation
    previous = conversation.customer_id
    conversation.customer = customer
    _save(conversation, ["customer"])
    event_record(
        verb="customer.changed",
        conversation=conversation,
        actor=actor,
        data={"from": previous, "to": customer.pk, "reason": "linked"},
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
    customer_merge_hooks_run(source, target)  # the channels' own rows (appointments, visits)
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
    name = clean_text(display_name).strip()
    if len(name) > MAX_CUSTOMER_NAME_CHARS:
        raise InvalidInput(
            _("A name has at most %(n)d characters.") % {"n": MAX_CUSTOMER_NAME_CHARS}
        )
    changed = customer_update(
        customer=customer,
        display_name=name,
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
