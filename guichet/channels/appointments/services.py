"""Writers for appointments: book, reschedule, cancel, record attendance, send reminders.

Each change runs in one transaction with its timeline event and queues its notices after
commit. Two bookings never take the same agent at overlapping times: the booking transaction
locks the agent's row before checking for overlaps (PostgreSQL `SELECT … FOR UPDATE`; SQLite
takes its write lock at BEGIN), and a unique constraint on (agent, start) backs it up.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import Site, User
from guichet.accounts.permissions import (
    conversation_visibility_q,
    customer_visibility_q,
    is_admin,
)
from guichet.channels.appointments import notifications
from guichet.channels.appointments.availability import Slot
from guichet.channels.appointments.models import Appointment, AppointmentType
from guichet.channels.appointments.selectors import site_zone, slots_search
from guichet.conversations.content import clean_text
from guichet.conversations.models import Conversation
from guichet.conversations.services import event_record, message_ingest
from guichet.conversations.types import InboundMessage
from guichet.core.exceptions import Conflict, InvalidInput, NotAllowed
from guichet.customers.identities import normalise
from guichet.customers.models import Customer
from guichet.customers.services import identity_add

Status = Appointment.Status


@dataclass(frozen=True)
class Contact:
    name: str
    email: str = ""
    phone: str = ""
    language: str = ""


def contact_clean(contact: Contact) -> Contact:
    """Validated contact details: a name, and an email address or a phone number (or both)."""
    name = " ".join(clean_text(contact.name, 200).split())
    if not name:
        raise InvalidInput(_("Please give your name."))
    email = normalise("email", contact.email) if contact.email.strip() else ""
    phone = normalise("phone", contact.phone) if contact.phone.strip() else ""
    if not email and not phone:
        raise InvalidInput(_("Please give an email address or a phone number."))
    language = contact.language[:8] if contact.language in {"fr", "en"} else ""
    return Contact(name=name, email=email, phone=phone, language=language)


def _slot_for(
    *,
    site: Site,
    appointment_type: AppointmentType,
    starts_at: datetime,
    customer: Customer | None,
) -> Slot:
    day = starts_at.astimezone(site_zone(site)).date()
    for slot in slots_search(
        site=site,
        appointment_type=appointment_type,
        first_day=day,
        last_day=day,
        customer=customer,
    ):
        if slot.starts_at == starts_at:
            return slot
    raise Conflict(_("This time is no longer free. Please choose another one."))


def _agent_take(
    slot: Slot, *, preferred_agent_id: int | None, exclude: Appointment | None = None
) -> User:
    """Lock and return the first agent of the slot still free; Conflict when none is."""
    order = list(slot.agent_ids)
    if preferred_agent_id in order:
        order.remove(preferred_agent_id)  # type: ignore[arg-type]
        order.insert(0, preferred_agent_id)  # type: ignore[arg-type]
    for agent_id in order:
        agent = User.objects.select_for_update().filter(pk=agent_id, is_active=True).first()
        if agent is None:
            continue
        overlapping = Appointment.objects.filter(
            agent_id=agent_id, starts_at__lt=slot.ends_at, ends_at__gt=slot.starts_at
        ).exclude(status=Status.CANCELLED)
        if exclude is not None:
            overlapping = overlapping.exclude(pk=exclude.pk)
        if not overlapping.exists():
            return agent
    raise Conflict(_("This time is no longer free. Please choose another one."))


def _conversation_for(
    *, contact: Contact, appointment_type: AppointmentType, when: str, by_agent: bool
) -> Conversation:
    """A new counter conversation for the booking, through the same door as every channel."""
    kind, value = ("email", contact.email) if contact.email else ("phone", contact.phone)
    subject = _("Appointment: %(type)s") % {"type": appointment_type.label(contact.language)}
    result = message_ingest(
        InboundMessage(
            channel="counter",
            sender_kind=kind,
            sender_value=value,
            sender_name=contact.name,
            subject=subject,
            text=(
                _("Appointment booked by an agent: %(type)s, %(when)s.")
                if by_agent
                else _("Appointment booked online: %(type)s, %(when)s.")
            )
            % {"type": appointment_type.label(contact.language), "when": when},
            language=contact.language,
            team_id=appointment_type.team_id,
        )
    )
    conversation = result.conversation
    if contact.email and contact.phone:
        # A number that belongs to someone else stays on the appointment only.
        with contextlib.suppress(InvalidInput):
            identity_add(customer=conversation.customer, kind="phone", value=contact.phone)
    return conversation


def _event(verb: str, appointment: Appointment, actor: User | None, **data: object) -> None:
    event_record(
        verb=verb,
        conversation=appointment.conversation,
        customer=appointment.customer,
        actor=actor,
        actor_name="" if actor else appointment.name,
        data={
            "appointment": appointment.reference,
            "type": appointment.type.name,
            "site": appointment.site.name,
            "agent": appointment.agent.display_name,
            "starts_at": appointment.starts_at.isoformat(),
            **data,
        },
    )


def appointment_book(
    *,
    appointment_type: AppointmentType,
    site: Site,
    starts_at: datetime,
    contact: Contact,
    actor: User | None = None,
    conversation: Conversation | None = None,
    customer: Customer | None = None,
) -> Appointment:
    """Book a free slot for a customer (the public page, or an agent for a caller).

    With a conversation (an agent booking from it), the appointment joins that conversation and
    its customer; otherwise a counter conversation is opened for the contact.
    """
    if not appointment_type.active:
        raise InvalidInput(_("This kind of appointment cannot be booked."))
    contact = contact_clean(contact)
    if conversation is not None:
        if actor is None:
            raise NotAllowed(_("Only an agent can book from a conversation."))
        conversation = (
            Conversation.objects.filter(conversation_visibility_q(actor), pk=conversation.pk)
            .select_related("customer")
            .first()
        )
        if conversation is None:
            raise NotAllowed(_("You cannot act on this conversation."))
    if customer is not None and (
        actor is None
        or not Customer.objects.filter(customer_visibility_q(actor), pk=customer.pk).exists()
    ):
        raise NotAllowed(_("You cannot act on this customer."))
    if conversation is not None:
        customer = conversation.customer
    slot = _slot_for(
        site=site, appointment_type=appointment_type, starts_at=starts_at, customer=customer
    )
    try:
        with transaction.atomic():
            agent = _agent_take(slot, preferred_agent_id=customer.advisor_id if customer else None)
            if conversation is None:
                conversation = _conversation_for(
                    contact=contact,
                    appointment_type=appointment_type,
                    when=_local_text(site, slot.starts_at),
                    by_agent=actor is not None,
                )
            appointment = Appointment.objects.create(
                type=appointment_type,
                site=site,
                agent=agent,
                customer=conversation.customer,
                conversation=conversation,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                name=contact.name,
                email=contact.email,
                phone=contact.phone,
                language=contact.language or conversation.customer.preferred_language,
                booked_by=actor,
            )
            _event("appointment.booked", appointment, actor, by_agent=actor is not None)
            notifications.notices_queue(appointment, "booked")
    except IntegrityError:
        raise Conflict(_("This time is no longer free. Please choose another one.")) from None
    return appointment


def _local_text(site: Site, instant: datetime) -> str:
    return timezone.localtime(instant, site_zone(site)).strftime("%Y-%m-%d %H:%M")


def _locked(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("type", "site__calendar", "agent", "customer", "conversation")
        .get(pk=appointment.pk)
    )


def appointment_reschedule(
    *, appointment: Appointment, starts_at: datetime, actor: User | None = None
) -> Appointment:
    """Move a booked appointment to another free slot of the same type and site."""
    if starts_at == appointment.starts_at:
        return appointment
    slot = _slot_for(
        site=appointment.site,
        appointment_type=appointment.type,
        starts_at=starts_at,
        customer=appointment.customer,
    )
    try:
        with transaction.atomic():
            current = _locked(appointment)
            if current.status != Status.BOOKED:
                raise InvalidInput(_("This appointment can no longer be changed."))
            agent = _agent_take(slot, preferred_agent_id=current.agent_id, exclude=current)
            previous = current.starts_at
            current.agent = agent
            current.starts_at = slot.starts_at
            current.ends_at = slot.ends_at
            current.reminder_sent_at = None  # the new time deserves its own reminder
            current.save(update_fields=["agent", "starts_at", "ends_at", "reminder_sent_at"])
            _event("appointment.rescheduled", current, actor, previous=previous.isoformat())
            notifications.notices_queue(current, "rescheduled")
    except IntegrityError:
        raise Conflict(_("This time is no longer free. Please choose another one.")) from None
    return current


def appointment_cancel(*, appointment: Appointment, actor: User | None = None) -> Appointment:
    with transaction.atomic():
        current = _locked(appointment)
        if current.status != Status.BOOKED:
            raise InvalidInput(_("This appointment can no longer be changed."))
        current.status = Status.CANCELLED
        current.save(update_fields=["status"])
        _event("appointment.cancelled", current, actor)
        notifications.notices_queue(current, "cancelled")
    return current


def appointment_attendance_set(
    *, appointment: Appointment, actor: User, attended: bool, now: datetime | None = None
) -> Appointment:
    """An agent records that the person came, or did not; only once the appointment has begun."""
    if not is_admin(actor) and not (
        appointment.agent_id == actor.pk or actor.sites.filter(pk=appointment.site_id).exists()
    ):
        raise NotAllowed(_("You cannot act on this appointment."))
    with transaction.atomic():
        current = _locked(appointment)
        if current.status == Status.CANCELLED:
            raise InvalidInput(_("This appointment was cancelled."))
        if current.starts_at > (now or timezone.now()):
            raise InvalidInput(_("Attendance can be recorded once the appointment has begun."))
        status = Status.ATTENDED if attended else Status.NO_SHOW
        if current.status == status:
            return current
        previous = current.status
        current.status = status
        current.save(update_fields=["status"])
        _event(
            "appointment.attended" if attended else "appointment.no_show",
            current,
            actor,
            previous=previous,
        )
    return current


def appointments_remind(*, now: datetime | None = None) -> int:
    """Queue the reminder of every appointment starting soon; each is reminded at most once.

    A conditional UPDATE claims each row, so two runs at the same moment never both remind it.
    """
    now = now or timezone.now()
    horizon = now + timedelta(hours=settings.APPOINTMENT_REMINDER_HOURS)
    due = list(
        Appointment.objects.filter(
            status=Status.BOOKED,
            reminder_sent_at__isnull=True,
            starts_at__gt=now,
            starts_at__lte=horizon,
        ).values_list("pk", flat=True)
    )
    sent = 0
    for pk in due:
        with transaction.atomic():
            claimed = Appointment.objects.filter(
                pk=pk, status=Status.BOOKED, reminder_sent_at__isnull=True
            ).update(reminder_sent_at=now)
            if not claimed:
                continue
            appointment = Appointment.objects.select_related(
                "type", "site__calendar", "agent", "customer", "conversation"
            ).get(pk=pk)
            _event("appointment.reminded", appointment, None)
            notifications.notices_queue(appointment, "reminder")
            sent += 1
    return sent


def appointments_customer_move(source: Customer, target: Customer) -> None:
    """Merge hook: the appointments of a duplicate customer belong to the one it is merged into
    (their portal, their customer page). Runs inside the merge's transaction."""
    Appointment.objects.filter(customer=source).update(customer=target)
