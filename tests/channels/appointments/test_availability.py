"""The pure availability computation: DST in Paris, bookings, closures, opening hours, advisor."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from guichet.channels.appointments.availability import (
    Inputs,
    clip,
    days_between,
    local_instant,
    slots_compute,
)

PARIS = ZoneInfo("Europe/Paris")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
SPRING = date(2026, 3, 29)  # last Sunday of March 2026: 02:00 → 03:00
AUTUMN = date(2026, 10, 25)  # last Sunday of October 2026: 03:00 → 02:00


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts(inputs: Inputs, days: list[date], not_before: datetime = LONG_AGO) -> list[datetime]:
    return [slot.starts_at for slot in slots_compute(inputs, days, not_before)]


def weekly(agent: int, weekday: int, *intervals: tuple[time, time]) -> dict:
    return {agent: {weekday: list(intervals)}}


def test_same_wall_clock_on_both_sides_of_spring_change() -> None:
    inputs = Inputs(
        zone=PARIS,
        duration=timedelta(minutes=30),
        weekly={1: {0: [(time(9), time(10))], 4: [(time(9), time(10))]}},
    )
    before, after = date(2026, 3, 27), date(2026, 3, 30)  # Friday before, Monday after
    assert starts(inputs, [before, after]) == [
        utc(2026, 3, 27, 8, 0),
        utc(2026, 3, 27, 8, 30),
        utc(2026, 3, 30, 7, 0),
        utc(2026, 3, 30, 7, 30),
    ]


def test_same_wall_clock_on_both_sides_of_autumn_change() -> None:
    inputs = Inputs(
        zone=PARIS,
        duration=timedelta(minutes=60),
        weekly={1: {4: [(time(9), time(10))], 0: [(time(9), time(10))]}},
    )
    assert starts(inputs, [date(2026, 10, 23), date(2026, 10, 26)]) == [
        utc(2026, 10, 23, 7, 0),
        utc(2026, 10, 26, 8, 0),
    ]


def test_spring_night_loses_the_missing_hour() -> None:
    # 01:00-04:00 local on the change night lasts two real hours: four half-hour slots.
    inputs = Inputs(
        zone=PARIS,
        duration=timedelta(minutes=30),
        dated={1: {SPRING: [(time(1), time(4))]}},
        weekly={},
    )
    found = starts(inputs, [SPRING])
    assert found == [
        utc(2026, 3, 29, 0, 0),
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 29, 1, 30),
    ]
    assert [s.astimezone(PARIS).strftime("%H:%M") for s in found] == [
        "01:00",
        "01:30",
        "03:00",
        "03:30",
    ]


def test_autumn_night_gains_the_repeated_hour() -> None:
    inputs = Inputs(
        zone=PARIS,
        duration=timedelta(minutes=30),
        dated={1: {AUTUMN: [(time(1), time(4))]}},
        weekly={},
    )
    found = starts(inputs, [AUTUMN])
    assert len(found) == 8  # four real hours
    local = [s.astimezone(PARIS).strftime("%H:%M") for s in found]
    assert local == ["01:00", "01:30", "02:00", "02:30", "02:00", "02:30", "03:00", "03:30"]
    assert found == sorted(set(found))


def test_a_wall_time_in_the_gap_maps_to_the_transition() -> None:
    assert local_instant(SPRING, time(2, 30), PARIS) == utc(2026, 3, 29, 1, 0)
    assert local_instant(AUTUMN, time(2, 30), PARIS) == utc(2026, 10, 25, 0, 30)  # first one


def test_bookings_and_absences_remove_overlapping_slots() -> None:
    day = date(2026, 6, 1)  # a Monday, UTC+2
    inputs = Inputs(
        zone=PARIS,
        duration=timedelta(minutes=30),
        weekly={1: {0: [(time(9), time(12))]}},
        # a 45-minute booking 09:15-10:00 local overlaps the 09:00 and 09:30 slots
        busy={
            1: [
                (utc(2026, 6, 1, 7, 15), utc(2026, 6, 1, 8, 0)),
                (utc(2026, 6, 1, 9, 30), utc(2026, 6, 1, 10, 0)),
            ]
        },
    )
    local = [s.astimezone(PARIS).strftime("%H:%M") for s in starts(inputs, [day])]
    assert local == ["10:00", "10:30", "11:00"]


def test_closed_days_opening_hours_and_notice() -> None:
    monday, tuesday = date(2026, 6, 1), date(2026, 6, 2)
    inputs = Inputs(
        zone=PARIS,
        duration=timedelta(hours=1),
        weekly={1: {0: [(time(8), time(13))], 1: [(time(8), time(13))]}},
        closed_days=frozenset({tuesday}),
        opening={0: [(time(9), time(12, 30))], 1: [(time(9), time(12, 30))]},
    )
    local = [s.astimezone(PARIS).strftime("%a %H:%M") for s in starts(inputs, [monday, tuesday])]
    assert local == ["Mon 09:00", "Mon 10:00", "Mon 11:00"]
    not_before = utc(2026, 6, 1, 8, 30)  # 10:30 local
    assert [s.astimezone(PARIS).hour for s in starts(inputs, [monday], not_before)] == [11]


def test_preferred_agent_comes_first_and_is_flagged() -> None:
    day = date(2026, 6, 1)
    inputs = Inputs(
        zone=PARIS,
        duration=timedelta(minutes=30),
        weekly={1: {0: [(time(9), time(10))]}, 2: {0: [(time(9), time(9, 30))]}},
        preferred_agent_id=2,
        load={1: 0, 2: 5},
    )
    slots = slots_compute(inputs, [day], LONG_AGO)
    assert [(s.agent_ids, s.with_advisor) for s in slots] == [((2, 1), True), ((1,), False)]


def test_least_loaded_agent_first_without_preference() -> None:
    inputs = Inputs(
        zone=PARIS,
        duration=timedelta(minutes=30),
        weekly={1: {0: [(time(9), time(9, 30))]}, 2: {0: [(time(9), time(9, 30))]}},
        load={1: 3, 2: 1},
    )
    assert slots_compute(inputs, [date(2026, 6, 1)], LONG_AGO)[0].agent_ids == (2, 1)


def test_clip_handles_midnight_closing() -> None:
    assert clip([(time(20), time(0))], [(time(18), time(0))]) == [(time(20), time(0))]
    assert clip([(time(8), time(10))], [(time(9), time(9, 30)), (time(9, 45), time(11))]) == [
        (time(9), time(9, 30)),
        (time(9, 45), time(10)),
    ]


def test_days_between_is_inclusive() -> None:
    assert days_between(date(2026, 1, 30), date(2026, 2, 1)) == [
        date(2026, 1, 30),
        date(2026, 1, 31),
        date(2026, 2, 1),
    ]
