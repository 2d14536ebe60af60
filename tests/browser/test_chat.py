"""Live chat in a real Chromium: customer and agent in two contexts over WebSockets, the path
when no one is available, the page without JavaScript, the widget, and axe-core on all of them.

The pages are served by uvicorn (ASGI) in this process, since Django's live server has no
WebSockets: `live_server` is replaced for this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from guichet.accounts.models import User
from guichet.channels.chat import links
from guichet.conversations.models import Conversation, Event
from tests.browser.conftest import assert_accessible
from tests.channels.chat.live import LiveAsgi, asgi_server


@pytest.fixture
def live_server(transactional_db: None) -> Iterator[LiveAsgi]:
    with asgi_server() as live:
        yield live


def test_customer_and_agent_chat_live(new_page: Any, team: Any, agent: User) -> None:
    console = new_page(agent)
    console.goto("/chat/console/")
    expect(console.locator("#console[data-live='1']")).to_have_count(1)

    customer = new_page()
    customer.goto("/chat/")
    expect(customer.locator("#chat-available")).to_be_visible()
    expect(customer.get_by_role("link", name="Ask us to call you back")).to_be_visible()
    customer.get_by_label("Your name (optional)").fill("Jeanne Durand")
    customer.get_by_label("Your message").fill("Ma carte est bloquée au distributeur.")
    customer.get_by_role("button", name="Send").click()
    # The first message of a process loads the triage models: allow for it.
    expect(customer.locator(".chat-inbound")).to_contain_text(
        "Ma carte est bloquée", timeout=30_000
    )

    item = console.locator("#console-list li").first
    expect(item).to_contain_text("Jeanne Durand")
    item.get_by_role("link").click()
    expect(console.locator("#console-transcript")).to_contain_text("Ma carte est bloquée")
    expect(console.locator("#console[data-live='1']")).to_have_count(1)
    console.get_by_label("Your answer").fill("Bonjour Jeanne, je la débloque tout de suite.")
    console.get_by_role("button", name="Send").click()
    expect(customer.locator(".chat-outbound")).to_contain_text("je la débloque")
    expect(console.locator("#console-transcript .chat-outbound")).to_contain_text("je la débloque")
    # The customer writes again: the agent sees it without reloading.
    customer.get_by_label("Your message").fill("Merci !")
    customer.get_by_role("button", name="Send").click()
    expect(console.locator("#console-transcript")).to_contain_text("Merci !")

    conversation = Conversation.objects.get()
    assert [m.text for m in conversation.messages.all()] == [
        "Ma carte est bloquée au distributeur.",
        "Bonjour Jeanne, je la débloque tout de suite.",
        "Merci !",
    ]
    assert not Event.objects.filter(verb="acknowledgement.sent").exists()  # a person was there
    assert_accessible(customer)
    assert_accessible(console)


def test_no_agent_available_ends_in_a_message_and_a_callback_request(
    new_page: Any, team: Any
) -> None:
    page = new_page()
    page.goto("/chat/")
    expect(page.locator("#chat-unavailable")).to_be_visible()
    expect(page.locator("#chat-unavailable")).to_contain_text("No one is available")
    assert_accessible(page)
    page.get_by_label("Your email address (optional)").fill("jeanne@example.org")
    page.get_by_label("Your message").fill("Pouvez-vous me rappeler ?")
    page.get_by_role("button", name="Send").click()
    notice = page.locator(".chat-notice")
    expect(notice).to_contain_text("will answer by", timeout=30_000)
    conversation = Conversation.objects.get()
    expect(notice).to_contain_text(f"no. {conversation.number}")
    callback = page.get_by_role("link", name="Ask us to call you back")
    assert callback.get_attribute("href") == links.callback_url()
    callback.click()
    page.wait_for_url(re.compile(re.escape(links.callback_url()) + "$"))
    assert page.locator("h1").count() == 1  # the callback (or contact) page, not an error


def test_chat_without_javascript(new_page: Any, team: Any) -> None:
    page = new_page(javascript=False)
    page.goto("/chat/")
    page.get_by_label("Your message").fill("Sans JavaScript")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".chat-inbound")).to_contain_text("Sans JavaScript")
    expect(page.locator(".chat-notice")).to_contain_text("No one is available")
    page.get_by_label("Your message").fill("Deuxième message")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".chat-inbound")).to_have_count(2)
    page.get_by_role("link", name="Check for new answers").click()
    expect(page.locator(".chat-inbound")).to_have_count(2)
    assert Conversation.objects.count() == 1
    # axe-core needs JavaScript: the same page is checked with it in the other tests.


def test_widget_opens_the_chat_and_is_accessible(new_page: Any, team: Any) -> None:
    page = new_page(language="fr")
    page.goto("/chat/demo/")
    launcher = page.locator("#guichet-chat-launcher")
    expect(launcher).to_have_accessible_name("Parler à une personne")
    assert_accessible(page)
    launcher.click()
    frame = page.frame_locator("#guichet-chat-frame")
    expect(frame.locator("#chat-unavailable")).to_be_visible()
    frame.get_by_label("Votre message").fill("Bonjour depuis le widget")
    frame.get_by_role("button", name="Envoyer").click()
    expect(frame.locator(".chat-inbound")).to_contain_text(
        "Bonjour depuis le widget", timeout=30_000
    )
    expect(frame.locator(".chat-notice")).to_contain_text("Personne n’est disponible")  # noqa: RUF001
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(launcher).to_have_accessible_name("Fermer la discussion")
    embedded = new_page(language="fr")
    embedded.goto("/chat/?embed=1&lang=fr")
    assert_accessible(embedded)
