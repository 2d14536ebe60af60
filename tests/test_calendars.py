"""Business-hours arithmetic (RELIABILITY T07): reference cases checked by hand, and properties.

Europe/Paris in 2025: clocks go forward on Sunday 30 March (02:00 CET -> 03:00 CEST) and back on
Sunday 26 October (03:00 CEST -> 02:00 CET). Office hours: Mon-Fri 09:00-12:30 and 13:30-17:30.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet.accounts.services import team_create
from guichet.conversations import sla
from guichet.conversations.services import conversation_set_team
from guichet.core.calendars import (
    ALWAYS_OPEN,
    OFFICE_HOURS,
    CalendarHasNoHours,
    CalendarSpec,
    add_business_time,
    business_time_between,
    is_open,
)
from guichet.core.models import Calendar, Holiday
from tests.conftest import make_calendar


@pytest.fixture(autouse=True)
def _messages_in_english():
    """The tests read error messages in English; the install default is French."""
    with translation.override("en"):
        yield


PARIS = ZoneInfo("Europe/Paris")
OFFICE = CalendarSpec("Europe/Paris", OFFICE_HOURS)
ALWAYS = CalendarSpec("Europe/Paris", ALWAYS_OPEN)
NEVER = CalendarSpec("Europe/Paris", {})
# Sunday hours straddling both DST changes, a night shift and overlapping periods.
ODD = CalendarSpec(
    "Europe/Paris",
    {
        0: [(time(9), time(12)), (time(11), time(14))],
        2: [(time(22), time(6))],
        6: [(time(1, 30), time(2, 30)), (time(2, 15), time(2, 45)), (time(3), time(4))],
    },
    holidays=frozenset({date(2025, 5, 1), date(2025, 12, 25)}),
)


SPECS = {
    "office": OFFICE,
    "always": ALWAYS,
    "odd": ODD,
    "office_holidays": CalendarSpec(
        "Europe/Paris", OFFICE_HOURS, frozenset({date(2025, 3, 31), date(2025, 10, 27)})
    ),
}


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- hand-checked reference cases -------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        # inside hours, same morning
        (paris(2025, 3, 3, 9, 0), 60, paris(2025, 3, 3, 10, 0)),
        # across the lunch break: 30 min before, 30 min after 13:30
        (paris(2025, 3, 3, 12, 0), 60, paris(2025, 3, 3, 14, 0)),
        # started before opening
        (paris(2025, 3, 3, 7, 0), 30, paris(2025, 3, 3, 9, 30)),
        # started during lunch
        (paris(2025, 3, 3, 12, 45), 30, paris(2025, 3, 3, 14, 0)),
        # started after closing
        (paris(2025, 3, 3, 20, 0), 30, paris(2025, 3, 4, 9, 30)),
        # started on a Saturday
        (paris(2025, 3, 8, 10, 0), 30, paris(2025, 3, 10, 9, 30)),
        # ends exactly at closing: stays on Friday
        (paris(2025, 3, 7, 17, 0), 30, paris(2025, 3, 7, 17, 30)),
        # Friday before spring forward -> Monday in summer time (07:30 UTC, not 08:30)
        (paris(2025, 3, 28, 17, 0), 60, utc(2025, 3, 31, 7, 30)),
        # Friday before fall back -> Monday in winter time (08:30 UTC, not 07:30)
        (paris(2025, 10, 24, 17, 0), 60, utc(2025, 10, 27, 8, 30)),
        # a whole week of work (5 x 7.5 h) across the spring change
        (paris(2025, 3, 27, 9, 0), 5 * 450, paris(2025, 4, 2, 17, 30)),
        # 240 minutes from Friday 16:00 across the October change
        (paris(2025, 10, 24, 16, 0), 240, paris(2025, 10, 27, 11, 30)),
    ],
)
def test_office_reference_cases(start: datetime, minutes: int, expected: datetime) -> None:
    due = add_business_time(OFFICE, start, timedelta(minutes=minutes))
    assert due == expected
    assert business_time_between(OFFICE, start, due) == timedelta(minutes=minutes)


def test_office_result_is_in_utc_and_reads_right_in_paris() -> None:
    due = add_business_time(OFFICE, paris(2025, 3, 28, 17, 0), timedelta(minutes=60))
    assert due.utcoffset() == timedelta(0)
    assert due.astimezone(PARIS).replace(tzinfo=None) == datetime(2025, 3, 31, 9, 30)


def test_start_in_another_time_zone_gives_the_same_instant() -> None:
    # An agent in Montreal asks at 11:00 their time = 17:00 in Paris (both on winter time).
    montreal = datetime(2025, 1, 10, 11, 0, tzinfo=ZoneInfo("America/Montreal"))
    assert add_business_time(OFFICE, montreal, timedelta(minutes=60)) == paris(2025, 1, 13, 9, 30)


def test_holiday_is_skipped() -> None:
    spec = CalendarSpec("Europe/Paris", OFFICE_HOURS, frozenset({date(2025, 5, 1)}))
    due = add_business_time(spec, paris(2025, 4, 30, 17, 0), timedelta(minutes=60))
    assert due == paris(2025, 5, 2, 9, 30)
    assert business_time_between(
        spec, paris(2025, 5, 1, 0, 0), paris(2025, 5, 2, 0, 0)
    ) == timedelta(0)
    assert not is_open(spec, paris(2025, 5, 1, 10, 0))


def test_always_open_follows_real_elapsed_time_across_dst() -> None:
    # The spring Sunday lasts 23 hours and the autumn one 25.
    assert business_time_between(ALWAYS, paris(2025, 3, 30), paris(2025, 3, 31)) == timedelta(
        hours=23
    )
    assert business_time_between(ALWAYS, paris(2025, 10, 26), paris(2025, 10, 27)) == timedelta(
        hours=25
    )
    start = paris(2025, 3, 29, 23, 0)
    # (Python adds to a Paris datetime in wall-clock time, so compare in UTC.)
    assert add_business_time(ALWAYS, start, timedelta(hours=4)) == start.astimezone(
        UTC
    ) + timedelta(hours=4)
    assert add_business_time(ALWAYS, start, timedelta(hours=4)) == paris(2025, 3, 30, 4, 0)


def test_sunday_hours_across_spring_forward() -> None:
    spec = CalendarSpec("Europe/Paris", {6: [(time(1, 0), time(4, 0))]})
    # 01:00 CET (00:00 UTC) to 04:00 CEST (02:00 UTC): two real hours.
    assert business_time_between(spec, paris(2025, 3, 30), paris(2025, 3, 31)) == timedelta(hours=2)
    assert add_business_time(spec, paris(2025, 3, 30), timedelta(minutes=90)) == utc(
        2025, 3, 30, 1, 30
    )
    # In October the same wall-clock hours last four real hours.
    assert business_time_between(spec, paris(2025, 10, 26), paris(2025, 10, 27)) == timedelta(
        hours=4
    )


def test_period_bounds_inside_the_spring_gap() -> None:
    # 01:30-02:30 on 30 March 2025: the clock jumps from 02:00 to 03:00, so it is open 30 minutes.
    spec = CalendarSpec("Europe/Paris", {6: [(time(1, 30), time(2, 30))]})
    assert business_time_between(spec, paris(2025, 3, 30), paris(2025, 3, 31)) == timedelta(
        minutes=30
    )
    # 02:15-02:45 never shows on the clock that day: never open.
    never_shown = CalendarSpec("Europe/Paris", {6: [(time(2, 15), time(2, 45))]})
    assert business_time_between(never_shown, paris(2025, 3, 30), paris(2025, 3, 31)) == timedelta(
        0
    )
    assert business_time_between(never_shown, paris(2025, 3, 23), paris(2025, 3, 24)) == timedelta(
        minutes=30
    )
    # Opening at 02:30 that day means opening at the change, 03:00 summer time.
    opens_in_gap = CalendarSpec("Europe/Paris", {6: [(time(2, 30), time(4, 0))]})
    assert add_business_time(opens_in_gap, paris(2025, 3, 30), timedelta(0)) == utc(
        2025, 3, 30, 1, 0
    )


def test_overlapping_periods_are_not_counted_twice() -> None:
    spec = CalendarSpec("Europe/Paris", {0: [(time(9), time(12)), (time(11), time(14))]})
    assert business_time_between(spec, paris(2025, 3, 3, 8), paris(2025, 3, 3, 15)) == timedelta(
        hours=5
    )
    assert add_business_time(spec, paris(2025, 3, 3, 9), timedelta(hours=4)) == paris(
        2025, 3, 3, 13
    )


def test_night_shift_runs_past_midnight() -> None:
    spec = CalendarSpec("Europe/Paris", {2: [(time(22), time(6))]})  # Wednesday night
    assert is_open(spec, paris(2025, 3, 6, 3, 0))  # Thursday 03:00
    assert not is_open(spec, paris(2025, 3, 6, 7, 0))
    assert add_business_time(spec, paris(2025, 3, 6, 2, 0), timedelta(hours=1)) == paris(
        2025, 3, 6, 3
    )
    assert business_time_between(spec, paris(2025, 3, 5), paris(2025, 3, 7)) == timedelta(hours=8)


def test_calendar_with_no_hours() -> None:
    with pytest.raises(CalendarHasNoHours):
        add_business_time(NEVER, paris(2025, 3, 3, 9), timedelta(minutes=1))
    assert business_time_between(NEVER, paris(2025, 3, 3), paris(2025, 4, 3)) == timedelta(0)
    assert not is_open(NEVER, paris(2025, 3, 3, 10))


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_business_time(OFFICE, datetime(2025, 3, 3, 9), timedelta(minutes=1))


def test_is_open_matches_the_office_hours() -> None:
    assert is_open(OFFICE, paris(2025, 3, 3, 9, 0))
    assert not is_open(OFFICE, paris(2025, 3, 3, 12, 30))  # closing instant is closed
    assert not is_open(OFFICE, paris(2025, 3, 3, 13, 0))
    assert not is_open(OFFICE, paris(2025, 3, 8, 10, 0))  # Saturday
    assert is_open(ALWAYS, paris(2025, 3, 30, 2, 30))


# --- properties -------------------------------------------------------------------------------

# Starts within 2025, denser around the two DST changes.
_ANY = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2025, 12, 20))
_NEAR_DST = st.one_of(
    st.datetimes(min_value=datetime(2025, 3, 27), max_value=datetime(2025, 4, 2)),
    st.datetimes(min_value=datetime(2025, 10, 23), max_value=datetime(2025, 10, 29)),
)
starts = st.one_of(_ANY, _NEAR_DST).map(lambda naive: naive.replace(tzinfo=UTC))
durations = st.integers(min_value=0, max_value=10 * 24 * 60 * 60).map(
    lambda seconds: timedelta(seconds=seconds)
)
spec_names = st.sampled_from(sorted(SPECS))
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(spec_names, starts, durations)
def test_between_inverts_add(name: str, start: datetime, duration: timedelta) -> None:
    spec = SPECS[name]
    due = add_business_time(spec, start, duration)
    assert due >= start
    assert business_time_between(spec, start, due) == duration


@FAST
@given(spec_names, starts, durations)
def test_result_is_open_or_the_end_of_an_interval(
    name: str, start: datetime, duration: timedelta
) -> None:
    spec = SPECS[name]
    due = add_business_time(spec, start, duration)
    if duration > timedelta(0):
        # The last moment counted was open.
        assert is_open(spec, due - timedelta(microseconds=1))
    else:
        assert is_open(spec, due)
        assert business_time_between(spec, start, due) == timedelta(0)


@FAST
@given(spec_names, starts, durations, durations)
def test_add_is_monotonic(name: str, start: datetime, a: timedelta, b: timedelta) -> None:
    spec = SPECS[name]
    low, high = sorted([a, b])
    assert add_business_time(spec, start, low) <= add_business_time(spec, start, high)


@FAST
@given(spec_names, starts, durations, durations)
def test_between_is_additive(name: str, start: datetime, a: timedelta, b: timedelta) -> None:
    spec = SPECS[name]
    middle, end = start + min(a, b), start + max(a, b)
    assert business_time_between(spec, start, middle) + business_time_between(
        spec, middle, end
    ) == business_time_between(spec, start, end)
    assert business_time_between(spec, start, end) <= end - start


@FAST
@given(starts, durations)
def test_always_open_is_wall_time_free(start: datetime, duration: timedelta) -> None:
    assert add_business_time(ALWAYS, start, duration) == start + duration


# --- due times on teams (database) ------------------------------------------------------------


@pytest.mark.django_db
def test_team_calendar_without_hours_gives_no_due_time_and_no_crash(ingest: object) -> None:
    closed = Calendar.objects.create(name="Fermé", time_zone="Europe/Paris")  # no periods
    team = team_create(name="Nulle part", slug="nulle-part", calendar=closed)
    now = paris(2025, 3, 3, 10)
    assert sla.first_human_response_due(team, now) is None
    assert sla.resolution_due(team, now) is None
    result = ingest(team_id=team.pk)  # type: ignore[operator]
    conversation = result.conversation
    assert conversation.team == team
    assert conversation.first_human_response_due is None
    assert conversation.due_at is None


@pytest.mark.django_db
def test_team_due_times_use_its_calendar_and_holidays() -> None:
    calendar = make_calendar("Semaine")
    Holiday.objects.create(calendar=calendar, date=date(2025, 5, 1), name="Fête du travail")
    team = team_create(name="Prêts", slug="prets", calendar=calendar, first_response_minutes=60)
    assert sla.first_human_response_due(team, paris(2025, 4, 30, 17, 0)) == paris(2025, 5, 2, 9, 30)
    assert sla.first_human_response_due(None, paris(2025, 4, 30, 17, 0)) is None


@pytest.mark.django_db
def test_moving_team_recomputes_due_times(ingest: object, agent: object) -> None:
    result = ingest()  # type: ignore[operator]
    conversation = result.conversation
    always = make_calendar("24/7", hours=ALWAYS_OPEN)
    night = team_create(name="Nuit", slug="nuit", calendar=always, first_response_minutes=30)
    moved = conversation_set_team(actor=agent, conversation=conversation, team=night)  # type: ignore[arg-type]
    moved.refresh_from_db()
    assert moved.first_human_response_due == moved.created_at + timedelta(minutes=30)
    assert moved.resolution_due == moved.created_at + timedelta(minutes=night.resolution_minutes)
    assert moved.due_at == moved.first_human_response_due
    assert moved.events.filter(verb="team.changed").count() == 1
