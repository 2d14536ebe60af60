"""Writers of the walk-in queue: take a number, call the next person, recall, finish, link.

Calling "next" is a race between agents: each candidate is claimed with a conditional UPDATE
(`status = waiting` in the WHERE clause), so of two agents calling at the same moment exactly one
gets a given visitor and the other moves on to the next one. On PostgreSQL the candidate is
first picked with `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent callers do not even queue on
the same row; SQLite serialises writers and the conditional UPDATE alone decides.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import Site, User
from guichet.accounts.permissions import is_admin
from guichet.channels.counter.models import QueueReason, Ticket
from guichet.conversations.content import clean_text
from guichet.conversations.models import Conversation
from guichet.conversations.selectors import conversation_get
from guichet.conversations.services import conversation_note_add, conversation_open, event_record
from guichet.core.exceptions import Conflict, InvalidInput, NotAllowed
from guichet.core.services import sequence_next
from guichet.customers.identities import normalise_email, normalise_phone
from guichet.customers.models import Customer
from guichet.customers.services import customer_find_by_identity

MAX_NAME = 120
CALL_ATTEMPTS = 20


def site_may_serve(actor: User, site: Site) -> bool:
    """Agents serve at the sites they are attached to; administrators everywhere."""
    return is_admin(actor) or actor.sites.filter(pk=site.pk).exists()


def _require_site(actor: User, site: Site) -> None:
    if not site_may_serve(actor, site):
        raise NotAllowed(_("You do not work at this site."))


def desk_names(site: Site) -> list[str] | None:
    """The active desks of a site when the appointments app defines them; None otherwise."""
    try:
        from guichet.channels.appointments.models import Desk
    except ImportError:
        return None
    try:
        return list(
            Desk.objects.filter(site=site, active=True)
            .order_by("name")
            .values_list("name", flat=True)
        )
    except Exception:  # a Desk of another shape: fall back to free labels
        return None


@transaction.atomic
def reason_create(*, site: Site, label_fr: str, label_en: str, position: int = 0) -> QueueReason:
    label_fr, label_en = clean_text(label_fr, 80).strip(), clean_text(label_en, 80).strip()
    if not label_fr or not label_en:
        raise InvalidInput(_("A reason needs a French and an English label."))
    return QueueReason.objects.create(
        site=site, label_fr=label_fr, label_en=label_en, position=position
    )


def site_today(site: Site, now: datetime | None = None) -> date:
    """The service day at the site: its own calendar's time zone (an agency overseas has its
    day), never the server's nor UTC."""
    return timezone.localdate(now or timezone.now(), ZoneInfo(site.calendar.time_zone))


def _number_next(site: Site, service_date: date) -> int:
    """Numbers restart every local day: keyed on the ticket's service date, never on the UTC
    date (which changes at 01:00 or 02:00 in Paris and would hand out a day's numbers twice)."""
    return sequence_next(name=f"counter:{site.pk}:{service_date:%Y%m%d}", start=0)


@transaction.atomic
def ticket_take(
    *,
    site: Site,
    reason_id: int | None,
    priority: bool = False,
    name: str = "",
    phone: str = "",
    language: str = "",
    appointment_id: int | None = None,
) -> Ticket:
    """A visitor takes a number at the kiosk (or is checked in for an appointment)."""
    reason = None
    if reason_id is not None:
        reason = QueueReason.objects.filter(pk=reason_id, site=site, active=True).first()
        if reason is None:
            raise InvalidInput(_("Choose one of the reasons offered at this site."))
    elif appointment_id is None:
        raise InvalidInput(_("Choose the reason for your visit."))
    name = clean_text(name, MAX_NAME).strip()
    phone = phone.strip()
    if phone:
        phone = normalise_phone(phone)
    now = timezone.now()
    today = site_today(site, now)
    ticket = Ticket.objects.create(
        site=site,
        service_date=today,
        number=_number_next(site, today),
        reason=reason,
        kind=Ticket.Kind.APPOINTMENT if appointment_id else Ticket.Kind.WALK_IN,
        appointment_id=appointment_id,
        priority=bool(priority),
        name=name,
        phone=phone,
        language=clean_text(language, 8),
        token=secrets.token_urlsafe(32),
        taken_at=now,
    )
    if phone:
        ticket.customer = customer_find_by_identity(kind="phone", value=phone)
        if ticket.customer is not None:
            ticket.save(update_fields=["customer"])
    event_record(
        verb="counter.ticket_taken",
        customer=ticket.customer,
        actor_name=name or _("Visitor"),
        data={
            "ticket": ticket.pk,
            "code": ticket.code,
            "site": site.pk,
            "priority": ticket.priority,
        },
    )
    return ticket


