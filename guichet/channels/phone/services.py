"""Writers of the phone channel: calls agents log, callback requests and their queue.

A logged call is a message on channel "phone" (its notes are the text) plus a `CallLog` row and a
"call.logged" event. A callback request always belongs to a conversation: one reached through a
signed reference (the chat or the web form hands it over), else the caller's latest active phone
conversation, else a new one made by `message_ingest(channel="phone")`. Agents take requests in
request order; of two agents taking at once each gets a different request (a conditional UPDATE
after `select_for_update(skip_locked=True)` where the database has it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.accounts.permissions import (
    conversation_visibility_q,
    customer_visibility_q,
    is_admin,
    is_supervisor,
)
from guichet.channels.phone.models import CallbackAttempt, CallbackRequest, CallLog, Direction
from guichet.channels.promise import format_due, team_zone
from guichet.conversations.content import clean_text
from guichet.conversations.models import Conversation, Message, Status
from guichet.conversations.services import (
    conversation_open,
    conversation_spoken_with,
    event_record,
    message_ingest,
)
from guichet.conversations.types import InboundMessage
from guichet.core.calendars import CalendarHasNoHours, add_business_time
from guichet.core.exceptions import InvalidInput, NotAllowed
from guichet.customers.identities import normalise_phone
from guichet.customers.models import Customer, Identity

logger = logging.getLogger(__name__)

MAX_CALL_SECONDS = 24 * 3600
MAX_NOTE = 5000
MAX_WINDOW_DAYS = 30
RETRY_AFTER = timedelta(minutes=30)  # an unanswered callback waits this long before its retry
CONVERSATION_REF_SALT = "guichet.phone.callback.conversation"
CONVERSATION_REF_MAX_AGE = 7 * 24 * 3600
STATUS_REF_SALT = "guichet.phone.callback.status"
STATUS_REF_MAX_AGE = 30 * 24 * 3600
OPEN = (CallbackRequest.Status.WAITING, CallbackRequest.Status.IN_PROGRESS)


class TooManyRequests(InvalidInput):
    """Too many callback requests for one number in the last hour (views answer 429)."""


# --- calls ---------------------------------------------------------------------------------------


@transaction.atomic
def call_log_record(
    *,
    actor: User,
    direction: str,
    duration_seconds: int,
    notes: str,
    conversation: Conversation | None = None,
    customer: Customer | None = None,
    number: str = "",
) -> CallLog:
    """Log a call on a conversation, or on a customer (a new phone conversation is opened)."""
    if direction not in Direction.values:
        raise InvalidInput(_("Choose whether the call was inbound or outbound."))
    if not 0 <= duration_seconds <= MAX_CALL_SECONDS:
        raise InvalidInput(_("The duration must be between 0 seconds and 24 hours."))
    notes = clean_text(notes, MAX_NOTE).strip()
    number = normalise_phone(number) if number.strip() else ""
    if conversation is not None:
        locked = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(conversation_visibility_q(actor), pk=conversation.pk)
            .first()
        )
        if locked is None:
            raise NotAllowed(_("You cannot act on this conversation."))
        conversation = locked
        message = _call_message(actor, conversation, direction, notes)
    elif customer is not None:
        if not Customer.objects.filter(customer_visibility_q(actor), pk=customer.pk).exists():
            raise NotAllowed(_("You cannot see this customer."))
        kind, value = _identity_for(customer, number)
        team = None if is_admin(actor) else actor.teams.order_by("id").first()
        conversation = conversation_open(
            actor=actor,
            channel="phone",
            customer_kind=kind,
            customer_value=value,
            customer_name="",
            subject=_("Phone call"),
            text=notes or _("Phone call"),
            team=team,
        )
        message = conversation.messages.get()
        if direction == Direction.OUTBOUND:
            Message.objects.filter(pk=message.pk).update(
                direction=Message.Direction.OUTBOUND,
                author_kind=Message.AuthorKind.AGENT,
                author_name=actor.display_name,
            )
    else:
        raise InvalidInput(_("A call is logged on a conversation or a customer."))
    call = CallLog.objects.create(
        conversation=conversation,
        message=message,
        agent=actor,
        direction=direction,
        number=number,
        duration_seconds=duration_seconds,
    )
    if direction == Direction.INBOUND or duration_seconds > 0:  # not an unanswered call out
        conversation = conversation_spoken_with(actor=actor, conversation=conversation)
    event_record(
        verb="call.logged",
        conversation=conversation,
        actor=actor,
        data={
            "direction": direction,
            "duration_seconds": duration_seconds,
            "message_id": message.pk,
            "number": number,
        },
    )
    return call


def _call_message(actor: User, conversation: Conversation, direction: str, notes: str) -> Message:
    inbound = direction == Direction.INBOUND
    return Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.INBOUND if inbound else Message.Direction.OUTBOUND,
        channel="phone",
        author_kind=Message.AuthorKind.CUSTOMER if inbound else Message.AuthorKind.AGENT,
        author_agent=actor,
        author_name=(conversation.customer.display_name if inbound else actor.display_name)[:200]
        or _("Customer"),
        text=notes or _("Phone call"),
    )


def _identity_for(customer: Customer, number: str) -> tuple[str, str]:
    """An identity that leads `conversation_open` to this customer."""
    identities = Identity.objects.filter(customer=customer).order_by("created_at", "pk")
    if number and identities.filter(kind="phone", value=number).exists():
        return "phone", number
    first = identities.filter(kind="phone").first() or identities.first()
    if first is None:
        raise InvalidInput(_("Add a phone number or an email address to this customer first."))
    return first.kind, first.value


# --- callback requests ---------------------------------------------------------------------------


def conversation_ref(conversation: Conversation) -> str:
    """A signed reference to a conversation for the callback page (`?conversation=<ref>`)."""
    return signing.dumps(conversation.number, salt=CONVERSATION_REF_SALT)


def conversation_from_ref(ref: str) -> Conversation | None:
    """The conversation a valid, unexpired reference names (None otherwise, or when closed)."""
    try:
        number = signing.loads(ref, salt=CONVERSATION_REF_SALT, max_age=CONVERSATION_REF_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(number, int):
        return None
    return Conversation.objects.filter(number=number).exclude(status=Status.CLOSED).first()


def status_ref(request: CallbackRequest) -> str:
    return signing.dumps(request.pk, salt=STATUS_REF_SALT)


def request_from_status_ref(ref: str) -> CallbackRequest | None:
    try:
        pk = signing.loads(ref, salt=STATUS_REF_SALT, max_age=STATUS_REF_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(pk, int):
        return None
    return (
        CallbackRequest.objects.select_related("conversation__team__calendar").filter(pk=pk).first()
    )


def _window_check(preferred_from: datetime | None, preferred_until: datetime | None) -> None:
    now = timezone.now()
    if preferred_until is not None and preferred_until <= now:
        raise InvalidInput(_("The end of the time window has already passed."))
    if preferred_from and preferred_until and preferred_until <= preferred_from:
        raise InvalidInput(_("The time window must end after it starts."))
    if preferred_from and preferred_from > now + timedelta(days=MAX_WINDOW_DAYS):
        raise InvalidInput(
            _("Choose a time within the next %(days)d days.") % {"days": MAX_WINDOW_DAYS}
        )


def callback_request_create(
    *,
    conversation: Conversation,
    number: str,
    source: str,
    name: str = "",
    language: str = "",
    preferred_from: datetime | None = None,
    preferred_until: datetime | None = None,
    note: str = "",
    external_id: str = "",
    actor: User | None = None,
) -> CallbackRequest:
    """Add a callback request to a conversation and confirm it to the customer (SMS, email).

    A conversation has at most one open request: asking again returns the open one.
    """
    if source not in CallbackRequest.Source.values:
        raise InvalidInput(_("Unknown source."))
    number = normalise_phone(number)
    _window_check(preferred_from, preferred_until)
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("customer", "team__calendar")
            .get(pk=conversation.pk)
        )
        if (
            actor is not None
            and not Conversation.objects.filter(
                conversation_visibility_q(actor), pk=conversation.pk
            ).exists()
        ):
            raise NotAllowed(_("You cannot act on this conversation."))
        existing = (
            CallbackRequest.objects.filter(conversation=conversation, status__in=OPEN)
            .order_by("created_at")
            .first()
        )
        if existing is not None:
            return existing
        request = CallbackRequest.objects.create(
            conversation=conversation,
            number=number,
            name=clean_text(name, 200).strip(),
            source=source,
            language=_language(language or conversation.language),
            preferred_from=preferred_from,
            preferred_until=preferred_until,
            note=clean_text(note, MAX_NOTE).strip(),
            external_id=clean_text(external_id, 200),
        )
        event_record(
            verb="callback.requested",
            conversation=conversation,
            actor=actor,
            actor_name="" if actor else (request.name or conversation.customer.display_name),
            data={
                "callback_id": request.pk,
                "source": source,
                "number": number,
                "from": preferred_from.isoformat() if preferred_from else None,
                "until": preferred_until.isoformat() if preferred_until else None,
            },
        )
        _confirm(request)
    return request


def callback_request_from_contact(
    *,
    number: str,
    source: str,
    name: str = "",
    language: str = "",
    preferred_from: datetime | None = None,
    preferred_until: datetime | None = None,
    note: str = "",
    conversation_reference: str = "",
    external_id: str = "",
    team_id: int | None = None,
) -> CallbackRequest:
    """A request from a customer (public page, voice menu, SMS keyword): find or make the
    conversation it belongs to, then `callback_request_create`."""
    number = normalise_phone(number)
    _window_check(preferred_from, preferred_until)
    if external_id:
        existing = CallbackRequest.objects.filter(external_id=external_id).first()
        if existing is not None:
            return existing  # the voice menu sent the same call twice
    since = timezone.now() - timedelta(hours=1)
    if (
        CallbackRequest.objects.filter(number=number, created_at__gte=since).count()
        >= settings.CALLBACK_HOURLY_LIMIT_PER_NUMBER
    ):
        raise TooManyRequests(
            _("Several callbacks were already requested for this number. Please try again later.")
        )
    conversation = None
    if conversation_reference:
        conversation = conversation_from_ref(conversation_reference)
        if conversation is None:
            raise InvalidInput(_("This link has expired. Please fill in the form without it."))
    note = clean_text(note, MAX_NOTE).strip()
    with transaction.atomic():
        if conversation is None:
            result = message_ingest(
                InboundMessage(
                    channel="phone",
                    sender_kind="phone",
                    sender_value=number,
                    sender_name=clean_text(name, 200).strip(),
                    subject=_("Callback request"),
                    text=note or _("Please call me back."),
                    thread_on_open=True,
                    language=_language(language),
                    team_id=team_id,
                )
            )
            conversation = result.conversation
        return callback_request_create(
            conversation=conversation,
            number=number,
            source=source,
            name=name,
            language=language,
            preferred_from=preferred_from,
            preferred_until=preferred_until,
            note=note,
            external_id=external_id,
        )


def _language(value: str) -> str:
    value = (value or "").lower()
    return "en" if value.startswith("en") else "fr" if value.startswith("fr") else ""


# --- position and estimate -----------------------------------------------------------------------


@dataclass(frozen=True)
class QueuePlace:
    position: int  # 1 = next to be called
    estimate: datetime | None  # when a call can be expected, in business time


def _waiting_ahead_q(request: CallbackRequest) -> Q:
    return Q(status=CallbackRequest.Status.WAITING) & (
        Q(created_at__lt=request.created_at) | Q(created_at=request.created_at, pk__lt=request.pk)
    )


def callback_place(request: CallbackRequest, now: datetime | None = None) -> QueuePlace | None:
    """Where a waiting request stands in its team's queue; None once it is being handled."""
    if request.status != CallbackRequest.Status.WAITING:
        return None
    now = now or timezone.now()
    team = request.conversation.team
    ahead = CallbackRequest.objects.filter(_waiting_ahead_q(request))
    ahead = ahead.filter(conversation__team=team) if team else ahead
    position = ahead.count() + 1
    start = max(now, request.preferred_from) if request.preferred_from else now
    estimate = None
    if team is not None:
        minutes = settings.CALLBACK_MINUTES_PER_REQUEST * position
        try:
            estimate = add_business_time(team.calendar.spec(), start, timedelta(minutes=minutes))
        except CalendarHasNoHours:
            estimate = None
    return QueuePlace(position=position, estimate=estimate)


