"""Free slots from agents' presence, minus bookings, absences, closures and holidays.

Pure functions over plain data so they are tested without a database and run fast: instants are
handled as integer UTC seconds, each agent's busy periods are sorted once, and a slot is checked
with one binary search. Presence and opening hours are wall-clock times in the site's zone, turned
into instants day by day, so a 09:00 start stays 09:00 local on both sides of a DST change. A
wall time that does not exist (the spring-forward gap) maps to the transition instant; a repeated
autumn time takes its first occurrence.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WallInterval = tuple[time, time]
END_OF_DAY = time(0, 0)  # as a closing time: midnight at the end of the day


@dataclass(frozen=True)
class Slot:
    starts_at: datetime  # aware, UTC
    ends_at: datetime
    agent_ids: tuple[int, ...]  # free agents, the preferred one first
    with_advisor: bool = False


@dataclass
class Inputs:
    """Everything one search needs, loaded by the selector in a handful of queries."""

    zone: ZoneInfo
    duration: timedelta
    # agent id -> weekday (0 = Monday) -> wall intervals; and agent id -> date -> wall intervals
    weekly: Mapping[int, Mapping[int, Sequence[WallInterval]]]
    dated: Mapping[int, Mapping[date, Sequence[WallInterval]]] = field(default_factory=dict)
    # agent id -> (start, end) when the agent is not free (bookings, absences), any order:
    # aware datetimes or UTC epoch seconds
    busy: Mapping[int, Iterable[tuple[datetime | int, datetime | int]]] = field(
        default_factory=dict
    )
    closed_days: frozenset[date] = frozenset()
    # site opening hours by weekday; None means "no limit besides presence"
    opening: Mapping[int, Sequence[WallInterval]] | None = None
    preferred_agent_id: int | None = None
    # agent id -> rank used to spread bookings (lower first), e.g. current load
    load: Mapping[int, int] = field(default_factory=dict)


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first UTC instant at which the zone's clock reads `wall` on `day` (gap: transition)."""
    naive = datetime.combine(day, wall)
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # In a spring-forward gap: the clock jumps over `wall`; the jump itself is the first instant
    # at or after it. Zones only jump on whole minutes; step back minute by minute (at most 2 h).
    candidate = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while candidate.astimezone(zone).replace(tzinfo=None) < naive:
        candidate += timedelta(minutes=1)
    return candidate


def _wall_end(day: date, wall: time, zone: ZoneInfo) -> datetime:
    if wall == END_OF_DAY:
        return local_instant(day + timedelta(days=1), END_OF_DAY, zone)
    return local_instant(day, wall, zone)


def _as_minutes(start: time, end: time) -> tuple[int, int]:
    end_minutes = 24 * 60 if end == END_OF_DAY else end.hour * 60 + end.minute
    return start.hour * 60 + start.minute, end_minutes