def ticket_check_in_appointment(*, site: Site, appointment_id: int, name: str = "") -> Ticket:
    """For the appointments app: a visitor with an appointment arrived; they are called first."""
    existing = Ticket.objects.filter(
        site=site, appointment_id=appointment_id, service_date=site_today(site)
    ).first()
    if existing is not None:
        return existing
    return ticket_take(site=site, reason_id=None, name=name, appointment_id=appointment_id)


def appointments_enabled() -> bool:
    try:
        from guichet.channels.appointments.models import Appointment  # noqa: F401
    except ImportError:
        return False
    return True


def _appointment_today(site: Site, contact: str):  # -> Appointment | None (optional app)
    """Today's booked appointment at `site` made with this email address or phone number."""
    try:
        from guichet.channels.appointments.models import Appointment
    except ImportError:  # the queue works without the appointments app
        return None
    contact = contact.strip()
    if not contact:
        raise InvalidInput(_("Give the email address or phone number you booked with."))
    try:
        value = normalise_email(contact) if "@" in contact else normalise_phone(contact)
    except InvalidInput:
        raise InvalidInput(_("Give the email address or phone number you booked with.")) from None
    zone = ZoneInfo(site.calendar.time_zone)
    today = site_today(site)
    start = datetime.combine(today, time(0), zone)
    found = Appointment.objects.filter(
        site=site,
        status="booked",
        starts_at__gte=start,
        starts_at__lt=start + timedelta(days=1),
    )
    found = found.filter(email=value) if "@" in value else found.filter(phone=value)
    return found.order_by("starts_at").first()


def ticket_check_in(*, site: Site, contact: str, language: str = "") -> Ticket:
    """A visitor with an appointment today checks in at the kiosk: they are called first."""
    appointment = _appointment_today(site, contact)
    if appointment is None:
        raise InvalidInput(
            _("No appointment today at this site with these details: take a number instead.")
        )
    ticket = ticket_check_in_appointment(
        site=site, appointment_id=appointment.pk, name=appointment.name
    )
    if ticket.conversation_id is None:
        Ticket.objects.filter(pk=ticket.pk).update(
            conversation=appointment.conversation_id,
            customer=appointment.customer_id,
            language=clean_text(language, 8),
        )
        ticket.refresh_from_db()
    return ticket


