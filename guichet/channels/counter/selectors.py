"""Readers of the walk-in queue: positions, waiting-time estimates, the board, the console, metrics.

Estimates come from recent service times at the site: the mean time at the desk of the last
served visitors, divided among the desks that called someone recently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import Site, User
from guichet.accounts.permissions import is_admin, is_supervisor
from guichet.channels.counter.models import QueueReason, Ticket
from guichet.channels.counter.services import call_order, site_today
from guichet.core.exceptions import InvalidInput, NotAllowed

DEFAULT_SERVICE_SECONDS = 5 * 60  # before a site has served anyone
RECENT_SERVED = 20
ACTIVE_DESK_WINDOW = timedelta(minutes=30)
BOARD_SIZE = 6
MAX_METRICS_DAYS = 92


def reasons_for_site(*, site: Site) -> QuerySet[QueueReason]:
    return QueueReason.objects.filter(site=site, active=True)


def ticket_by_token(*, token: str) -> Ticket:
    return Ticket.objects.select_related("site", "reason").get(token=token)


def sites_for(*, user: User) -> QuerySet[Site]:
    return Site.objects.all() if is_admin(user) else user.sites.all()


def _waiting(site: Site) -> QuerySet[Ticket]:
    return Ticket.objects.filter(
        site=site, status=Ticket.Status.WAITING, service_date=site_today(site)
    )


def mean_service_seconds(*, site: Site) -> float:
    rows = (
        Ticket.objects.filter(site=site, status=Ticket.Status.SERVED, called_at__isnull=False)
        .order_by("-finished_at")
        .values_list("called_at", "finished_at")[:RECENT_SERVED]
    )
    durations = [
        (end - start).total_seconds() for start, end in rows if start and end and end >= start
    ]
    return sum(durations) / len(durations) if durations else DEFAULT_SERVICE_SECONDS


def active_desks(*, site: Site) -> int:
    since = timezone.now() - ACTIVE_DESK_WINDOW
    desks = (
        Ticket.objects.filter(site=site, called_at__gte=since)
        .values_list("desk", flat=True)
        .distinct()
    )
    return max(1, len(set(desks)))


def wait_estimate_minutes(*, site: Site, ahead: int) -> int:
    """Minutes before a visitor with `ahead` people before them is called (rounded up)."""
    seconds = (ahead + 1) * mean_service_seconds(site=site) / active_desks(site=site)
    return max(1, math.ceil(round(seconds / 60, 1)))


def ticket_position(*, ticket: Ticket) -> int:
    """How many people will be called before this ticket (0: next)."""
    if ticket.status != Ticket.Status.WAITING:
        return 0
    ids = list(call_order(_waiting(ticket.site)).values_list("pk", flat=True))
    return ids.index(ticket.pk) if ticket.pk in ids else 0


@dataclass(frozen=True)
class BoardState:
    called: list[Ticket]
    waiting: int
    estimate_minutes: int


def board_state(*, site: Site) -> BoardState:
    called = list(
        Ticket.objects.filter(
            site=site, status=Ticket.Status.CALLED, service_date=site_today(site)
        ).order_by("-called_at", "-id")[:BOARD_SIZE]
    )
    waiting = _waiting(site).count()
    return BoardState(called, waiting, wait_estimate_minutes(site=site, ahead=max(0, waiting - 1)))


def board_json(*, site: Site) -> dict:
    """The board as JSON for its polling script: only numbers and desks, nothing personal."""
    state = board_state(site=site)
    return {
        "called": [
            {"code": t.code, "desk": t.desk, "recalls": t.recalls, "id": t.pk} for t in state.called
        ],
        "waiting": state.waiting,
        "estimate_minutes": state.estimate_minutes,
    }


@dataclass(frozen=True)
class ConsoleState:
    site: Site
    mine: list[Ticket]
    waiting: list[Ticket]


def console_state(*, user: User, site: Site) -> ConsoleState:
    mine = list(
        Ticket.objects.filter(site=site, status=Ticket.Status.CALLED, called_by=user)
        .select_related("reason", "conversation", "customer")
        .order_by("called_at")
    )
    waiting = list(call_order(_waiting(site)).select_related("reason")[:50])
    return ConsoleState(site, mine, waiting)


@dataclass(frozen=True)
class DayMetrics:
    day: date
    taken: int
    served: int
    absent: int
    mean_wait_minutes: float | None
    mean_desk_minutes: float | None
    appointment_no_shows: int = 0  # booked appointments at the site nobody came to


def _mean_minutes(values: list[float]) -> float | None:
    return round(sum(values) / len(values) / 60, 1) if values else None


def counter_metrics(*, user: User, site: Site, start: date, end: date) -> list[DayMetrics]:
    """Per day at a site: tickets taken, served, no-shows, mean wait and mean time at the desk.

    For supervisors and administrators, and only for sites they are attached to (admins: all).
    """
    if not is_supervisor(user):
        raise NotAllowed(_("Counter metrics are for supervisors."))
    if not is_admin(user) and not user.sites.filter(pk=site.pk).exists():
        raise NotAllowed(_("You do not work at this site."))
    if end < start:
        raise InvalidInput(_("The end date is before the start date."))
    if (end - start).days >= MAX_METRICS_DAYS:
        raise InvalidInput(_("Choose at most %(n)d days.") % {"n": MAX_METRICS_DAYS})
    days: dict[date, dict] = {}
    rows = Ticket.objects.filter(site=site, service_date__range=(start, end)).values_list(
        "service_date", "status", "taken_at", "called_at", "finished_at"
    )
    for day, status, taken_at, called_at, finished_at in rows:
        bucket = days.setdefault(
            day, {"taken": 0, "served": 0, "absent": 0, "wait": [], "desk": []}
        )
        bucket["taken"] += 1
        if called_at is not None:
            bucket["wait"].append((called_at - taken_at).total_seconds())
        if status == Ticket.Status.SERVED:
            bucket["served"] += 1
            if called_at is not None and finished_at is not None:
                bucket["desk"].append((finished_at - called_at).total_seconds())
        elif status == Ticket.Status.ABSENT:
            bucket["absent"] += 1
    no_shows = _appointment_no_shows(site, start, end)
    result = []
    day = start
    while day <= end:
        bucket = days.get(day, {"taken": 0, "served": 0, "absent": 0, "wait": [], "desk": []})
        result.append(
            DayMetrics(
                day=day,
                taken=bucket["taken"],
                served=bucket["served"],
                absent=bucket["absent"],
                mean_wait_minutes=_mean_minutes(bucket["wait"]),
                mean_desk_minutes=_mean_minutes(bucket["desk"]),
                appointment_no_shows=no_shows.get(day, 0),
            )
        )
        day += timedelta(days=1)
    return result


def _appointment_no_shows(site: Site, start: date, end: date) -> dict[date, int]:
    """Appointments recorded as "did not come", per local day of the site (none without the
    appointments app)."""
    try:
        from guichet.channels.appointments.models import Appointment
    except ImportError:
        return {}
    zone = ZoneInfo(site.calendar.time_zone)
    counts: dict[date, int] = {}
    starts = Appointment.objects.filter(
        site=site,
        status="no_show",
        starts_at__gte=datetime.combine(start, time(0), zone),
        starts_at__lt=datetime.combine(end + timedelta(days=1), time(0), zone),
    ).values_list("starts_at", flat=True)
    for instant in starts:
        day = timezone.localtime(instant, zone).date()
        counts[day] = counts.get(day, 0) + 1
    return counts