def estimate_text(request: CallbackRequest, place: QueuePlace, language: str) -> str:
    """ "by Monday 23 November at 2:00 pm" in the customer's language ("" when unknown)."""
    if place.estimate is None:
        return ""
    return format_due(place.estimate, team_zone(request.conversation.team), language)


def confirmation_text(request: CallbackRequest) -> str:
    language = request.language or "fr"
    place = callback_place(request)
    with translation.override(language):
        parts = [
            _("Your callback request (request %(number)s) is registered.")
            % {"number": request.conversation.number}
        ]
        if place is not None:
            parts.append(
                _("You are number %(position)d in the queue.") % {"position": place.position}
            )
            when = estimate_text(request, place, language)
            if when:
                parts.append(_("We expect to call you by %(when)s.") % {"when": when})
    return " ".join(parts)


def _confirm(request: CallbackRequest) -> None:
    """Tell the customer their place and the estimate: by SMS, and by email when known."""
    from guichet.channels.sms.services import sms_notify  # channels may import each other

    text = confirmation_text(request)
    sms_notify(conversation=request.conversation, number=request.number, text=text)
    address = (
        Identity.objects.filter(customer_id=request.conversation.customer_id, kind="email")
        .order_by("created_at", "pk")
        .values_list("value", flat=True)
        .first()
    )
    if address:
        with translation.override(request.language or "fr"):
            subject = _("Your callback request [#%(number)s]") % {
                "number": request.conversation.number
            }

        def mail() -> None:
            try:
                send_mail(subject, text + "\n", None, [address])
            except Exception:  # the request is saved; the page shows the same facts
                logger.exception("Could not send the callback confirmation %s", request.pk)

        transaction.on_commit(mail)


