"""Readers for appointments: availability search, bookable types, lists for agents and portal."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import BigIntegerField, Count, Func, Q, QuerySet
from django.utils import timezone

from guichet.accounts.models import Site, User
from guichet.accounts.permissions import is_admin
from guichet.channels.appointments.availability import (
    Inputs,
    Slot,
    WallInterval,
    days_between,
    local_instant,
    slots_compute,
)
from guichet.channels.appointments.models import (
    AgentAbsence,
    AgentSchedule,
    Appointment,
    AppointmentType,
    SiteClosure,
)
from guichet.customers.models import Customer

# The furthest ahead a search looks; also bounds the public "next free day" jump.
SEARCH_DAYS_MAX = 92
MIN_NOTICE = timedelta(minutes=30)


class EpochSeconds(Func):
    """A datetime column as UTC seconds since 1970, computed by the database.

    Thousands of bookings are read per search; integers skip building a datetime per value.
    """

    output_field = BigIntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS BIGINT)"
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django keeps aware datetimes in SQLite as UTC text, which strftime reads. The percent
        # sign is doubled twice: once for the template, once for the driver's placeholders.
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        )


def site_zone(site: Site) -> ZoneInfo:
    return ZoneInfo(site.calendar.time_zone)


def bookable_types(*, site: Site | None = None) -> list[AppointmentType]:
    """Active types, in-person first: a site always offers coming in person before remote modes."""
    types = list(AppointmentType.objects.filter(active=True).order_by("name"))
    order = {AppointmentType.Mode.IN_PERSON: 0, AppointmentType.Mode.PHONE: 1}
    return sorted(types, key=lambda t: order.get(t.mode, 2))  # type: ignore[call-overload]


def bookable_sites() -> QuerySet[Site]:
    """Sites where someone is present at least once a week or on a date."""
    return Site.objects.filter(agent_schedules__isnull=False).distinct().order_by("name")


def eligible_agent_ids(*, site: Site, appointment_type: AppointmentType) -> list[int]:
    """Active agents present at the site who belong to the type's team and have all its skills."""
    agents = User.objects.filter(is_active=True, site_schedules__site=site)
    if appointment_type.team_id is not None:
        agents = agents.filter(teams=appointment_type.team_id)
    skill_ids = [skill.pk for skill in appointment_type.skills.all()]
    if skill_ids:
        agents = agents.annotate(
            matching=Count("skills", filter=Q(skills__in=skill_ids), distinct=True)
        ).filter(matching=len(skill_ids))
    return sorted(set(agents.values_list("pk", flat=True)))


def availability_inputs(
    *,
    site: Site,
    appointment_type: AppointmentType,
    first_day: date,
    last_day: date,
    preferred_agent_id: int | None = None,
    agent_ids: list[int] | None = None,
) -> Inputs:
    """Load presence, bookings, absences and closures for one search (seven queries)."""
    zone = site_zone(site)
    if agent_ids is None:
        agent_ids = eligible_agent_ids(site=site, appointment_type=appointment_type)
    range_start = local_instant(first_day, datetime.min.time(), zone)
    range_end = local_instant(last_day + timedelta(days=1), datetime.min.time(), zone)
    weekly: dict[int, dict[int, list[WallInterval]]] = {}
    dated: dict[int, dict[date, list[WallInterval]]] = {}
    schedules = AgentSchedule.objects.filter(site=site, agent_id__in=agent_ids).filter(
        Q(weekday__isnull=False) | Q(date__range=(first_day, last_day))
    )
    for agent_id, weekday, day, starts, ends in schedules.values_list(
        "agent_id", "weekday", "date", "starts", "ends"
    ):
        if weekday is not None:
            weekly.setdefault(agent_id, {}).setdefault(weekday, []).append((starts, ends))
        elif day is not None:
            dated.setdefault(agent_id, {}).setdefault(day, []).append((starts, ends))
    busy: dict[int, list[tuple[int, int]]] = {}
    load: Counter[int] = Counter()
    booked = (
        Appointment.objects.filter(
            agent_id__in=agent_ids, starts_at__lt=range_end, ends_at__gt=range_start
        )
        .exclude(status=Appointment.Status.CANCELLED)
        .values_list("agent_id", EpochSeconds("starts_at"), EpochSeconds("ends_at"))
    )
    for agent_id, starts_at, ends_at in booked:
        busy.setdefault(agent_id, []).append((starts_at, ends_at))
        load[agent_id] += 1
    absences = AgentAbsence.objects.filter(
        agent_id__in=agent_ids, starts_at__lt=range_end, ends_at__gt=range_start
    ).values_list("agent_id", EpochSeconds("starts_at"), EpochSeconds("ends_at"))
    for agent_id, starts_at, ends_at in absences:
        busy.setdefault(agent_id, []).append((starts_at, ends_at))
    closed = set(
        SiteClosure.objects.filter(site=site, date__range=(first_day, last_day)).values_list(
            "date", flat=True
        )
    )
    closed |= set(
        site.calendar.holidays.filter(date__range=(first_day, last_day)).values_list(
            "date", flat=True
        )
    )
    opening: dict[int, list[WallInterval]] | None = None
    if appointment_type.mode == AppointmentType.Mode.IN_PERSON:
        # People come through the door only while the site is open.
        opening = {}
        for weekday, opens, closes in site.calendar.periods.values_list(
            "weekday", "opens", "closes"
        ):
            opening.setdefault(weekday, []).append((opens, closes))
    return Inputs(
        zone=zone,
        duration=timedelta(minutes=appointment_type.duration_minutes),
        weekly=weekly,
        dated=dated,
        busy=busy,
        closed_days=frozenset(closed),
        opening=opening,
        preferred_agent_id=preferred_agent_id if preferred_agent_id in agent_ids else None,
        load=load,
    )


