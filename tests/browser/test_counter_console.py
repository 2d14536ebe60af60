"""The counter console: call next (priority first), recall, open the visitor's conversation,
mark served, call the next one and mark them absent."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from guichet.accounts.models import Site
from guichet.channels.counter.models import Ticket
from guichet.channels.counter.services import reason_create, ticket_take
from tests.browser.conftest import assert_accessible


@pytest.fixture
def site(calendar, agent):
    site = Site.objects.create(name="Agence Centre", calendar=calendar)
    agent.sites.add(site)
    return site


def test_console_flow(new_page, site, agent):
    reason = reason_create(site=site, label_fr="Carte bancaire", label_en="Bank card")
    ticket_take(site=site, reason_id=reason.pk, name="Paul")
    ticket_take(site=site, reason_id=reason.pk, priority=True, name="Lina", phone="0612345678")
    page = new_page(user=agent)
    page.goto("/")
    # The work queues sit in the header's "More" disclosure.
    page.locator(".site-nav summary", has_text="More").click()
    page.get_by_role("link", name="Counter").click()
    expect(page.locator("#waiting-list tbody tr")).to_have_count(2)
    assert_accessible(page)
    page.get_by_label("Desk").fill("3")
    page.get_by_role("button", name="Call next").click()
    expect(page.get_by_role("heading", name="P002")).to_be_visible()  # priority first
    page.get_by_role("button", name="Recall").click()
    expect(page.get_by_text("recalled 1 time")).to_be_visible()
    page.get_by_text("Open a conversation for this visitor").click()
    page.get_by_label("What the visitor asked").fill("Opposition sur carte perdue.")
    page.get_by_role("button", name="Open the conversation").click()
    expect(page.locator(".messages[role=status]")).to_contain_text("opened")
    page.get_by_role("button", name="Served").click()
    expect(page.locator("#nobody-with-you")).to_be_visible()
    page.get_by_role("button", name="Call next").click()  # desk remembered
    expect(page.get_by_role("heading", name="A001")).to_be_visible()
    page.get_by_role("button", name="Absent").click()
    statuses = dict(Ticket.objects.values_list("number", "status"))
    assert statuses == {1: "absent", 2: "served"}
    served = Ticket.objects.get(number=2)
    assert served.conversation.channel == "counter"
    assert served.conversation.customer.display_name == "Lina"
