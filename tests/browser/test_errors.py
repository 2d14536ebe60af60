"""A failed htmx action is told in the page's live region, in the agent's language."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from guichet.conversations import services
from guichet.conversations.models import Conversation
from tests.browser.conftest import assert_accessible


@pytest.fixture
def conversation(ingest):
    return ingest(subject="Carte bloquée", text="Ma carte est bloquée.").conversation


def live(page):
    return page.locator("#live-error[role=status]")


@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "No such conversation."), ("fr", "Conversation introuvable.")],
)
def test_an_action_on_a_conversation_gone_out_of_sight(
    new_page, agent, other_team, conversation, language, text
) -> None:
    page = new_page(agent, language=language)
    page.watch.allow("404")
    page.goto(f"/c/{conversation.number}/")
    expect(live(page)).to_be_empty()
    # Meanwhile another person moves it to a team this agent is not in.
    Conversation.objects.filter(pk=conversation.pk).update(team=other_team)
    page.locator(".actions form[action$='/claim'] [type=submit]").click()
    expect(live(page)).to_have_text(text)
    expect(page.locator("#conversation")).to_contain_text("Carte bloquée")  # the page stays
    assert_accessible(page)


def test_a_server_failure_and_a_network_failure(new_page, agent, conversation, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "conversation_claim", broken)
    page = new_page(agent)
    page.watch.allow("500")
    page.watch.allow("502")
    page.watch.allow("Failed to load resource")
    page.watch.allow("htmx:sendError")  # htmx logs the failed request itself
    page.watch.allow("htmx:afterRequest")
    page.goto(f"/c/{conversation.number}/")
    claim = page.locator(".actions form[action$='/claim'] [type=submit]")
    claim.click()
    expect(live(page)).to_contain_text("Something went wrong on our side")
    expect(live(page)).not_to_contain_text("database")

    # A gateway's bare 502 (no Guichet text in it): the page's own words.
    page.route("**/claim", lambda route: route.fulfill(status=502, body="Bad gateway"))
    claim.click()
    expect(live(page)).to_contain_text("The server failed to do this.")
    page.unroute("**/claim")

    page.route("**/claim", lambda route: route.abort())
    claim.click()
    expect(live(page)).to_contain_text("The server could not be reached")
