"""The kiosk in a browser, JavaScript off, in French and English; axe-core on kiosk and ticket
(axe itself needs scripts: it checks the same pages in a context with JavaScript on)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from guichet.accounts.models import Site
from guichet.channels.counter.models import Ticket
from guichet.channels.counter.services import reason_create
from tests.browser.conftest import assert_accessible


@pytest.fixture
def site(calendar):
    site = Site.objects.create(name="Agence Centre", calendar=calendar)
    reason_create(site=site, label_fr="Carte bancaire", label_en="Bank card", position=1)
    reason_create(site=site, label_fr="Crédit immobilier", label_en="Mortgage", position=2)
    return site


def test_take_a_number_without_javascript(new_page, site):
    page = new_page(javascript=False)
    page.watch.allow("status of 400")  # the refused submission below
    page.goto(f"/kiosk/{site.pk}/")
    page.get_by_role("button", name="Take a number").click()
    expect(page.locator("#kiosk-error")).to_be_visible()  # no reason chosen: said, not a 500
    page.get_by_label("Mortgage").check()
    page.get_by_label("I need priority").check()
    page.get_by_label("Your name (optional)").fill("Jeanne")
    page.get_by_role("button", name="Take a number").click()
    expect(page.locator("#ticket-code")).to_have_text("P001")
    expect(page.locator("#ticket-position")).to_contain_text("You are next")
    # axe-core runs as a script: the same pages, checked in a context where scripts run.
    checker = new_page()
    for url in (f"/kiosk/{site.pk}/", page.url):
        checker.goto(url)
        assert_accessible(checker)
    ticket = Ticket.objects.get()
    assert ticket.priority and ticket.name == "Jeanne" and ticket.reason.label_en == "Mortgage"


def test_kiosk_in_french(new_page, site):
    page = new_page(language="fr", javascript=False)
    page.goto(f"/kiosk/{site.pk}/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_label("Crédit immobilier")).to_be_visible()
    page.get_by_label("Carte bancaire").check()
    page.get_by_role("button", name="Prendre un numéro").click()
    expect(page.locator("#ticket-code")).to_have_text("A001")
    checker = new_page(language="fr")
    checker.goto(f"/kiosk/{site.pk}/")
    assert_accessible(checker)
