"""The walk-in queue's services, selectors and pages, on the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from guichet.accounts.services import agent_create
from guichet.channels.counter import selectors
from guichet.channels.counter.models import Ticket
from guichet.channels.counter.services import (
    ticket_call_next,
    ticket_check_in_appointment,
    ticket_conversation_link,
    ticket_conversation_open,
    ticket_finish,
    ticket_recall,
    ticket_take,
)
from guichet.conversations.models import Event
from guichet.core.exceptions import Conflict, InvalidInput, NotAllowed

pytestmark = pytest.mark.django_db


def test_numbers_follow_each_other_and_restart_per_site(site, reasons):
    first = ticket_take(site=site, reason_id=reasons[0].pk)
    second = ticket_take(site=site, reason_id=reasons[1].pk, priority=True)
    assert (first.number, second.number) == (1, 2)
    assert first.code == "A001" and second.code == "P002"
    assert Event.objects.filter(verb="counter.ticket_taken").count() == 2


def test_numbers_follow_the_local_day_across_midnight_utc(site, reasons):
    """00:40 and 01:10 in Paris are the same service day but two UTC dates: one sequence."""
    from datetime import UTC, datetime
    from unittest import mock

    def take_at(instant):
        with mock.patch("django.utils.timezone.now", return_value=instant):
            return ticket_take(site=site, reason_id=reasons[0].pk)

    before = take_at(datetime(2026, 12, 4, 23, 40, tzinfo=UTC))  # Saturday 00:40 in Paris
    after = take_at(datetime(2026, 12, 5, 0, 10, tzinfo=UTC))  # Saturday 01:10 in Paris
    assert before.service_date == after.service_date
    assert (before.number, after.number) == (1, 2)
    next_day = take_at(datetime(2026, 12, 5, 23, 5, tzinfo=UTC))  # Sunday 00:05 in Paris
    assert next_day.number == 1


def test_an_overseas_site_keeps_its_own_day(reasons, counter_agent, calendar):
    """Pointe-à-Pitre is five hours behind Paris: its evening visitors stay in its queue after
    midnight in Paris, and its numbers restart at its own midnight."""
    from datetime import UTC, date, datetime
    from unittest import mock

    from guichet.accounts.models import Site
    from guichet.channels.counter.services import reason_create
    from tests.conftest import make_calendar

    antilles = make_calendar("Antilles")
    antilles.time_zone = "America/Guadeloupe"
    antilles.save()
    site = Site.objects.create(name="Agence Pointe-à-Pitre", calendar=antilles)
    counter_agent.sites.add(site)
    reason = reason_create(site=site, label_fr="Carte", label_en="Card")

    def at(instant, action):
        with mock.patch("django.utils.timezone.now", return_value=instant):
            return action()

    evening = datetime(2026, 12, 4, 22, 30, tzinfo=UTC)  # 18:30 there, 23:30 in Paris
    first = at(evening, lambda: ticket_take(site=site, reason_id=reason.pk))
    assert first.service_date == date(2026, 12, 4) and first.number == 1
    later = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)  # 19:30 there, 00:30 in Paris
    second = at(later, lambda: ticket_take(site=site, reason_id=reason.pk))
    assert (second.service_date, second.number) == (date(2026, 12, 4), 2)
    assert at(later, lambda: selectors.board_state(site=site)).waiting == 2
    called = at(later, lambda: ticket_call_next(actor=counter_agent, site=site, desk="1"))
    assert called.pk == first.pk  # still in the queue after midnight in Paris
    next_day = datetime(2026, 12, 5, 4, 30, tzinfo=UTC)  # 00:30 there
    assert at(next_day, lambda: ticket_take(site=site, reason_id=reason.pk)).number == 1


def test_reason_of_another_site_or_bad_phone_is_refused(site, reasons, calendar):
    from guichet.accounts.models import Site

    other = Site.objects.create(name="Autre", calendar=calendar)
    with pytest.raises(InvalidInput):
        ticket_take(site=other, reason_id=reasons[0].pk)
    with pytest.raises(InvalidInput):
        ticket_take(site=site, reason_id=reasons[0].pk, phone="not a phone")
    assert Ticket.objects.count() == 0


def test_call_order_appointment_then_priority_then_arrival(site, reasons, counter_agent):
    plain = ticket_take(site=site, reason_id=reasons[0].pk)
    priority = ticket_take(site=site, reason_id=reasons[0].pk, priority=True)
    booked = ticket_check_in_appointment(site=site, appointment_id=42, name="Rdv")
    later = ticket_take(site=site, reason_id=reasons[0].pk)
    called = [ticket_call_next(actor=counter_agent, site=site, desk="1") for _ in range(4)]
    assert [t.pk for t in called] == [booked.pk, priority.pk, plain.pk, later.pk]
    assert ticket_call_next(actor=counter_agent, site=site, desk="1") is None


def test_recall_finish_and_no_second_finish(site, reasons, counter_agent):
    ticket_take(site=site, reason_id=reasons[0].pk)
    ticket = ticket_call_next(actor=counter_agent, site=site, desk="3")
    assert ticket.desk == "3" and ticket.status == Ticket.Status.CALLED
    assert ticket_recall(actor=counter_agent, ticket=ticket).recalls == 1
    done = ticket_finish(actor=counter_agent, ticket=ticket, outcome="served")
    assert done.status == "served" and done.finished_at is not None
    with pytest.raises(Conflict):
        ticket_finish(actor=counter_agent, ticket=ticket, outcome="absent")
    with pytest.raises(InvalidInput):
        ticket_finish(actor=counter_agent, ticket=ticket, outcome="vanished")


def test_agent_of_another_site_cannot_call(site, reasons, agent):
    ticket_take(site=site, reason_id=reasons[0].pk)
    with pytest.raises(NotAllowed):
        ticket_call_next(actor=agent, site=site, desk="1")
    assert Ticket.objects.get().status == "waiting"


def test_position_and_estimate_use_recent_service_times(site, reasons, counter_agent):
    tickets = [ticket_take(site=site, reason_id=reasons[0].pk) for _ in range(4)]
    assert selectors.ticket_position(ticket=tickets[2]) == 2
    # Two served visitors, 10 minutes each at the desk.
    for _ in range(2):
        t = ticket_call_next(actor=counter_agent, site=site, desk="1")
        ticket_finish(actor=counter_agent, ticket=t, outcome="served")
        Ticket.objects.filter(pk=t.pk).update(
            called_at=timezone.now() - timedelta(minutes=10), finished_at=timezone.now()
        )
    assert selectors.mean_service_seconds(site=site) == pytest.approx(600, abs=2)
    assert selectors.ticket_position(ticket=tickets[3]) == 1
    assert selectors.wait_estimate_minutes(site=site, ahead=1) == 20


def test_open_and_link_conversation(site, reasons, counter_agent, ingest):
    ticket_take(site=site, reason_id=reasons[0].pk, name="Jeanne Roux", phone="06 12 34 56 78")
    ticket = ticket_call_next(actor=counter_agent, site=site, desk="2")
    conversation = ticket_conversation_open(
        actor=counter_agent, ticket=ticket, identifier="", name="", text="Carte avalée au DAB."
    )
    assert conversation.channel == "counter"
    assert conversation.customer.display_name == "Jeanne Roux"
    assert conversation.messages.filter(direction="note", text__contains="A001").exists()
    ticket.refresh_from_db()
    assert ticket.conversation_id == conversation.pk
    other = ingest(text="Question")
    linked = ticket_conversation_link(
        actor=counter_agent, ticket=ticket, number=other.conversation.number
    )
    assert linked.pk == other.conversation.pk
    assert Event.objects.filter(verb="counter.visit_linked").count() == 2


def test_metrics_per_day(site, reasons, counter_agent, supervisor, calendar):
    supervisor.sites.add(site)
    for outcome in ("served", "served", "absent"):
        ticket_take(site=site, reason_id=reasons[0].pk)
        t = ticket_call_next(actor=counter_agent, site=site, desk="1")
        ticket_finish(actor=counter_agent, ticket=t, outcome=outcome)
    ticket_take(site=site, reason_id=reasons[0].pk)
    today = timezone.localdate()
    rows = selectors.counter_metrics(
        user=supervisor, site=site, start=today - timedelta(days=1), end=today
    )
    assert [(r.taken, r.served, r.absent) for r in rows] == [(0, 0, 0), (4, 2, 1)]
    assert rows[1].mean_wait_minutes is not None and rows[1].mean_desk_minutes is not None
    with pytest.raises(NotAllowed):
        selectors.counter_metrics(user=counter_agent, site=site, start=today, end=today)


def test_metrics_count_missed_appointments_per_local_day(
    site, reasons, supervisor, counter_agent, team, ingest, login
):
    """00:30 in Paris on 5 December is still 4 December in UTC: the no-show counts on the 5th."""
    from datetime import UTC, date, datetime

    from guichet.channels.appointments.models import Appointment, AppointmentType

    supervisor.sites.add(site)
    conversation = ingest(text="Rendez-vous", sender="rdv@example.org").conversation
    kind = AppointmentType.objects.create(
        name="Agence", mode="in_person", duration_minutes=30, team=team
    )
    for starts, status in (
        (datetime(2026, 12, 4, 23, 30, tzinfo=UTC), "no_show"),
        (datetime(2026, 12, 5, 9, 0, tzinfo=UTC), "no_show"),
        (datetime(2026, 12, 5, 10, 0, tzinfo=UTC), "attended"),
        (datetime(2026, 12, 6, 9, 0, tzinfo=UTC), "no_show"),
    ):
        Appointment.objects.create(
            type=kind,
            site=site,
            agent=counter_agent,
            customer=conversation.customer,
            conversation=conversation,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            name="Rosa Diaz",
            status=status,
        )
    rows = selectors.counter_metrics(
        user=supervisor, site=site, start=date(2026, 12, 4), end=date(2026, 12, 5)
    )
    assert [r.appointment_no_shows for r in rows] == [0, 2]
    page = login(supervisor).get(
        reverse("counter_metrics"), {"site": site.pk, "start": "2026-12-04", "end": "2026-12-05"}
    )
    assert page.status_code == 200
    assert "Appointments missed" in page.content.decode()
    assert "2 appointments missed" in page.content.decode()


def test_kiosk_ticket_board_pages(client, site, reasons):
    page = client.get(reverse("counter_kiosk", args=[site.pk]))
    assert page.status_code == 200 and b"Bank card" in page.content
    bad = client.post(reverse("counter_kiosk", args=[site.pk]), {"reason": "999999"})
    assert bad.status_code == 400
    taken = client.post(
        reverse("counter_kiosk", args=[site.pk]), {"reason": reasons[0].pk, "priority": "on"}
    )
    assert taken.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.priority and taken["Location"].endswith(ticket.token + "/")
    assert b"P001" in client.get(taken["Location"]).content
    assert client.get(reverse("counter_ticket", args=["nope"])).status_code == 404
    state = client.get(reverse("counter_board_state", args=[site.pk])).json()
    assert state["waiting"] == 1 and state["called"] == []


def test_console_actions(login, site, reasons, counter_agent, agent2):
    ticket_take(site=site, reason_id=reasons[0].pk)
    client = login(counter_agent)
    assert client.get(reverse("counter_console")).status_code == 200
    empty_desk = client.post(reverse("counter_call_next", args=[site.pk]), {"desk": ""})
    assert empty_desk.status_code == 400
    response = client.post(reverse("counter_call_next", args=[site.pk]), {"desk": "4"})
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.status == "called" and ticket.called_by == counter_agent
    assert client.post(reverse("counter_finish", args=[ticket.pk, "absent"])).status_code == 302
    assert Ticket.objects.get().status == "absent"
    stranger = login(agent2)  # not attached to the site
    assert (
        stranger.post(reverse("counter_call_next", args=[site.pk]), {"desk": "1"}).status_code
        == 404
    )
    metrics = login(agent_create(username="sup", password=None, role="supervisor"))
    assert metrics.get(reverse("counter_metrics")).status_code == 200
    assert client.get(reverse("counter_metrics")).status_code == 404


def test_check_in_with_an_appointment_today_is_called_first(
    site, reasons, counter_agent, team, ingest
):
    from guichet.channels.appointments.models import Appointment, AppointmentType
    from guichet.channels.counter.services import ticket_check_in

    conversation = ingest(text="Rendez-vous", sender="rdv@example.org").conversation
    kind = AppointmentType.objects.create(
        name="Agence", mode="in_person", duration_minutes=30, team=team
    )
    starts = timezone.now() + timedelta(minutes=5)
    if timezone.localdate(starts) != timezone.localdate():
        starts = timezone.now()
    appointment = Appointment.objects.create(
        type=kind,
        site=site,
        agent=counter_agent,
        customer=conversation.customer,
        conversation=conversation,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        name="Rosa Diaz",
        email="rdv@example.org",
    )
    walk_in = ticket_take(site=site, reason_id=reasons[0].pk, priority=True)
    with pytest.raises(InvalidInput):
        ticket_check_in(site=site, contact="someone-else@example.org")
    ticket = ticket_check_in(site=site, contact="RDV@example.org")
    assert ticket.kind == "appointment" and ticket.appointment_id == appointment.pk
    assert ticket.conversation_id == conversation.pk and ticket.code.startswith("R")
    assert ticket_check_in(site=site, contact="rdv@example.org").pk == ticket.pk  # once
    first = ticket_call_next(actor=counter_agent, site=site, desk="1")
    assert first.pk == ticket.pk  # before the priority walk-in
    ticket_finish(actor=counter_agent, ticket=first, outcome="served")
    appointment.refresh_from_db()
    assert appointment.status == "attended"  # served early: they came all the same
    assert Event.objects.filter(verb="appointment.attended", actor=counter_agent).count() == 1
    assert ticket_call_next(actor=counter_agent, site=site, desk="1").pk == walk_in.pk


def test_desks_of_the_site_are_enforced_when_defined(site, reasons, counter_agent):
    from guichet.channels.appointments.models import Desk

    Desk.objects.create(site=site, name="Guichet 1", number=1)
    Desk.objects.create(site=site, name="Fermé", number=2, active=False)
    ticket_take(site=site, reason_id=reasons[0].pk)
    for wrong in ("Guichet 9", "Fermé"):
        with pytest.raises(InvalidInput):
            ticket_call_next(actor=counter_agent, site=site, desk=wrong)
    assert ticket_call_next(actor=counter_agent, site=site, desk="Guichet 1").desk == "Guichet 1"
