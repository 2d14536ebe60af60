"""The customer portal in a real browser: the sign-in link is read from the mail a real SMTP server
received; the customer reads an answer, replies with a file and signs out. JavaScript off; the
same pages are checked by axe-core in a context with JavaScript (axe needs it)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from guichet.conversations.models import Message
from guichet.conversations.services import conversation_reply
from guichet.conversations.types import InboundAttachment
from tests.browser.conftest import assert_accessible
from tests.channels.email.outbound_support import SmtpSink, smtp_sink

__all__ = ["smtp_sink"]

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)
LINK = re.compile(r"https?://[^\s\"<>]+/portal/login/[A-Za-z0-9_-]{43}/")
TEXTS = {
    "en": {
        "email": "Your email address",
        "ask": "Send me a sign-in link",
        "check": "Check your email",
        "sign_in": "Sign in",
        "requests": "Your requests",
        "message": "Your message",
        "files": "Attach files",
        "send": "Send",
        "sign_out": "Sign out",
        "signed_out": "You are signed out",
    },
    "fr": {
        "email": "Votre adresse e-mail",
        "ask": "M’envoyer un lien de connexion",  # noqa: RUF001
        "check": "Consultez vos e-mails",
        "sign_in": "Se connecter",
        "requests": "Vos demandes",
        "message": "Votre message",
        "files": "Joindre des fichiers",
        "send": "Envoyer",
        "sign_out": "Se déconnecter",
        "signed_out": "Vous êtes déconnecté",
    },
}


def link_from_mail(sink: SmtpSink, address: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for delivery in reversed(sink.delivered):
            if address in delivery.rcpt_tos:
                part = delivery.message.get_body(("plain",))
                body = part.get_content() if part is not None else ""
                found = LINK.search(body)  # the agent's reply went to the same address
                if found:
                    return found.group(0)
        time.sleep(0.05)
    raise AssertionError(f"no sign-in mail for {address}")


@pytest.fixture
def claire_has_an_answer(ingest: Any, agent: Any) -> Any:
    conversation = ingest(
        sender="claire@example.org",
        subject="Carte bloquée",
        text="Bonjour, ma carte est bloquée.",
        attachments=(InboundAttachment("photo.png", PNG, "image/png"),),
    ).conversation
    ingest(sender="other@example.org", subject="Someone else's request")
    conversation_reply(actor=agent, conversation=conversation, text="Nous avons débloqué la carte.")
    return conversation


@pytest.mark.parametrize(
    ("language", "javascript"),
    [("en", False), ("fr", False), ("en", True), ("fr", True)],
    ids=["en-no-js", "fr-no-js", "en-axe", "fr-axe"],
)
def test_portal_through_the_mailed_link(
    new_page: Any,
    smtp_sink: SmtpSink,
    claire_has_an_answer: Any,
    language: str,
    javascript: bool,
    tmp_path: Any,
) -> None:
    text = TEXTS[language]
    conversation = claire_has_an_answer
    page = new_page(language=language, javascript=javascript)

    def check_accessible() -> None:
        if javascript:
            assert_accessible(page)

    page.goto("/portal/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    check_accessible()
    page.get_by_label(text["email"]).fill("claire@example.org")
    page.get_by_role("button", name=text["ask"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(text["check"])
    check_accessible()

    page.goto(link_from_mail(smtp_sink, "claire@example.org"))
    check_accessible()
    page.get_by_role("button", name=text["sign_in"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(text["requests"])
    expect(page.locator(".portal-list li")).to_have_count(1)
    expect(page.locator(".portal-list")).not_to_contain_text("Someone else")
    check_accessible()

    page.get_by_role("link", name="Carte bloquée").click()
    expect(page.locator(".portal-timeline")).to_contain_text("Nous avons débloqué la carte.")
    expect(page.get_by_role("link", name="photo.png")).to_be_visible()
    check_accessible()

    upload = tmp_path / "justificatif.png"
    upload.write_bytes(PNG)
    page.get_by_label(text["message"]).fill("Merci, voici le justificatif.")
    page.get_by_label(text["files"]).set_input_files(str(upload))
    page.get_by_role("button", name=text["send"], exact=True).click()
    expect(page.locator(".portal-timeline")).to_contain_text("Merci, voici le justificatif.")
    expect(page.get_by_role("link", name="justificatif.png")).to_be_visible()
    reply = Message.objects.filter(conversation=conversation).order_by("-pk").first()
    assert reply is not None
    assert reply.channel == "webform" and reply.attachments.count() == 1

    page.get_by_role("button", name=text["sign_out"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(text["signed_out"])
    check_accessible()
    # After signing out, the conversation is out of reach (the session was revoked).
    page.goto(f"/portal/c/{conversation.number}/")
    expect(page.get_by_label(text["email"])).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("débloqué")