# --- the agents' queue ---------------------------------------------------------------------------


def _queue(actor: User) -> Q:
    return conversation_visibility_q(actor, prefix="conversation__")


def callback_take_next(*, actor: User, now: datetime | None = None) -> CallbackRequest | None:
    """Give the agent the oldest waiting request they may handle whose window has started.

    An agent already holding a request gets it back. Each request goes to exactly one agent.
    """
    now = now or timezone.now()
    mine = (
        CallbackRequest.objects.filter(status=CallbackRequest.Status.IN_PROGRESS, taken_by=actor)
        .order_by("taken_at")
        .first()
    )
    if mine is not None:
        return mine
    skip_locked = connection.features.has_select_for_update_skip_locked
    for _attempt in range(10):
        with transaction.atomic():
            candidates = (
                CallbackRequest.objects.filter(_queue(actor), status=CallbackRequest.Status.WAITING)
                .filter(Q(preferred_from__isnull=True) | Q(preferred_from__lte=now))
                .order_by("created_at", "id")
            )
            if skip_locked:
                candidates = candidates.select_for_update(skip_locked=True, of=("self",))
            candidate = candidates.first()
            if candidate is None:
                return None
            won = CallbackRequest.objects.filter(
                pk=candidate.pk, status=CallbackRequest.Status.WAITING
            ).update(status=CallbackRequest.Status.IN_PROGRESS, taken_by=actor, taken_at=now)
            if won:
                event_record(
                    verb="callback.taken",
                    conversation=candidate.conversation,
                    actor=actor,
                    data={"callback_id": candidate.pk},
                )
                candidate.refresh_from_db()
                return candidate
    return None


