"""The display board updates live: a number taken at the kiosk, called from the console,
appears on an open board without a reload. Without JavaScript a reload shows the same."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from guichet.accounts.models import Site
from guichet.channels.counter.services import reason_create
from tests.browser.conftest import assert_accessible


@pytest.fixture
def site(calendar, agent):
    site = Site.objects.create(name="Agence Centre", calendar=calendar)
    reason_create(site=site, label_fr="Carte bancaire", label_en="Bank card")
    agent.sites.add(site)
    return site


def test_board_shows_the_call_live(new_page, site, agent):
    board = new_page()
    board.goto(f"/board/{site.pk}/")
    expect(board.locator("#board-called")).to_contain_text("No number called yet")
    assert_accessible(board)

    kiosk = new_page(javascript=False)
    kiosk.goto(f"/kiosk/{site.pk}/")
    kiosk.get_by_label("Bank card").check()
    kiosk.get_by_role("button", name="Take a number").click()
    expect(kiosk.locator("#ticket-code")).to_have_text("A001")

    console = new_page(user=agent)
    console.goto("/counter/")
    console.get_by_label("Desk").fill("Guichet 2")
    console.get_by_role("button", name="Call next").click()
    expect(console.get_by_role("heading", name="A001")).to_be_visible()

    # The board page was not reloaded: its script fetched the new state.
    expect(board.locator("#board-called tr").first).to_contain_text("A001", timeout=8000)
    expect(board.locator("#board-called tr").first).to_contain_text("Guichet 2")
    expect(board.locator("#board-waiting")).to_contain_text("Waiting: 0")
    assert_accessible(board)

    static = new_page(javascript=False)
    static.goto(f"/board/{site.pk}/")
    expect(static.locator("#board-called")).to_contain_text("A001")
    kiosk.reload()
    expect(kiosk.locator("#ticket-called")).to_contain_text("Guichet 2")
