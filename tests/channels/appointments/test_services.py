"""Booking, moving, cancelling, attendance and reminders through the real services."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from icalendar import Calendar as ICalendar

from guichet.accounts.models import Site, User
from guichet.channels.appointments import notifications, selectors
from guichet.channels.appointments.models import (
    AgentAbsence,
    Appointment,
    AppointmentType,
    SiteClosure,
)
from guichet.channels.appointments.services import (
    Contact,
    appointment_attendance_set,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    appointments_remind,
)
from guichet.conversations.models import Event
from guichet.core.exceptions import Conflict, InvalidInput, NotAllowed
from guichet.core.models import Holiday

from .conftest import paris

pytestmark = pytest.mark.django_db

CLAIRE = Contact(name="Claire Dupont", email="claire@example.org", phone="", language="fr")
_capture: Any = None


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks: Any) -> None:
    """Run each service's after-commit work (queueing mail) when the service returns."""
    global _capture
    _capture = django_capture_on_commit_callbacks


def committed(service: Any, **kwargs: Any) -> Any:
    with _capture(execute=True):
        return service(**kwargs)


def book(site: Site, kind: AppointmentType, when: datetime, **kw: Any) -> Appointment:
    return committed(
        appointment_book,
        appointment_type=kind,
        site=site,
        starts_at=when,
        contact=kw.pop("contact", CLAIRE),
        **kw,
    )


