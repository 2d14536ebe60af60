"""The contact form in a real browser, JavaScript off: errors, keyboard, attachments, success."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from guichet.accounts.models import Team
from guichet.channels.email.models import OutboundEmail
from guichet.conversations.models import Conversation
from tests.browser.conftest import assert_accessible

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

TEXTS = {
    "en": {
        "send": "Send",
        "name": "Your name",
        "email": "Your email address",
        "subject": "Subject",
        "message": "Your message",
        "files": "Attach files",
        "title": "Your message has reached us",
        "required": "This field is required.",
    },
    "fr": {
        "send": "Envoyer",
        "name": "Votre nom",
        "email": "Votre adresse e-mail",
        "subject": "Objet",
        "message": "Votre message",
        "files": "Joindre des fichiers",
        "title": "Votre message nous est bien parvenu",
        "required": "Ce champ est obligatoire.",
    },
}


@pytest.fixture(autouse=True)
def _quick_form(settings: Any) -> None:
    # The minimum fill time is tested on its own (tests/channels/webform); a test fills fast.
    settings.WEBFORM_MIN_FILL_SECONDS = 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def reachable(team: Team) -> Team:
    Team.objects.filter(pk=team.pk).update(phone="01 23 45 67 89")
    return team


@pytest.mark.parametrize(
    ("language", "javascript"),
    [("fr", False), ("en", False), ("fr", True), ("en", True)],
    ids=["fr-no-js", "en-no-js", "fr-axe", "en-axe"],
)
def test_contact_form(
    new_page: Any, reachable: Team, language: str, javascript: bool, tmp_path: Any
) -> None:
    """Sent with JavaScript off; the same pages (they have no script) checked by axe-core,
    which needs JavaScript to run."""
    text = TEXTS[language]
    page = new_page(language=language, javascript=javascript)

    def check_accessible() -> None:
        if javascript:
            assert_accessible(page)

    page.watch.allow("400")  # the page answering a form with errors has status 400
    page.goto("/contact/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    check_accessible()

    # Sent empty: the errors are listed at the top and tied to each field.
    page.get_by_role("button", name=text["send"], exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    email = page.get_by_label(text["email"])
    expect(email).to_have_attribute("aria-invalid", "true")
    described = email.get_attribute("aria-describedby") or ""
    assert "id_email_error" in described.split()
    expect(page.locator("#id_email_error")).to_have_text(text["required"])
    check_accessible()

    # Filled in and sent with a file.
    page.get_by_label(text["name"]).fill("Jeanne Durand")
    email.fill("jeanne.durand@example.org")
    page.locator("#id_subject").fill("Carte bloquée")
    page.get_by_label(text["message"]).fill("Bonjour, ma carte est restée dans le distributeur.")
    upload = tmp_path / "relevé.pdf"
    upload.write_bytes(PDF)
    page.get_by_label(text["files"]).set_input_files(str(upload))
    page.wait_for_timeout(1100)  # the minimum fill time, shortened to one second here
    page.get_by_role("button", name=text["send"], exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(text["title"])
    conversation = Conversation.objects.get()
    expect(page.locator(".request-number strong")).to_have_text(str(conversation.number))
    expect(page.locator(".promise")).to_contain_text(re.compile(r"\d"))
    expect(page.locator(".reach-person")).to_contain_text("01 23 45 67 89")
    check_accessible()
    assert conversation.channel == "webform" and conversation.language == language
    assert conversation.messages.get().attachments.get().filename == "relevé.pdf"
    assert OutboundEmail.objects.filter(conversation=conversation).count() == 1


def test_keyboard_only(new_page: Any, team: Team) -> None:
    """Every field is reached with Tab, in order, and Enter on the button sends; the hidden
    honeypot field is never reached."""
    page = new_page(language="en", javascript=False)
    page.goto("/contact/")
    reached = []
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id || document.activeElement.tagName")
        reached.append(focused)
        if focused == "id_name":
            page.keyboard.type("Jeanne")
        elif focused == "id_email":
            page.keyboard.type("jeanne@example.org")
        elif focused == "id_subject":
            page.keyboard.type("Clavier")
        elif focused == "id_message":
            page.keyboard.type("Envoyé au clavier seulement.")
        elif focused == "BUTTON" and page.evaluate(
            "document.activeElement.closest('form.public-form') !== null"
        ):
            page.wait_for_timeout(1100)
            page.keyboard.press("Enter")
            break
    order = [item for item in reached if item.startswith("id_")]
    assert order == ["id_name", "id_email", "id_subject", "id_message", "id_attachments"]
    assert "id_website" not in reached
    expect(page.get_by_role("heading", level=1)).to_have_text("Your message has reached us")
    assert Conversation.objects.get().subject == "Clavier"


def test_large_text_reflows(new_page: Any, team: Team) -> None:
    """WCAG 1.4.10: 320 CSS px wide (a 1280 px screen zoomed to 400 %), nothing scrolls
    sideways and every field stays usable."""
    page = new_page(language="fr", javascript=False)
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto("/contact/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, width
    for field in ("#id_email", "#id_message", "button.primary"):
        box = page.locator(field).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320, field
