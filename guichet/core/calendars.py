"""Business-hours arithmetic: "when is N working minutes after this instant?".

Pure functions over a `CalendarSpec` so they can be tested without a database. Instants are aware
datetimes (stored in UTC); opening hours are wall-clock times in the calendar's zone, so a due time
stays right across daylight-saving changes (RELIABILITY T07).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Never look further than this for open hours: a calendar with none would otherwise loop forever.
MAX_DAYS_AHEAD = 3 * 366


class CalendarHasNoHours(ValueError):
    """The calendar is never open, so no business-time due date exists."""


@dataclass(frozen=True)
class CalendarSpec:
    time_zone: str
    # weekday (0 = Monday) -> list of (opens, closes) wall-clock intervals
    hours: Mapping[int, Sequence[tuple[time, time]]]
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def _local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first UTC instant at which the zone's wall clock reads `wall` on `day`.

    In the spring-forward gap (02:00-03:00 in Paris on the last Sunday of March) the wall time
    never happens; Python would map it one hour late, so the first instant at or after it, the
    transition itself, is used. A repeated autumn time takes its first occurrence (fold=0).
    """
    naive = datetime.combine(day, wall)
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # In the gap: fold=1 maps before the transition and fold=0 after it; bisect to the second.
    low = int(naive.replace(tzinfo=zone, fold=1).timestamp())
    high = int(instant.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _open_intervals(spec: CalendarSpec, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Yield the calendar's open intervals (in UTC), in order and disjoint, around `start` onwards.

    A period whose closing time is not after its opening time runs past midnight ("00:00" means
    until midnight, "22:00-06:00" a night shift), so the scan starts the day before `start`.
    Overlapping periods are merged so that no instant is counted twice.
    """
    zone = spec.zone
    day = start.astimezone(zone).date() - timedelta(days=1)
    last_end: datetime | None = None
    for offset in range(MAX_DAYS_AHEAD + 1):
        current = day + timedelta(days=offset)
        if current in spec.holidays:
            continue
        for opens, closes in sorted(spec.hours.get(current.weekday(), ())):
            begin = _local_instant(current, opens, zone)
            closes_day = current + timedelta(days=1) if closes <= opens else current
            end = _local_instant(closes_day, closes, zone)
            if last_end is not None:
                begin = max(begin, last_end)
            if end > begin:
                last_end = end
                yield begin, end


def add_business_time(spec: CalendarSpec, start: datetime, duration: timedelta) -> datetime:
    """Return the instant at which `duration` of open time has elapsed after `start`."""
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    remaining = duration
    cursor = start.astimezone(UTC)
    for begin, end in _open_intervals(spec, cursor):
        if end <= cursor:
            continue
        begin = max(begin, cursor)
        available = end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
        cursor = end
    raise CalendarHasNoHours(f"no open hours within {MAX_DAYS_AHEAD} days")


def business_time_between(spec: CalendarSpec, start: datetime, end: datetime) -> timedelta:
    """Open time elapsed between two instants (zero if end is before start)."""
    total = timedelta(0)
    if end <= start:
        return total
    for begin, close in _open_intervals(spec, start.astimezone(UTC)):
        if begin >= end:
            break
        overlap = min(close, end) - max(begin, start)
        if overlap > timedelta(0):
            total += overlap
    return total


def is_open(spec: CalendarSpec, instant: datetime) -> bool:
    for begin, end in _open_intervals(spec, instant - timedelta(days=1)):
        if begin > instant:
            return False
        if begin <= instant < end:
            return True
    return False


OFFICE_HOURS: dict[int, list[tuple[time, time]]] = {
    weekday: [(time(9, 0), time(12, 30)), (time(13, 30), time(17, 30))] for weekday in range(5)
}
ALWAYS_OPEN: dict[int, list[tuple[time, time]]] = {
    weekday: [(time(0, 0), time(0, 0))] for weekday in range(7)
}
