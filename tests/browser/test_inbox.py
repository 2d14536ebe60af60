"""The inbox in a browser: views with counts, filters, sort, pages, keyboard shortcuts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from guichet.conversations import services
from guichet.conversations.models import Priority
from tests.browser.conftest import assert_accessible


@pytest.fixture
def inbox_data(ingest, agent, agent2):
    """Seven conversations of the team: three Alice's, one Bruno's, three unassigned."""
    made = [
        ingest(subject=f"Demande numéro {n}", sender=f"client{n}@example.org").conversation
        for n in range(1, 8)
    ]
    for conversation in made[:3]:
        services.conversation_claim(actor=agent, conversation=conversation)
    services.conversation_claim(actor=agent2, conversation=made[3])
    services.conversation_set_priority(actor=agent, conversation=made[1], priority=Priority.URGENT)
    services.conversation_set_priority(actor=agent, conversation=made[4], priority=Priority.URGENT)
    services.conversation_set_tags(actor=agent, conversation=made[2], names=["carte"])
    services.conversation_reply(actor=agent, conversation=made[0], text="Nous regardons.")
    return made


def rows(page):
    return page.locator("#inbox-table tbody tr")


def subjects(page) -> list[str]:
    return rows(page).locator("th a").all_inner_texts()


def test_views_counts_filters_sort(new_page, agent, inbox_data) -> None:
    page = new_page(agent)
    page.goto("/")
    views = page.get_by_role("navigation", name="Inbox views")
    expect(views.get_by_role("link", name="Mine 3")).to_have_attribute("aria-current", "page")
    expect(views.get_by_role("link", name="Unassigned 3")).to_be_visible()
    expect(views.get_by_role("link", name="My teams 7")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("(3 conversations)")
    expect(rows(page)).to_have_count(3)

    views.get_by_role("link", name="My teams 7").click()
    expect(rows(page)).to_have_count(7)

    page.select_option("#f-priority", str(Priority.URGENT))
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"priority=4"))
    assert sorted(subjects(page)) == ["Demande numéro 2", "Demande numéro 5"]

    page.select_option("#f-priority", "")
    page.select_option("#f-status", "open")
    page.get_by_role("button", name="Apply").click()
    assert subjects(page) == ["Demande numéro 1"]

    page.select_option("#f-status", "")
    page.fill("#f-tag", "carte")
    page.get_by_role("button", name="Apply").click()
    assert subjects(page) == ["Demande numéro 3"]

    page.fill("#f-tag", "")
    page.select_option("#f-sort", "-created")
    page.get_by_role("button", name="Apply").click()
    assert subjects(page) == [f"Demande numéro {n}" for n in range(7, 0, -1)]
    page.select_option("#f-sort", "created")
    page.get_by_role("button", name="Apply").click()
    assert subjects(page) == [f"Demande numéro {n}" for n in range(1, 8)]
    # The filters stay as chosen after the round trip.
    expect(page.locator("#f-sort")).to_have_value("created")


def test_pages(new_page, agent, inbox_data, settings) -> None:
    settings.INBOX_PAGE_SIZE = 3
    page = new_page(agent)
    page.goto("/?view=teams&sort=created")
    pagination = page.get_by_role("navigation", name="Pages")
    expect(pagination).to_contain_text("Page 1 of 3")
    assert subjects(page) == ["Demande numéro 1", "Demande numéro 2", "Demande numéro 3"]
    pagination.get_by_role("link", name="Next").click()
    expect(pagination).to_contain_text("Page 2 of 3")
    assert subjects(page) == ["Demande numéro 4", "Demande numéro 5", "Demande numéro 6"]
    pagination.get_by_role("link", name="Next").click()
    assert subjects(page) == ["Demande numéro 7"]
    expect(pagination.get_by_role("link", name="Next")).to_have_count(0)
    pagination.get_by_role("link", name="Previous").click()
    expect(pagination).to_contain_text("Page 2 of 3")
    expect(page).to_have_url(re.compile(r"view=teams.*sort=created|sort=created.*view=teams"))


def test_keyboard_shortcuts(new_page, agent, inbox_data) -> None:
    page = new_page(agent)
    page.goto("/?view=teams&sort=created")
    page.keyboard.press("j")
    expect(rows(page).nth(0)).to_have_class(re.compile("is-selected"))
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows(page).nth(1)).to_have_class(re.compile("is-selected"))
    expect(rows(page).nth(0)).not_to_have_class(re.compile("is-selected"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/c/{inbox_data[1].number}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Demande numéro 2")

    page.go_back()
    page.keyboard.press("/")
    expect(page.locator("#site-search-q")).to_be_focused()
    # Typing in the search box types; it does not move the selection.
    page.keyboard.type("jk")
    expect(page.locator("#site-search-q")).to_have_value("jk")

    page.locator("#site-search-q").blur()
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-help")).to_have_attribute("open", "")
    page.keyboard.press("c")
    expect(page).to_have_url(re.compile(r"/c/new/$"))


@pytest.mark.parametrize("language", ["fr", "en"])
def test_inbox_accessible(new_page, agent, inbox_data, language) -> None:
    page = new_page(agent, language=language)
    page.goto("/?view=teams")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(rows(page)).to_have_count(7)
    assert_accessible(page)
    page.keyboard.press("j")
    page.keyboard.press("?")
    assert_accessible(page)


def test_layout_at_desktop_width(new_page, agent, ingest, inbox_data, tmp_path) -> None:
    """At 1400 by 900 pixels: the header holds on one line, the table needs no side scroll."""
    long = ingest(
        subject="Je n'arrive plus à me connecter à l'application depuis que j'ai changé "
        "de téléphone portable la semaine dernière",
        sender="long@example.org",
    )
    services.conversation_set_status(
        actor=agent, conversation=long.conversation, status="waiting_third_party"
    )
    services.conversation_set_tags(
        actor=agent, conversation=long.conversation, names=["accessibilité", "paiement-refusé"]
    )
    for language in ("fr", "en"):
        page = new_page(agent, language=language)
        page.goto("/?view=teams")
        expect(rows(page)).to_have_count(8)
        page.screenshot(path=str(tmp_path / f"inbox-{language}.png"))
        assert page.locator(".site-header").bounding_box()["height"] < 70
        overflow = page.locator(".table-wrap").evaluate("e => e.scrollWidth - e.clientWidth")
        assert overflow <= 0, f"the inbox table overflows by {overflow}px ({language})"
        # A long subject is cut to three lines on screen but complete for assistive technology.
        link = page.get_by_role("link", name=re.compile("semaine dernière"))
        assert link.bounding_box()["height"] < 4 * 24