def _from_minutes(value: int) -> time:
    return END_OF_DAY if value >= 24 * 60 else time(value // 60, value % 60)


def clip(intervals: Sequence[WallInterval], limits: Sequence[WallInterval]) -> list[WallInterval]:
    """The parts of `intervals` inside `limits` (same day, wall clock)."""
    result: list[WallInterval] = []
    for start, end in intervals:
        a0, a1 = _as_minutes(start, end)
        for limit_start, limit_end in limits:
            b0, b1 = _as_minutes(limit_start, limit_end)
            if b1 <= b0:  # a period running past midnight: keep its part in this day
                b1 = 24 * 60
            low, high = max(a0, b0), min(a1, b1)
            if high > low:
                result.append((_from_minutes(low), _from_minutes(high)))
    return sorted(result)


def _seconds(value: datetime | int) -> int:
    return int(value.timestamp()) if isinstance(value, datetime) else int(value)


def _busy_index(
    periods: Iterable[tuple[datetime | int, datetime | int]],
) -> tuple[list[int], list[int]]:
    """Sorted starts and the running maximum of ends, for an overlap test by bisection."""
    pairs = sorted((_seconds(s), _seconds(e)) for s, e in periods)
    starts = [s for s, _e in pairs]
    max_ends: list[int] = []
    running = -1
    for _s, e in pairs:
        running = max(running, e)
        max_ends.append(running)
    return starts, max_ends


def slots_compute(inputs: Inputs, days: Sequence[date], not_before: datetime) -> list[Slot]:
    """Every slot of `inputs.duration` at which at least one agent is free, in time order.

    Slots follow each presence interval from its start, one duration apart, and must fit in it.
    """
    zone = inputs.zone
    step = int(inputs.duration.total_seconds())
    if step <= 0:
        return []
    earliest = int(not_before.timestamp())
    busy = {agent: _busy_index(periods) for agent, periods in inputs.busy.items()}
    empty: tuple[list[int], list[int]] = ([], [])
    free: dict[int, list[int]] = {}
    preferred = inputs.preferred_agent_id
    load = inputs.load

    def rank(agent: int) -> tuple[int, int, int]:
        return (0 if agent == preferred else 1, load.get(agent, 0), agent)

    # Visiting agents in preference order leaves each slot's list already in that order.
    agents = sorted(set(inputs.weekly) | set(inputs.dated), key=rank)
    # Agents share the same few wall times: convert and clip each combination once.
    instants: dict[tuple[date, time, bool], int] = {}
    clipped: dict[tuple[tuple[WallInterval, ...], int], list[WallInterval]] = {}

    def instant(day: date, wall: time, is_end: bool) -> int:
        key = (day, wall, is_end)
        found = instants.get(key)
        if found is None:
            moment = _wall_end(day, wall, zone) if is_end else local_instant(day, wall, zone)
            found = instants[key] = int(moment.timestamp())
        return found

    for day in days:
        if day in inputs.closed_days:
            continue
        weekday = day.weekday()
        limits = inputs.opening.get(weekday, ()) if inputs.opening is not None else None
        if limits is not None and not limits:
            continue
        for agent in agents:
            walls = list(inputs.weekly.get(agent, {}).get(weekday, ()))
            walls += inputs.dated.get(agent, {}).get(day, ())
            if not walls:
                continue
            if limits is not None:
                key = (tuple(walls), weekday)
                if key not in clipped:
                    clipped[key] = clip(walls, limits)
                walls = clipped[key]
            starts, max_ends = busy.get(agent, empty)
            for wall_start, wall_end in walls:
                begin = instant(day, wall_start, False)
                last = instant(day, wall_end, True) - step  # the last start that fits
                if begin < earliest:  # skip the past, staying on the interval's grid
                    begin += -((begin - earliest) // step) * step
                if last < begin:
                    continue
                # Busy periods that can touch this interval (those starting before its end).
                stop = bisect_left(starts, last + step)
                if stop == 0 or max_ends[stop - 1] <= begin:
                    for cursor in range(begin, last + 1, step):  # nothing booked: all free
                        listed = free.get(cursor)
                        if listed is None:
                            free[cursor] = [agent]
                        elif listed[-1] != agent:  # overlapping presences list it once
                            listed.append(agent)
                    continue
                for cursor in range(begin, last + 1, step):
                    # Busy periods starting before the slot ends; one still running overlaps.
                    index = bisect_left(starts, cursor + step, 0, stop)
                    if index and max_ends[index - 1] > cursor:
                        continue
                    listed = free.get(cursor)
                    if listed is None:
                        free[cursor] = [agent]
                    elif listed[-1] != agent:
                        listed.append(agent)
    slots = []
    for start in sorted(free):
        free_agents = tuple(free[start])
        starts_at = datetime.fromtimestamp(start, UTC)
        slots.append(
            Slot(
                starts_at=starts_at,
                ends_at=starts_at + inputs.duration,
                agent_ids=free_agents,
                with_advisor=preferred is not None and free_agents[0] == preferred,
            )
        )
    return slots


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