def call_order(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Appointments checked in first, then people flagged as needing priority, then arrival."""
    return queryset.order_by("kind", "-priority", "taken_at", "id")  # "appointment" < "walk_in"


def _clean_desk(site: Site, desk: str) -> str:
    desk = clean_text(desk, 60).strip()
    if not desk:
        raise InvalidInput(_("Say at which desk you are."))
    names = desk_names(site)
    if names and desk not in names:
        raise InvalidInput(_("This desk does not exist at this site."))
    return desk


def ticket_call_next(*, actor: User, site: Site, desk: str) -> Ticket | None:
    """Call the next person to `desk`; None when nobody is waiting. Never the same person twice."""
    _require_site(actor, site)
    desk = _clean_desk(site, desk)
    waiting = call_order(
        Ticket.objects.filter(
            site=site, status=Ticket.Status.WAITING, service_date=site_today(site)
        )
    )
    skip_locked = connection.features.has_select_for_update_skip_locked
    for _attempt in range(CALL_ATTEMPTS):
        with transaction.atomic():
            if skip_locked:
                candidate = (
                    waiting.select_for_update(skip_locked=True).values_list("pk", flat=True).first()
                )
            else:
                candidate = waiting.values_list("pk", flat=True).first()
            if candidate is None:
                return None
            now = timezone.now()
            won = Ticket.objects.filter(pk=candidate, status=Ticket.Status.WAITING).update(
                status=Ticket.Status.CALLED, desk=desk, called_by=actor, called_at=now
            )
            if not won:
                continue  # another agent took this one between our read and our write
            ticket = Ticket.objects.get(pk=candidate)
            event_record(
                verb="counter.ticket_called",
                customer=ticket.customer,
                conversation=ticket.conversation,
                actor=actor,
                data={"ticket": ticket.pk, "code": ticket.code, "desk": desk, "site": site.pk},
            )
            return ticket
    raise Conflict(_("Too many colleagues are calling at once; try again."))


def _own_called(actor: User, ticket: Ticket) -> Ticket:
    """The ticket's row, locked, if it is called and the actor may act on it."""
    locked = Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
    if locked is None:
        raise InvalidInput(_("This ticket no longer exists."))
    _require_site(actor, locked.site)
    if locked.status != Ticket.Status.CALLED:
        raise Conflict(
            _("Ticket %(code)s is no longer called (%(status)s).")
            % {"code": locked.code, "status": locked.get_status_display()}
        )
    return locked


@transaction.atomic
def ticket_recall(*, actor: User, ticket: Ticket) -> Ticket:
    """Call the same person again (the board shows the number again)."""
    ticket = _own_called(actor, ticket)
    ticket.recalls += 1
    ticket.called_at = ticket.called_at or timezone.now()
    ticket.save(update_fields=["recalls", "called_at"])
    event_record(
        verb="counter.ticket_recalled",
        customer=ticket.customer,
        conversation=ticket.conversation,
        actor=actor,
        data={"ticket": ticket.pk, "code": ticket.code, "recalls": ticket.recalls},
    )
    return ticket


@transaction.atomic
def ticket_finish(*, actor: User, ticket: Ticket, outcome: str) -> Ticket:
    """Mark the called person served, or absent (a no-show)."""
    if outcome not in (Ticket.Status.SERVED, Ticket.Status.ABSENT):
        raise InvalidInput(_("Unknown outcome."))
    ticket = _own_called(actor, ticket)
    ticket.status = outcome
    ticket.finished_at = timezone.now()
    ticket.save(update_fields=["status", "finished_at"])
    event_record(
        verb=f"counter.ticket_{outcome}",
        customer=ticket.customer,
        conversation=ticket.conversation,
        actor=actor,
        data={"ticket": ticket.pk, "code": ticket.code, "desk": ticket.desk},
    )
    if outcome == Ticket.Status.SERVED and ticket.appointment_id is not None:
        _appointment_attended(actor, ticket.appointment_id)
    return ticket


def _appointment_attended(actor: User, appointment_id: int) -> None:
    """Serving a checked-in visitor records that they came to their appointment: no second
    entry in the appointments app. A person served before the booked time came all the same."""
    try:
        from guichet.channels.appointments.models import Appointment
        from guichet.channels.appointments.services import appointment_attendance_set
    except ImportError:  # the queue works without the appointments app
        return
    appointment = Appointment.objects.filter(pk=appointment_id).first()
    if appointment is None:
        return
    try:
        appointment_attendance_set(
            appointment=appointment,
            actor=actor,
            attended=True,
            now=max(timezone.now(), appointment.starts_at),
        )
    except (InvalidInput, NotAllowed):  # cancelled meanwhile, or another site's: the visit stands
        return


def _visit_note(ticket: Ticket) -> str:
    reason = ticket.reason.label if ticket.reason else ""
    return _("Visit at %(site)s, ticket %(code)s, desk %(desk)s. %(reason)s") % {
        "site": ticket.site.name,
        "code": ticket.code,
        "desk": ticket.desk,
        "reason": reason,
    }


def _ticket_for_conversation(actor: User, ticket: Ticket) -> Ticket:
    locked = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("site", "reason")
        .get(pk=ticket.pk)
    )
    _require_site(actor, locked.site)
    if locked.status not in (Ticket.Status.CALLED, Ticket.Status.SERVED):
        raise InvalidInput(_("Call this person before opening their conversation."))
    return locked


@transaction.atomic
def ticket_conversation_open(
    *, actor: User, ticket: Ticket, identifier: str, name: str, text: str
) -> Conversation:
    """Open a conversation (channel "counter") for the visitor, from what they asked."""
    ticket = _ticket_for_conversation(actor, ticket)
    identifier = identifier.strip() or ticket.phone
    if not identifier:
        raise InvalidInput(_("Give the visitor's email address or phone number."))
    kind = "email" if "@" in identifier else "phone"
    team = actor.teams.order_by("id").first()
    conversation = conversation_open(
        actor=actor,
        channel="counter",
        customer_kind=kind,
        customer_value=identifier,
        customer_name=name.strip() or ticket.name,
        subject=ticket.reason.label if ticket.reason else _("Visit at the counter"),
        text=text,
        team=team,
    )
    _link(actor, ticket, conversation)
    return conversation


@transaction.atomic
def ticket_conversation_link(*, actor: User, ticket: Ticket, number: int) -> Conversation:
    """Attach the visit to an existing conversation the agent can see."""
    ticket = _ticket_for_conversation(actor, ticket)
    try:
        conversation = conversation_get(user=actor, number=number)
    except Conversation.DoesNotExist:
        raise InvalidInput(_("No conversation #%(n)d in your teams.") % {"n": number}) from None
    _link(actor, ticket, conversation)
    return conversation


def _link(actor: User, ticket: Ticket, conversation: Conversation) -> None:
    ticket.conversation = conversation
    ticket.customer = conversation.customer
    ticket.save(update_fields=["conversation", "customer"])
    conversation_note_add(actor=actor, conversation=conversation, text=_visit_note(ticket))
    event_record(
        verb="counter.visit_linked",
        conversation=conversation,
        actor=actor,
        data={"ticket": ticket.pk, "code": ticket.code, "site": ticket.site_id},
    )


def tickets_customer_move(source: Customer, target: Customer) -> None:
    """Merge hook: the counter visits of a duplicate customer belong to the one it is merged
    into. Runs inside the merge's transaction."""
    Ticket.objects.filter(customer=source).update(customer=target)
