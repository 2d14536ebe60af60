"""Hostile input at the kiosk, the ticket page and the board (RELIABILITY W05): a clear 4xx or
the normal answer, never a 5xx, and no ticket stored from a refused form."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from guichet.channels.counter.models import Ticket

pytestmark = pytest.mark.django_db

FAST = hsettings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=80),
    st.sampled_from(["\x00", "<script>alert(1)</script>", "9" * 30, "-1", "x" * 5000, "a@\x00"]),
)


@FAST
@given(
    form=st.fixed_dictionaries(
        {},
        optional={"reason": TEXT, "priority": TEXT, "name": TEXT, "phone": TEXT, "contact": TEXT},
    ),
    real_reason=st.booleans(),
)
def test_kiosk_answers_hostile_forms_clearly(site, reasons, form, real_reason):
    data = dict(form)
    if real_reason and "reason" not in data:
        data["reason"] = str(reasons[0].pk)
    before = Ticket.objects.count()
    response = Client().post(f"/kiosk/{site.pk}/", data)
    assert response.status_code in (302, 400, 404, 409), response.status_code
    if response.status_code != 302:
        assert Ticket.objects.count() == before
    else:
        assert "\x00" not in Ticket.objects.order_by("-pk").first().name


@FAST
@given(token=TEXT)
def test_ticket_page_and_board_with_hostile_paths(site, token):
    client = Client()
    path = f"/kiosk/ticket/{quote(token, safe='') or 'x'}/"  # the token as a browser sends it
    assert client.get(path).status_code == 404
    assert client.get(f"/board/{site.pk}/state.json", {"after": token}).status_code == 200
