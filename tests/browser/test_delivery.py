"""Delivery truth in a browser: the reply box of a counter visit says what works, and a reply
that a real (unreachable) mail server did not take shows its badge, its reason and "Retry now"."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from guichet.channels.email import outbound
from tests.browser.conftest import assert_accessible
from tests.channels.email.outbound_support import free_port


def test_the_counter_reply_box_says_what_works(new_page, agent, ingest) -> None:
    conversation = ingest(
        channel="counter", sender_kind="chat", sender="visit-7", subject="Visite au guichet"
    ).conversation
    page = new_page(agent)
    page.goto(f"/c/{conversation.number}/")
    box = page.locator(".compose-reply")
    expect(box).to_contain_text(
        "This conversation came in at the counter: a written reply cannot be sent on this channel"
    )
    expect(box.get_by_role("link", name="Log a call with the customer")).to_be_visible()
    expect(page.get_by_role("button", name="Send reply")).to_have_count(0)
    expect(page.get_by_label("Note for colleagues (the customer never sees it)")).to_be_visible()
    assert_accessible(page)


def test_a_failed_email_shows_its_badge(new_page, agent, ingest, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # a real SMTP connection, refused: nothing listens there
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    conversation = ingest(subject="Virement en attente", sender="paul@example.org").conversation
    page = new_page(agent)
    page.goto(f"/c/{conversation.number}/")
    header = page.locator(".conversation-header")
    expect(header.locator(".badge.delivery-failed")).to_have_count(0)
    page.get_by_label("Your reply (the customer will receive it)").fill("Le virement est parti.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".msg-outbound")).to_contain_text("Le virement est parti.")

    outbound.outbox_drain()  # the worker's attempt (done already if tasks run immediately)
    page.reload()
    expect(header.get_by_role("link", name="Delivery failed")).to_be_visible()
    reply = page.locator(".msg-outbound")
    expect(reply.locator(".delivery-failed")).to_contain_text(
        "Delivery failed: the mail server could not be reached"
    )
    expect(reply.locator(".delivery-failed")).to_contain_text("attempt 2 of")
    expect(reply.get_by_role("button", name="Retry now")).to_be_visible()
    assert_accessible(page)

    page.goto("/?view=mine")
    page.get_by_role("link", name="Delivery failed").first.click()
    expect(page.get_by_role("link", name="Virement en attente")).to_be_visible()
