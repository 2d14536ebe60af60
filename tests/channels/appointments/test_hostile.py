"""Hostile input at the public booking pages and the agents' day page (RELIABILITY W04, W05).

Each property: a clear 4xx (or the normal answer), never a 5xx, and nothing stored half-way
(every appointment has its customer and its conversation, every conversation its first message).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from guichet.accounts.models import Site, User
from guichet.channels.appointments.models import Appointment, AppointmentType
from guichet.conversations.models import Conversation

pytestmark = pytest.mark.django_db

FAST = hsettings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Dates and date-times at the edges of what Python can represent, in every offset.
EDGE_DAYS = st.sampled_from(["0001-01-01", "9999-12-31", "1999-12-31", "3000-01-01", "2026-02-30"])
EDGE_TIMES = st.sampled_from(
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59",
        "2026-13-01T09:00:00+01:00",
        "2026-06-01T09:00:00+01:00",
    ]
)
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=60),
    st.sampled_from(["\x00", "<script>alert(1)</script>", "' OR 1=1; --", "9" * 30, "-1"]),
)


def assert_consistent() -> None:
    assert not Appointment.objects.filter(conversation__isnull=True).exists()
    assert not Conversation.objects.filter(messages__isnull=True).exists()


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    settings.PUBLIC_HOURLY_LIMIT_PER_IP = 10**6


@FAST
@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            "site": TEXT,
            "type": TEXT,
            "week": st.one_of(TEXT, EDGE_DAYS),
            "slot": st.one_of(TEXT, EDGE_TIMES),
            "name": TEXT,
            "email": st.one_of(TEXT, st.emails()),
            "phone": TEXT,
        },
    ),
    real_ids=st.booleans(),
    method=st.sampled_from(["get", "post"]),
)
@example(params={"week": "9999-12-31"}, real_ids=True, method="get")
@example(params={"slot": "9999-12-31T23:59:59-14:00", "name": "A"}, real_ids=True, method="post")
@example(params={"slot": "0001-01-01T00:00:00+14:00", "name": "A"}, real_ids=True, method="post")
def test_booking_page(
    staffed_site: Site, in_person: AppointmentType, params: dict, real_ids: bool, method: str
) -> None:
    data = dict(params)
    if real_ids:
        data.update(site=str(staffed_site.pk), type=str(in_person.pk))
    response = getattr(Client(), method)("/book/times/", data)
    assert response.status_code in (200, 302, 400, 409, 429), response.status_code
    assert_consistent()


@FAST
@given(day=st.one_of(TEXT, EDGE_DAYS), site=TEXT)
@example(day="9999-12-31", site="")
@example(day="0001-01-01", site="")
def test_agent_day_page(login: Any, agent: User, staffed_site: Site, day: str, site: str) -> None:
    response = login(agent).get("/appointments/", {"day": day, "site": site})
    assert response.status_code == 200


@FAST
@given(token=TEXT, week=st.one_of(TEXT, EDGE_DAYS), action=TEXT, slot=st.one_of(TEXT, EDGE_TIMES))
def test_manage_page_with_hostile_tokens(token: str, week: str, action: str, slot: str) -> None:
    client = Client()
    path = f"/book/manage/{quote(token, safe='') or 'x'}/"  # the token as a browser sends it
    assert client.get(path, {"week": week}).status_code in (400, 404)
    assert client.post(path, {"action": action, "slot": slot}).status_code in (400, 403, 404)


def test_manage_page_with_a_real_link_and_edge_times(
    staffed_site: Site, in_person: AppointmentType, monday: date
) -> None:
    from guichet.channels.appointments import notifications
    from guichet.channels.appointments.services import Contact, appointment_book

    from .conftest import paris

    appointment = appointment_book(
        appointment_type=in_person,
        site=staffed_site,
        starts_at=paris(monday, 9),
        contact=Contact(name="Claire", email="claire@example.org"),
    )
    path = f"/book/manage/{notifications.manage_token(appointment)}/"
    client = Client()
    for week in ("9999-12-31", "0001-01-01"):
        assert client.get(path, {"week": week}).status_code == 200
    for slot in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "\x00"):
        response = client.post(path, {"action": "reschedule", "slot": slot})
        assert response.status_code == 400, slot
    appointment.refresh_from_db()
    assert appointment.starts_at == paris(monday, 9)
