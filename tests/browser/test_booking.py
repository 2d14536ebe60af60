"""Public booking in a real browser: JavaScript off, moving through the emailed link, axe-core."""

from __future__ import annotations

import re
from datetime import UTC, time
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import expect

from guichet.accounts.models import Site
from guichet.channels.appointments.models import Appointment, AppointmentType
from guichet.channels.appointments.services import Contact, appointment_book
from tests.browser.conftest import assert_accessible
from tests.channels.appointments.conftest import next_weekday, paris, present


@pytest.fixture
def booking_setup(calendar: Any, team: Any, agent: Any, settings: Any, live_server: Any) -> Any:
    settings.APPOINTMENT_PUBLIC_URL = live_server.url
    site = Site.objects.create(
        name="Agence Centre",
        address="1 place de la Mairie, Lyon",
        phone="04 00 00 00 00",
        calendar=calendar,
    )
    present(agent, site)
    kind = AppointmentType.objects.create(
        name="Account opening",
        name_fr="Ouverture de compte",
        mode="in_person",
        duration_minutes=30,
        team=team,
    )
    AppointmentType.objects.create(
        name="Video advice",
        name_fr="Conseil en visio",
        mode="video",
        duration_minutes=45,
        team=team,
    )
    return site, kind


@pytest.mark.parametrize("language", ["en", "fr"])
def test_booking_without_javascript(new_page: Any, booking_setup: Any, language: str) -> None:
    page = new_page(language=language, javascript=False)
    page.goto("/book/")
    page.get_by_label(
        re.compile("Ouverture de compte" if language == "fr" else "Account opening")
    ).check()
    page.locator("form.stacked-form button[type=submit]").click()
    expect(page.locator("input[name=slot]").first).to_be_visible()
    # Jump a week ahead so that the chosen day is never today.
    page.locator(".week-nav a").last.click()
    page.locator("input[name=slot]").first.check()
    chosen = page.locator("input[name=slot]").first.get_attribute("value")
    page.locator("#book-name").fill("Claire Dupont")
    page.locator("#book-email").fill("claire@example.org")
    page.locator("form.stacked-form button[type=submit]").click()
    expect(page.locator("#appointment-status")).to_have_text(
        "Réservé" if language == "fr" else "Booked"
    )
    appointment = Appointment.objects.get()
    assert appointment.starts_at.isoformat() == chosen
    assert appointment.language == language
    assert len(mail.outbox) == 1 and mail.outbox[0].attachments[0][0] == "appointment.ics"


def test_missing_contact_is_explained(new_page: Any, booking_setup: Any) -> None:
    site, kind = booking_setup
    page = new_page(javascript=False)
    page.watch.allow("status of 400")  # the refused form answers 400, on purpose
    monday = next_weekday(0)
    page.goto(f"/book/times/?site={site.pk}&type={kind.pk}&week={monday.isoformat()}")
    page.locator("input[name=slot]").first.check()
    page.locator("#book-name").fill("Claire")
    page.locator("form.stacked-form button[type=submit]").click()
    expect(page.locator("#book-error")).to_contain_text("email address or a phone number")
    assert not Appointment.objects.exists()


def test_rescheduling_through_the_emailed_link(new_page: Any, booking_setup: Any) -> None:
    site, kind = booking_setup
    monday = next_weekday(0)
    appointment_book(
        appointment_type=kind,
        site=site,
        starts_at=paris(monday, 9),
        contact=Contact(name="Claire", email="claire@example.org", language="en"),
    )
    [confirmation] = mail.outbox
    link = re.search(r"http://\S+/book/manage/\S+/", confirmation.body)
    assert link is not None
    page = new_page(javascript=False)
    page.watch.allow("status of 404")  # the forged link at the end
    page.goto(link.group(0))
    expect(page.locator("#appointment-status")).to_have_text("Booked")
    target = paris(monday, 15).astimezone(UTC).isoformat()
    if page.locator(f"input[value='{target}']").count() == 0:
        page.locator(".week-nav a").last.click()
    page.locator(f"input[value='{target}']").check()
    page.get_by_role("button", name="Move to this time").click()
    expect(page.locator(".messages")).to_contain_text("moved")
    appointment = Appointment.objects.get()
    assert appointment.starts_at == paris(monday, 15)
    assert appointment.starts_at.astimezone(paris(monday, 0).tzinfo).time() == time(15)
    assert len(mail.outbox) == 2 and "moved" in mail.outbox[1].body
    page.get_by_role("button", name="Cancel my appointment").click()
    expect(page.locator("#appointment-status")).to_have_text("Cancelled")
    forged = page.goto(link.group(0)[:-3] + "xx/")
    assert forged is not None and forged.status == 404


@pytest.mark.parametrize("language", ["en", "fr"])
def test_booking_pages_are_accessible(new_page: Any, booking_setup: Any, language: str) -> None:
    """axe-core needs JavaScript to run; the pages themselves are the same without it."""
    site, kind = booking_setup
    monday = next_weekday(0)
    appointment = appointment_book(
        appointment_type=kind,
        site=site,
        starts_at=paris(monday, 9),
        contact=Contact(name="Claire", email="claire@example.org", language=language),
    )
    link = re.search(r"http://\S+/book/manage/\S+/", mail.outbox[0].body)
    assert link is not None and appointment.pk
    page = new_page(language=language)
    page.watch.allow("status of 400")  # the refused form at the end
    for url in (
        "/book/",
        f"/book/times/?site={site.pk}&type={kind.pk}&week={monday.isoformat()}",
        link.group(0),
    ):
        page.goto(url)
        assert_accessible(page)
    # An error on the times page keeps the page accessible.
    page.goto(f"/book/times/?site={site.pk}&type={kind.pk}&week={monday.isoformat()}")
    page.locator("input[name=slot]").last.check()
    page.locator("#book-name").fill("Claire")
    page.locator("form.stacked-form button[type=submit]").click()
    expect(page.locator("#book-error")).to_be_visible()
    assert_accessible(page)
