"""The conversation page in a browser, with htmx and without JavaScript (plain form posts)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from guichet.conversations import services
from guichet.conversations.models import Conversation, Message, Status
from guichet.conversations.types import InboundAttachment
from tests.browser.conftest import assert_accessible


@pytest.fixture
def request_with_attachment(ingest):
    return ingest(
        subject="Carte bloquée au distributeur",
        text="Bonjour, ma carte est restée bloquée dans le distributeur de la gare.",
        sender="jeanne.durand@example.org",
        sender_name="Jeanne Durand",
        attachments=(InboundAttachment("releve.pdf", b"%PDF-1.4 releve", "application/pdf"),),
    ).conversation


def flash(page):
    return page.locator(".messages")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_agent_handles_a_conversation(
    new_page, agent, agent2, request_with_attachment, javascript
) -> None:
    conversation = request_with_attachment
    page = new_page(agent, javascript=javascript)
    posts: list[bool] = []  # for each POST: was it sent by htmx?

    def record(request) -> None:
        if request.method == "POST":
            posts.append("hx-request" in request.headers)

    page.on("request", record)
    page.goto("/?view=unassigned")
    page.get_by_role("link", name="Carte bloquée au distributeur").click()
    expect(page).to_have_url(re.compile(rf"/c/{conversation.number}/$"))
    header = page.locator(".conversation-header")
    expect(header).to_contain_text("New")
    expect(header).to_contain_text("First human response due")
    timeline = page.locator("ol.timeline")
    expect(timeline.locator(".msg-inbound")).to_contain_text("restée bloquée")
    expect(timeline.get_by_role("link", name="releve.pdf")).to_have_attribute("download", "")

    # Claim.
    page.get_by_role("button", name="Take this conversation").click()
    expect(flash(page)).to_contain_text("You have taken this conversation.")
    expect(header).to_contain_text("Alice Martin")
    expect(page.get_by_role("button", name="Take this conversation")).to_have_count(0)

    # Reply: appears in the timeline, status becomes open, first response recorded.
    page.get_by_label("Your reply (the customer will receive it)").fill(
        "Bonjour Madame Durand, nous faisons opposition et vous rappelons."
    )
    page.get_by_role("button", name="Send reply").click()
    expect(flash(page)).to_contain_text("Reply saved: it is being sent by")
    expect(timeline.locator(".msg-outbound")).to_contain_text("nous faisons opposition")
    expect(header.locator(".badge.status-open")).to_have_text("Open")
    expect(header).to_contain_text("First human response given")
    expect(page.locator("#reply_text")).to_have_value("")

    # Internal note: shown apart from messages to the customer.
    page.get_by_label("Note for colleagues (the customer never sees it)").fill(
        "Vérifier le distributeur de la gare avec l'agence."
    )
    page.get_by_role("button", name="Add note").click()
    expect(flash(page)).to_contain_text("Note added.")
    note = timeline.locator(".msg-note")
    expect(note).to_contain_text("Vérifier le distributeur")
    expect(note.locator(".msg-kind")).to_have_text("Internal note")
    note_bg = note.evaluate("e => getComputedStyle(e).backgroundColor")
    reply_bg = timeline.locator(".msg-outbound").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert note_bg != reply_bg
    assert note.evaluate("e => getComputedStyle(e).borderTopStyle") == "dashed"

    # Status, priority, tags.
    page.select_option("#status_status", Status.WAITING_CUSTOMER)
    page.get_by_role("button", name="Change status").click()
    expect(flash(page)).to_contain_text("Status: Waiting on customer.")
    expect(header.locator(".badge.status-waiting_customer")).to_be_visible()
    page.select_option("#priority_priority", "3")
    page.get_by_role("button", name="Change priority").click()
    expect(header.locator(".badge.priority-3")).to_have_text("High")
    page.fill("#tags_tags", "Carte, gare")
    page.get_by_role("button", name="Save tags").click()
    expect(flash(page)).to_contain_text("Tags saved.")
    expect(header.locator(".tag")).to_have_text(["carte", "gare"])
    expect(page.locator("#tags_tags")).to_have_value("carte, gare")

    # Snooze, then wake up.
    page.select_option("#snooze_preset", "1h")
    page.get_by_role("button", name="Snooze", exact=True).click()
    expect(flash(page)).to_contain_text("Snoozed.")
    expect(header.locator(".snoozed")).to_contain_text("Snoozed until")
    page.get_by_role("button", name="Wake up now").click()
    expect(flash(page)).to_contain_text("back in the inbox")
    expect(header.locator(".snoozed")).to_have_count(0)

    # The timeline recorded each step.
    events = timeline.locator(".event")
    expect(events.filter(has_text="took this conversation")).to_have_count(1)
    expect(events.filter(has_text="changed the priority")).to_have_count(1)

    conversation.refresh_from_db()
    assert conversation.status == Status.WAITING_CUSTOMER
    assert conversation.first_human_response_at is not None
    assert conversation.assignee == agent
    assert conversation.snoozed_until is None
    assert conversation.messages.filter(direction=Message.Direction.NOTE).count() == 1
    assert len(posts) == 8 and set(posts) == {javascript}

    # Search a word of the customer's message, find the conversation, open the customer page.
    page.locator("#site-search-q").fill("distributeur")
    page.locator("#site-search-q").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("distributeur")
    result = page.get_by_role("link", name=f"#{conversation.number} Carte bloquée au distributeur")
    result.click()
    expect(page).to_have_url(re.compile(rf"/c/{conversation.number}/$"))
    page.locator(".facts").get_by_role("link", name="Jeanne Durand").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Jeanne Durand")
    expect(page.locator("ul.identities")).to_contain_text("jeanne.durand@example.org")
    expect(page.get_by_role("link", name="Carte bloquée au distributeur")).to_be_visible()


def test_supervisor_assigns_to_a_colleague(new_page, supervisor, agent2, ingest) -> None:
    conversation = ingest(subject="Prêt immobilier").conversation
    services.conversation_claim(actor=supervisor, conversation=conversation)
    page = new_page(supervisor)
    page.goto(f"/c/{conversation.number}/")
    page.select_option("#assign_assignee", label="Bruno Petit")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Assigned to Bruno Petit.")
    expect(page.locator(".conversation-header")).to_contain_text("Bruno Petit")
    expect(page.locator("ol.timeline .event").last).to_contain_text(
        "assigned this conversation to Bruno Petit"
    )
    assert Conversation.objects.get(pk=conversation.pk).assignee == agent2


def test_claim_conflict_keeps_the_page(new_page, agent, agent2, ingest) -> None:
    """Someone else took it meanwhile: a 409 shown in place (htmx swaps it), nothing lost."""
    conversation = ingest(subject="Chèque perdu").conversation
    page = new_page(agent)
    page.watch.allow("status of 409")
    page.goto(f"/c/{conversation.number}/")
    page.fill("#note_text", "Brouillon de note")
    services.conversation_claim(actor=agent2, conversation=conversation)
    page.get_by_role("button", name="Take this conversation").click()
    expect(page.get_by_role("alert")).to_contain_text("Bruno Petit has already taken")
    expect(page.locator(".conversation-header")).to_contain_text("Bruno Petit")
    expect(page).to_have_url(re.compile(rf"/c/{conversation.number}/$"))


def test_keyboard_in_conversation(new_page, agent, ingest) -> None:
    conversation = ingest(subject="Virement").conversation
    page = new_page(agent)
    page.goto(f"/c/{conversation.number}/")
    page.keyboard.press("r")
    expect(page.locator("#reply_text")).to_be_focused()
    page.keyboard.type("Réponse envoyée au clavier")
    page.keyboard.press("Control+Enter")
    expect(page.locator("ol.timeline .msg-outbound")).to_contain_text("Réponse envoyée au clavier")
    page.locator("#reply_text").blur()
    page.keyboard.press("n")
    expect(page.locator("#note_text")).to_be_focused()


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_new_conversation(new_page, agent, javascript) -> None:
    page = new_page(agent, javascript=javascript)
    page.goto("/")
    page.get_by_role("link", name="New conversation").click()
    page.get_by_label("Customer email or phone number").fill("06 12 34 56 78")
    page.get_by_label("Customer name").fill("Paul Lefèvre")
    page.get_by_label("Subject").fill("Appel au sujet d'un prélèvement")
    page.get_by_label("What the customer asked").fill("Un prélèvement inconnu de 42 €.")
    page.get_by_role("button", name="Open the conversation").click()
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(".messages")).to_contain_text("opened.")
    expect(page.locator("ol.timeline")).to_contain_text("Un prélèvement inconnu de 42 €.")


@pytest.fixture
def full_conversation(request_with_attachment, agent, agent2, supervisor):
    conversation = request_with_attachment
    services.conversation_claim(actor=agent, conversation=conversation)
    services.conversation_reply(actor=agent, conversation=conversation, text="Nous regardons.")
    services.conversation_note_add(actor=agent, conversation=conversation, text="Appeler l'agence.")
    services.conversation_set_tags(actor=agent, conversation=conversation, names=["carte", "gare"])
    services.conversation_assign(actor=supervisor, conversation=conversation, assignee=agent2)
    return conversation


@pytest.mark.parametrize("language", ["fr", "en"])
def test_pages_accessible(new_page, supervisor, full_conversation, language) -> None:
    conversation = full_conversation
    page = new_page(supervisor, language=language)
    for url in (
        f"/c/{conversation.number}/",
        "/c/new/",
        f"/customers/{conversation.customer_id}/",
        "/search/?q=distributeur",
        "/search/?q=rien-de-tel",
    ):
        page.goto(url)
        expect(page.locator("html")).to_have_attribute("lang", language)
        assert_accessible(page)
    # After an htmx swap and with an error on the page.
    page.goto(f"/c/{conversation.number}/")
    page.watch.allow("status of 400")
    page.locator(".snooze-form [type=submit]").click()  # neither a preset nor a date
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)
    page.goto("/c/new/")
    page.fill("#id_identifier", "pas un numéro")
    page.fill("#id_text", "texte")
    page.locator("form.stacked-form [type=submit]").click()
    expect(page.locator(".field-error").first).to_be_visible()
    assert_accessible(page)