def test_public_booking_opens_a_counter_conversation_and_mails_an_ics(
    staffed_site: Site, in_person: AppointmentType, monday: date
) -> None:
    when = paris(monday, 9, 30)
    appointment = book(staffed_site, in_person, when)
    assert appointment.starts_at == when
    assert appointment.ends_at == when + timedelta(minutes=30)
    conversation = appointment.conversation
    assert conversation.channel == "counter"
    assert conversation.customer == appointment.customer
    assert conversation.customer.identities.filter(value="claire@example.org").exists()
    verbs = list(Event.objects.filter(conversation=conversation).values_list("verb", flat=True))
    assert "appointment.booked" in verbs
    booked = Event.objects.get(verb="appointment.booked")
    assert booked.customer_id == appointment.customer_id
    # Queued through the email outbox and sent (immediate tasks) with the .ics attached.
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["claire@example.org"]
    assert "Ouverture de compte" in sent.body  # the customer's language
    assert notifications.manage_url(appointment).split("/book/manage/")[0] in sent.body
    [(filename, content, content_type)] = sent.attachments
    assert filename == "appointment.ics" and content_type == "text/calendar"
    event = ICalendar.from_ical(content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == when
    assert str(event["uid"]).startswith(appointment.reference)


def test_a_taken_time_is_refused_and_nothing_is_stored(
    site: Site, agent: User, in_person: AppointmentType, monday: date
) -> None:
    from .conftest import present

    present(agent, site)
    when = paris(monday, 10)
    book(site, in_person, when)
    before = (Appointment.objects.count(), Event.objects.count(), len(mail.outbox))
    with pytest.raises(Conflict):
        book(site, in_person, when, contact=Contact(name="Bob", phone="+33612345678"))
    assert (Appointment.objects.count(), Event.objects.count(), len(mail.outbox)) == before


def test_second_agent_takes_the_same_time(
    staffed_site: Site, in_person: AppointmentType, monday: date, agent: User, agent2: User
) -> None:
    when = paris(monday, 10)
    first = book(staffed_site, in_person, when)
    second = book(staffed_site, in_person, when, contact=Contact(name="Bob", email="b@example.org"))
    assert {first.agent_id, second.agent_id} == {agent.pk, agent2.pk}
    with pytest.raises(Conflict):
        book(staffed_site, in_person, when, contact=Contact(name="Cy", email="c@example.org"))


@pytest.mark.parametrize(
    ("contact", "message"),
    [
        (Contact(name="", email="a@example.org"), "name"),
        (Contact(name="Ana"), "email address or a phone"),
        (Contact(name="Ana", email="not an address"), "not a valid email"),
        (Contact(name="Ana", phone="12"), "not a valid phone"),
    ],
)
def test_contact_details_are_checked(
    staffed_site: Site, in_person: AppointmentType, monday: date, contact: Contact, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        book(staffed_site, in_person, paris(monday, 10), contact=contact)
    assert not Appointment.objects.exists()


def test_times_outside_presence_holidays_closures_absences_are_refused(
    staffed_site: Site, in_person: AppointmentType, monday: date, agent: User, agent2: User
) -> None:
    with pytest.raises(Conflict):
        book(staffed_site, in_person, paris(monday, 12, 30))  # lunch: nobody present
    with pytest.raises(Conflict):
        book(staffed_site, in_person, paris(monday, 9, 10))  # off the grid
    tuesday, wednesday = monday + timedelta(days=1), monday + timedelta(days=2)
    Holiday.objects.create(calendar=staffed_site.calendar, date=tuesday)
    SiteClosure.objects.create(site=staffed_site, date=wednesday, reason="Travaux")
    for day in (tuesday, wednesday):
        assert not selectors.slots_search(
            site=staffed_site, appointment_type=in_person, first_day=day, last_day=day
        )
    thursday = monday + timedelta(days=3)
    for person in (agent, agent2):
        AgentAbsence.objects.create(
            agent=person, starts_at=paris(thursday, 0), ends_at=paris(thursday, 12)
        )
    slots = selectors.slots_search(
        site=staffed_site, appointment_type=in_person, first_day=thursday, last_day=thursday
    )
    assert slots and all(s.starts_at >= paris(thursday, 14) for s in slots)


def test_team_and_skills_choose_the_agents(
    staffed_site: Site, in_person: AppointmentType, monday: date, agent: User, agent2: User
) -> None:
    from guichet.accounts.models import Skill

    mortgage = Skill.objects.create(name="Prêts immobiliers")
    in_person.skills.add(mortgage)
    agent2.skills.add(mortgage)
    slots = selectors.slots_search(
        site=staffed_site, appointment_type=in_person, first_day=monday, last_day=monday
    )
    assert slots and all(s.agent_ids == (agent2.pk,) for s in slots)


def test_named_advisor_is_offered_first_when_an_agent_books(
    staffed_site: Site, in_person: AppointmentType, monday: date, agent: User, agent2: User
) -> None:
    first = book(staffed_site, in_person, paris(monday, 9))  # creates Claire
    customer = first.customer
    advisor = agent2 if first.agent_id == agent.pk else agent
    customer.advisor = advisor
    customer.save()
    slots = selectors.slots_search(
        site=staffed_site,
        appointment_type=in_person,
        first_day=monday,
        last_day=monday,
        customer=customer,
    )
    assert all(s.agent_ids[0] == advisor.pk and s.with_advisor for s in slots)
    second = appointment_book(
        appointment_type=in_person,
        site=staffed_site,
        starts_at=paris(monday, 10),
        contact=CLAIRE,
        actor=advisor,
        conversation=first.conversation,
    )
    assert second.agent_id == advisor.pk
    assert second.conversation_id == first.conversation_id
    assert Event.objects.filter(verb="appointment.booked", actor=advisor).exists()


def test_agent_cannot_book_into_a_conversation_they_cannot_see(
    staffed_site: Site, in_person: AppointmentType, monday: date, outsider: User
) -> None:
    first = book(staffed_site, in_person, paris(monday, 9))
    with pytest.raises(NotAllowed):
        appointment_book(
            appointment_type=in_person,
            site=staffed_site,
            starts_at=paris(monday, 10),
            contact=CLAIRE,
            actor=outsider,
            conversation=first.conversation,
        )


def test_reschedule_and_cancel_record_events_and_notify(
    staffed_site: Site, in_person: AppointmentType, monday: date
) -> None:
    appointment = book(staffed_site, in_person, paris(monday, 9))
    moved = committed(appointment_reschedule, appointment=appointment, starts_at=paris(monday, 15))
    assert moved.starts_at == paris(monday, 15) and moved.reference == appointment.reference
    cancelled = committed(appointment_cancel, appointment=moved)
    assert cancelled.status == Appointment.Status.CANCELLED
    verbs = list(
        Event.objects.filter(verb__startswith="appointment.").values_list("verb", flat=True)
    )
    assert verbs == ["appointment.booked", "appointment.rescheduled", "appointment.cancelled"]
    assert len(mail.outbox) == 3
    cancel_ics = ICalendar.from_ical(mail.outbox[2].attachments[0][1])
    assert str(cancel_ics["method"]) == "CANCEL"
    with pytest.raises(InvalidInput):
        appointment_cancel(appointment=cancelled)
    # The freed time can be booked again.
    book(staffed_site, in_person, paris(monday, 15))


def test_attendance_is_recorded_once_begun(
    staffed_site: Site, in_person: AppointmentType, monday: date, agent: User, outsider: User
) -> None:
    appointment = book(staffed_site, in_person, paris(monday, 9))
    with pytest.raises(InvalidInput):
        appointment_attendance_set(appointment=appointment, actor=agent, attended=True)
    with pytest.raises(NotAllowed):
        appointment_attendance_set(
            appointment=appointment, actor=outsider, attended=True, now=paris(monday, 9, 5)
        )
    done = appointment_attendance_set(
        appointment=appointment, actor=agent, attended=False, now=paris(monday, 9, 20)
    )
    assert done.status == Appointment.Status.NO_SHOW
    done = appointment_attendance_set(
        appointment=appointment, actor=agent, attended=True, now=paris(monday, 9, 25)
    )
    assert done.status == Appointment.Status.ATTENDED
    verbs = list(Event.objects.filter(actor=agent).values_list("verb", flat=True))
    assert verbs == ["appointment.no_show", "appointment.attended"]


def test_reminders_go_once(
    staffed_site: Site, in_person: AppointmentType, monday: date, settings: Any
) -> None:
    appointment = book(staffed_site, in_person, paris(monday, 9))
    mail.outbox.clear()
    long_before = paris(monday, 9) - timedelta(days=3)
    assert appointments_remind(now=long_before) == 0
    eve = paris(monday, 9) - timedelta(hours=20)
    assert committed(appointments_remind, now=eve) == 1
    assert appointments_remind(now=eve + timedelta(hours=1)) == 0
    [reminder] = mail.outbox
    assert reminder.body.startswith("Rappel de votre rendez-vous.")  # Claire reads French
    assert reminder.attachments[0][0] == "appointment.ics"
    assert Event.objects.filter(verb="appointment.reminded").count() == 1
    appointment.refresh_from_db()
    assert appointment.reminder_sent_at == eve


def test_remind_command_runs(staffed_site: Site, in_person: AppointmentType) -> None:
    from io import StringIO

    out = StringIO()
    call_command("appointments_remind", stdout=out)
    assert "0 reminder(s) queued" in out.getvalue()


def test_signed_links_refuse_forgery_and_expire(
    staffed_site: Site, in_person: AppointmentType, monday: date, settings: Any
) -> None:
    appointment = book(staffed_site, in_person, paris(monday, 9))
    token = notifications.manage_token(appointment)
    assert notifications.token_reference(token) == appointment.reference
    assert notifications.token_reference(token[:-2] + "xx") is None
    assert notifications.token_reference(str(appointment.pk)) is None
    settings.APPOINTMENT_LINK_MAX_AGE_DAYS = 1
    from unittest import mock

    later = timezone.now().timestamp() + 2 * 86400
    with mock.patch("time.time", return_value=later):
        assert notifications.token_reference(token) is None


def test_upcoming_appointments_for_the_portal(
    staffed_site: Site, in_person: AppointmentType, monday: date
) -> None:
    first = book(staffed_site, in_person, paris(monday, 9))
    second = book(staffed_site, in_person, paris(monday, 10))
    appointment_cancel(appointment=second)
    assert selectors.upcoming_appointments(first.customer) == [first]
    after = paris(monday, 10)
    assert selectors.upcoming_appointments(first.customer, now=after) == []


def test_in_person_types_are_listed_first(
    by_video: AppointmentType, in_person: AppointmentType, site: Site
) -> None:
    modes = [t.mode for t in selectors.bookable_types(site=site)]
    assert modes[0] == "in_person" and "video" in modes


def test_in_person_slots_stay_within_opening_hours(
    site: Site, agent: User, in_person: AppointmentType, by_video: AppointmentType, monday: date
) -> None:
    from guichet.channels.appointments.models import AgentSchedule

    agent.sites.add(site)
    AgentSchedule.objects.create(
        agent=agent, site=site, weekday=monday.weekday(), starts=time(8), ends=time(19)
    )
    kwargs = {"site": site, "first_day": monday, "last_day": monday}
    local = [
        s.starts_at.astimezone(paris(monday, 0).tzinfo)
        for s in selectors.slots_search(appointment_type=in_person, **kwargs)
    ]
    assert min(local).time() == time(9) and max(local).time() == time(17)
    assert not any(time(12, 30) <= t.time() < time(13, 30) for t in local)
    remote = selectors.slots_search(appointment_type=by_video, **kwargs)
    assert remote[0].starts_at == paris(monday, 8)  # a call needs no open door


def test_booked_times_leave_the_search(
    site: Site, agent: User, in_person: AppointmentType, monday: date
) -> None:
    from .conftest import present

    present(agent, site)
    kwargs = {"site": site, "appointment_type": in_person, "first_day": monday, "last_day": monday}
    before = [s.starts_at for s in selectors.slots_search(**kwargs)]
    book(site, in_person, paris(monday, 10))
    after = [s.starts_at for s in selectors.slots_search(**kwargs)]
    assert paris(monday, 10) in before and paris(monday, 10) not in after
    assert len(after) == len(before) - 1


def test_reminder_task_runs_the_sweep(
    staffed_site: Site, in_person: AppointmentType, monday: date
) -> None:
    from guichet.channels.appointments.tasks import send_appointment_reminders

    from .conftest import next_weekday

    # The Monday after next: on a Sunday, tomorrow's 09:00 is already inside the reminder window.
    book(staffed_site, in_person, paris(next_weekday(0, after=monday), 9))
    result = send_appointment_reminders.enqueue()
    assert result.return_value == 0  # not due yet: nothing is sent early


def test_sms_notice_goes_to_the_registered_sms_sender(
    staffed_site: Site, in_person: AppointmentType, monday: date
) -> None:
    from guichet.conversations.models import Message
    from guichet.conversations.senders import register_sender, senders_suspended

    handed: list[Message] = []
    with senders_suspended():  # restores the real senders afterwards
        register_sender("sms", handed.append)
        appointment = book(
            staffed_site,
            in_person,
            paris(monday, 9),
            contact=Contact(name="Paul", phone="06 12 34 56 78", language="en"),
        )
    [sms] = handed
    assert sms.channel == "sms" and sms.conversation_id == appointment.conversation_id
    assert "Appointment confirmed" in sms.text and "/book/manage/" in sms.text
    assert not mail.outbox  # no address given, no email


def test_without_an_sms_sender_a_phone_booking_still_works(
    staffed_site: Site, in_person: AppointmentType, monday: date
) -> None:
    from guichet.conversations.senders import senders_suspended

    with senders_suspended():
        appointment = book(
            staffed_site,
            in_person,
            paris(monday, 9),
            contact=Contact(name="Paul", phone="0612345678"),
        )
    assert appointment.phone == "+33612345678"
    assert not appointment.conversation.messages.filter(channel="sms").exists()
