"""The customer portal lists the customer's own upcoming appointments, with the manage link."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from guichet.accounts.models import Site
from guichet.channels.appointments.models import AppointmentType
from guichet.channels.appointments.services import Contact, appointment_book, appointment_cancel
from tests.channels.webform.test_portal import sign_in

from .conftest import paris

pytestmark = pytest.mark.django_db


def test_portal_shows_own_upcoming_appointments(
    staffed_site: Site, in_person: AppointmentType, monday: date
) -> None:
    mine = appointment_book(
        appointment_type=in_person,
        site=staffed_site,
        starts_at=paris(monday, 10),
        contact=Contact(name="Alice Martin", email="alice@example.org", phone="", language="en"),
    )
    appointment_book(
        appointment_type=in_person,
        site=staffed_site,
        starts_at=paris(monday, 11),
        contact=Contact(name="Bob Durand", email="bob@example.org", phone="", language="en"),
    )
    client = sign_in("alice@example.org")
    body = client.get("/portal/").content.decode()
    assert "Upcoming appointments" in body
    assert staffed_site.name in body
    assert body.count("/book/manage/") == 1  # Alice's only, never Bob's
    assert "10:00" in body or "10 a.m." in body  # the site's local time

    appointment_cancel(appointment=mine)
    assert "Upcoming appointments" not in client.get("/portal/").content.decode()


def test_a_merged_duplicate_brings_its_appointments_and_visits(
    staffed_site: Site, in_person: AppointmentType, monday: date, supervisor: Any
) -> None:
    """Booked by phone number as a "new" customer, then merged into the known one: the
    appointment and the counter visit follow, and the portal of the known customer lists it."""
    from guichet.channels.counter.models import Ticket
    from guichet.channels.counter.services import ticket_take
    from guichet.conversations.services import customer_merge
    from guichet.customers.models import Customer

    known = appointment_book(
        appointment_type=in_person,
        site=staffed_site,
        starts_at=paris(monday, 9),
        contact=Contact(name="Alice Martin", email="alice@example.org", language="en"),
    ).customer
    duplicate_booking = appointment_book(
        appointment_type=in_person,
        site=staffed_site,
        starts_at=paris(monday, 14),
        contact=Contact(name="Alice M.", phone="06 12 34 56 78", language="en"),
    )
    duplicate = duplicate_booking.customer
    assert duplicate.pk != known.pk
    visit = ticket_take(site=staffed_site, reason_id=None, appointment_id=duplicate_booking.pk)
    Ticket.objects.filter(pk=visit.pk).update(customer=duplicate)
    supervisor.sites.add(staffed_site)
    customer_merge(actor=supervisor, source=duplicate, target=known)

    duplicate_booking.refresh_from_db()
    assert duplicate_booking.customer == known
    assert Ticket.objects.get(pk=visit.pk).customer == known
    assert Customer.objects.get(pk=duplicate.pk).merged_into_id == known.pk
    body = sign_in("alice@example.org").get("/portal/").content.decode()
    assert body.count("/book/manage/") == 2  # both appointments, on the known customer