@transaction.atomic
def callback_attempt_record(
    *, actor: User, request: CallbackRequest, outcome: str, note: str = ""
) -> CallbackAttempt:
    """Record one call made for a request. Reached closes it; a wrong number closes it as
    unreachable; otherwise it waits `RETRY_AFTER` and goes back to the queue, until
    `CALLBACK_MAX_ATTEMPTS` unanswered calls close it as unreachable."""
    if outcome not in CallbackAttempt.Outcome.values:
        raise InvalidInput(_("Choose the outcome of the call."))
    locked = (
        CallbackRequest.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .filter(_queue(actor), pk=request.pk)
        .first()
    )
    if locked is None:
        raise NotAllowed(_("You cannot act on this callback request."))
    if locked.status != CallbackRequest.Status.IN_PROGRESS:
        raise InvalidInput(_("This callback request is not being called."))
    if locked.taken_by_id != actor.pk and not is_supervisor(actor):
        raise NotAllowed(_("Another agent is calling this customer."))
    now = timezone.now()
    attempt = CallbackAttempt.objects.create(
        request=locked, agent=actor, outcome=outcome, note=clean_text(note, MAX_NOTE).strip()
    )
    locked.attempts += 1
    Outcome = CallbackAttempt.Outcome
    if outcome == Outcome.REACHED:
        locked.status = CallbackRequest.Status.DONE
    elif outcome == Outcome.WRONG_NUMBER or locked.attempts >= settings.CALLBACK_MAX_ATTEMPTS:
        locked.status = CallbackRequest.Status.UNREACHABLE
    else:
        locked.status = CallbackRequest.Status.WAITING
        locked.taken_by = None
        locked.taken_at = None
        locked.preferred_from = now + RETRY_AFTER
    if locked.status != CallbackRequest.Status.WAITING:
        locked.closed_at = now
    locked.save(
        update_fields=["attempts", "status", "taken_by", "taken_at", "preferred_from", "closed_at"]
    )
    event_record(
        verb="callback.attempted",
        conversation=locked.conversation,
        actor=actor,
        data={
            "callback_id": locked.pk,
            "outcome": outcome,
            "attempts": locked.attempts,
            "status": locked.status,
        },
    )
    if outcome == Outcome.REACHED:  # the customer was called back: a person has answered
        conversation_spoken_with(actor=actor, conversation=locked.conversation, reason="callback")
    return attempt


@transaction.atomic
def callback_cancel(*, actor: User, request: CallbackRequest) -> CallbackRequest:
    locked = (
        CallbackRequest.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .filter(_queue(actor), pk=request.pk)
        .first()
    )
    if locked is None:
        raise NotAllowed(_("You cannot act on this callback request."))
    if locked.status not in OPEN:
        raise InvalidInput(_("This callback request is already closed."))
    locked.status = CallbackRequest.Status.CANCELLED
    locked.closed_at = timezone.now()
    locked.save(update_fields=["status", "closed_at"])
    event_record(
        verb="callback.cancelled",
        conversation=locked.conversation,
        actor=actor,
        data={"callback_id": locked.pk},
    )
    return locked
