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


def _open_intervals(spec: CalendarSpec, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Yield the calendar's open intervals (in UTC), in order, from the day containing `start`."""
    zone = spec.zone
    day = start.astimezone(zone).date()
    for offset in range(MAX_DAYS_AHEAD):
        current = day + timedelta(days=offset)
        if current in spec.holidays:
            continue
        for opens, closes in sorted(spec.hours.get(current.weekday(), ())):
            begin = datetime.combine(current, opens, tzinfo=zone).astimezone(UTC)
            if closes == time(0, 0):  # "until midnight"
                end_local = datetime.combine(current + timedelta(days=1), time(0), tzinfo=zone)
            else:
                end_local = datetime.combine(current, closes, tzinfo=zone)
            end = end_local.astimezone(UTC)
            if end > begin:
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
