"""Public booking pages (no account, no JavaScript) and agents' pages, through Django's client."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guichet.accounts.models import Site, User
from guichet.channels.appointments import notifications
from guichet.channels.appointments.models import Appointment, AppointmentType
from guichet.conversations.models import Event

from .conftest import PARIS, paris

pytestmark = pytest.mark.django_db


def week_of(day: date) -> str:
    return day.isoformat()


def test_public_flow_books_and_redirects_to_the_signed_page(
    client: Client,
    staffed_site: Site,
    in_person: AppointmentType,
    by_video: AppointmentType,
    monday: date,
    django_capture_on_commit_callbacks: Any,
) -> None:
    start = client.get(reverse("appointments:book_start"))
    assert start.status_code == 200
    assert staffed_site.name in start.content.decode()
    slots = client.get(
        reverse("appointments:book_slots"),
        {"site": staffed_site.pk, "type": in_person.pk, "week": week_of(monday)},
    )
    page = slots.content.decode()
    wanted = paris(monday, 14).astimezone(UTC).isoformat()
    assert f'value="{wanted}"' in page
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            reverse("appointments:book_slots"),
            {
                "site": staffed_site.pk,
                "type": in_person.pk,
                "week": week_of(monday),
                "slot": wanted,
                "name": "Claire",
                "email": "claire@example.org",
            },
        )
    appointment = Appointment.objects.get()
    assert done.status_code == 302
    assert done.url.startswith("/book/manage/")
    token = done.url.split("/")[-2]
    assert notifications.token_reference(token) == appointment.reference
    manage = client.get(done.url).content.decode()
    assert "Account opening" in manage and "Booked" in manage
    assert len(mail.outbox) == 1


def test_a_video_page_also_offers_coming_in_person(
    client: Client,
    staffed_site: Site,
    in_person: AppointmentType,
    by_video: AppointmentType,
    monday: date,
) -> None:
    page = client.get(
        reverse("appointments:book_slots"),
        {"site": staffed_site.pk, "type": by_video.pk, "week": week_of(monday)},
    ).content.decode()
    assert "rather come in person" in page
    assert f"type={in_person.pk}" in page


@pytest.mark.parametrize(
    "data",
    [
        {"slot": "not a date", "name": "A", "email": "a@example.org"},
        {"slot": "2026-01-01T09:00:00", "name": "A", "email": "a@example.org"},  # naive
        {"name": "A", "email": "a@example.org"},
        {"slot": "SLOT", "name": "", "email": "a@example.org"},
        {"slot": "SLOT", "name": "A", "email": "nope"},
        {"slot": "SLOT", "name": "A\x00", "phone": "+3361"},
    ],
)
def test_bad_input_gets_a_4xx_and_stores_nothing(
    client: Client,
    staffed_site: Site,
    in_person: AppointmentType,
    monday: date,
    data: dict,
) -> None:
    if data.get("slot") == "SLOT":
        data["slot"] = paris(monday, 9).isoformat()
    response = client.post(
        reverse("appointments:book_slots"),
        {"site": staffed_site.pk, "type": in_person.pk, **data},
    )
    assert 400 <= response.status_code < 500
    assert 'role="alert"' in response.content.decode()
    assert not Appointment.objects.exists()


def test_unknown_site_or_type_is_a_400(client: Client, in_person: AppointmentType) -> None:
    response = client.get(reverse("appointments:book_slots"), {"site": "x", "type": "999"})
    assert response.status_code == 400


def test_manage_link_moves_and_cancels(
    client: Client, staffed_site: Site, in_person: AppointmentType, monday: date
) -> None:
    from guichet.channels.appointments.services import Contact, appointment_book

    appointment = appointment_book(
        appointment_type=in_person,
        site=staffed_site,
        starts_at=paris(monday, 9),
        contact=Contact(name="Claire", email="claire@example.org"),
    )
    url = reverse("appointments:public_manage", args=[notifications.manage_token(appointment)])
    assert client.get(url).status_code == 200
    taken = client.post(url, {"action": "reschedule", "slot": "garbage"})
    assert taken.status_code == 400
    moved = client.post(url, {"action": "reschedule", "slot": paris(monday, 15).isoformat()})
    assert moved.status_code == 302
    appointment.refresh_from_db()
    assert appointment.starts_at == paris(monday, 15)
    assert client.post(url, {"action": "cancel"}).status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    assert client.post(url, {"action": "cancel"}).status_code == 400


def test_forged_or_guessed_links_are_404(
    client: Client, staffed_site: Site, in_person: AppointmentType, monday: date
) -> None:
    from guichet.channels.appointments.services import Contact, appointment_book

    appointment = appointment_book(
        appointment_type=in_person,
        site=staffed_site,
        starts_at=paris(monday, 9),
        contact=Contact(name="Claire", email="claire@example.org"),
    )
    for token in (str(appointment.pk), appointment.reference, "x" * 40):
        assert client.get(f"/book/manage/{token}/").status_code == 404


def test_agent_books_for_a_caller_from_the_conversation(
    client: Client,
    staffed_site: Site,
    in_person: AppointmentType,
    monday: date,
    agent: User,
    agent2: User,
    ingest: Any,
) -> None:
    result = ingest(sender="marc@example.org", subject="Besoin d'un rendez-vous")
    conversation = result.conversation
    customer = conversation.customer
    customer.advisor = agent2
    customer.save()
    client.force_login(agent)
    page = client.get(f"/c/{conversation.number}/").content.decode()
    assert reverse("appointments:agent_book") + f"?conversation={conversation.pk}" in page
    form = client.get(
        reverse("appointments:agent_book"),
        {
            "conversation": conversation.pk,
            "site": staffed_site.pk,
            "type": in_person.pk,
            "week": week_of(monday),
        },
    ).content.decode()
    assert "with your advisor" in form and "marc@example.org" in form
    response = client.post(
        reverse("appointments:agent_book"),
        {
            "conversation": conversation.pk,
            "site": staffed_site.pk,
            "type": in_person.pk,
            "slot": paris(monday, 9).isoformat(),
            "name": "Marc",
            "email": "marc@example.org",
        },
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.agent == agent2 and appointment.conversation == conversation
    assert appointment.booked_by == agent
    day = client.get(reverse("appointments:agent_day"), {"day": monday.isoformat()})
    assert "Marc" in day.content.decode()


def test_agent_records_no_show(
    client: Client, staffed_site: Site, in_person: AppointmentType, agent: User, monday: date
) -> None:
    from guichet.channels.appointments.services import Contact, appointment_book

    today = timezone.localdate(timezone=PARIS)
    appointment = appointment_book(
        appointment_type=in_person,
        site=staffed_site,
        starts_at=paris(monday, 9),
        contact=Contact(name="Claire", email="claire@example.org"),
    )
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=paris(today, 0, 5) - timedelta(days=1),
        ends_at=paris(today, 0, 35) - timedelta(days=1),
    )
    client.force_login(agent)
    response = client.post(
        reverse("appointments:agent_attendance", args=[appointment.pk]), {"attended": "no"}
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == "no_show"
    assert Event.objects.filter(verb="appointment.no_show", actor=agent).exists()


def test_agent_pages_need_a_login(client: Client) -> None:
    assert client.get(reverse("appointments:agent_day")).status_code == 302
    assert client.get(reverse("appointments:agent_book")).status_code == 302


def test_public_posts_are_rate_limited(
    client: Client, staffed_site: Site, in_person: AppointmentType, monday: date, settings: Any
) -> None:
    settings.PUBLIC_HOURLY_LIMIT_PER_IP = 2
    data = {"site": staffed_site.pk, "type": in_person.pk, "slot": "x", "name": "A"}
    assert client.post(reverse("appointments:book_slots"), data).status_code == 400
    assert client.post(reverse("appointments:book_slots"), data).status_code == 400
    third = client.post(reverse("appointments:book_slots"), data)
    assert third.status_code == 429 and "Too many requests" in third.content.decode()


def test_public_bookings_are_limited_per_email_and_per_phone(
    staffed_site: Site, in_person: AppointmentType, monday: date, settings: Any
) -> None:
    """W06: many connections cannot fill the calendar with one person's details."""
    settings.APPOINTMENT_HOURLY_LIMIT_PER_ADDRESS = 2
    url = reverse("appointments:book_slots")

    def book(hour: int, client: Client | None = None, **contact: str) -> Any:
        data = {"site": staffed_site.pk, "type": in_person.pk, "name": "Zoé"}
        data["slot"] = paris(monday, hour).isoformat()
        return (client or Client()).post(url, {**data, **contact})

    assert book(9, email="Zoe@example.org").status_code == 302
    assert book(10, email="zoe@example.org").status_code == 302
    refused = book(11, email="ZOE@example.org ")
    assert refused.status_code == 429 and "Please call us" in refused.content.decode()
    assert book(9, email="other@example.org").status_code == 302  # someone else
    assert book(14, phone="06 12 34 56 78").status_code == 302
    assert book(15, phone="+33 6 12 34 56 78").status_code == 302
    assert book(16, phone="0612345678").status_code == 429
    assert Appointment.objects.count() == 5
    mistakes = Client()
    for _ in range(3):  # refused forms do not count against the person
        assert book(9, mistakes, email="new@example.org", slot="x").status_code == 400
    assert book(11, email="new@example.org").status_code == 302