def slots_search(
    *,
    site: Site,
    appointment_type: AppointmentType,
    first_day: date,
    last_day: date,
    customer: Customer | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """Free slots between two local days (inclusive); the named advisor's first when set."""
    last_day = min(last_day, first_day + timedelta(days=SEARCH_DAYS_MAX - 1))
    inputs = availability_inputs(
        site=site,
        appointment_type=appointment_type,
        first_day=first_day,
        last_day=last_day,
        preferred_agent_id=customer.advisor_id if customer is not None else None,
    )
    not_before = (now or timezone.now()) + MIN_NOTICE
    return slots_compute(inputs, days_between(first_day, last_day), not_before)


def next_free_day(
    *, site: Site, appointment_type: AppointmentType, after: date, now: datetime | None = None
) -> date | None:
    """The first local day after `after` with a free slot, within the search horizon."""
    slots = slots_search(
        site=site,
        appointment_type=appointment_type,
        first_day=after + timedelta(days=1),
        last_day=after + timedelta(days=SEARCH_DAYS_MAX),
        now=now,
    )
    if not slots:
        return None
    return slots[0].starts_at.astimezone(site_zone(site)).date()


def upcoming_appointments(customer: Customer, *, now: datetime | None = None) -> list[Appointment]:
    """The customer's booked appointments still to come, soonest first (for the portal)."""
    return list(
        Appointment.objects.filter(
            customer=customer,
            status=Appointment.Status.BOOKED,
            ends_at__gt=now or timezone.now(),
        )
        .select_related("type", "site__calendar", "agent")
        .order_by("starts_at")
    )


def appointments_for_agent(
    *, actor: User, day: date, site: Site | None = None
) -> QuerySet[Appointment]:
    """One local day of appointments at the actor's sites (admins: every site)."""
    appointments = Appointment.objects.select_related("type", "site", "agent", "customer")
    if not is_admin(actor):
        appointments = appointments.filter(Q(site__in=actor.sites.all()) | Q(agent=actor))
    if site is not None:
        appointments = appointments.filter(site=site)
    zone = ZoneInfo(site.calendar.time_zone if site is not None else settings.TIME_ZONE)
    start = local_instant(day, datetime.min.time(), zone)
    end = local_instant(day + timedelta(days=1), datetime.min.time(), zone)
    return appointments.filter(starts_at__gte=start, starts_at__lt=end).order_by("starts_at")


def appointment_visible(*, actor: User, pk: int) -> Appointment | None:
    appointments = Appointment.objects.select_related("type", "site", "agent", "customer")
    if not is_admin(actor):
        appointments = appointments.filter(Q(site__in=actor.sites.all()) | Q(agent=actor))
    return appointments.filter(pk=pk).first()
