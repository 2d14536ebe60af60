"""The public callback page in a real Chromium, in French and English.

The request is made with JavaScript off. axe-core needs JavaScript to run (with it off, its
promise never settles), so the same server-rendered states are checked in a second context with
JavaScript on: the empty form, the form with an error, the status page.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from guichet.channels.phone.models import CallbackRequest
from guichet.channels.phone.services import callback_request_from_contact
from tests.browser.conftest import assert_accessible

TEXTS = {
    "en": {"button": "Ask to be called back", "place": "You are number 2 in the queue."},
    "fr": {"button": "Demander à être rappelé", "place": "Vous êtes en position 2 dans la file."},
}


def fill_and_send(page, number: str, button: str) -> None:
    page.locator("#id_number").fill(number)
    page.get_by_role("button", name=button).click()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_request_a_callback_without_javascript(new_page, team, language) -> None:
    text = TEXTS[language]
    callback_request_from_contact(number="+33611111111", source="page")  # someone ahead
    page = new_page(language=language, javascript=False)
    page.watch.allow("status of 400")  # the refused form answers 400, as it should
    page.goto("/callback/")
    expect(page.locator("html")).to_have_attribute("lang", language)

    fill_and_send(page, "12", text["button"])  # not a number: the error is tied to the field
    expect(page.get_by_role("alert").first).to_be_visible()
    number = page.get_by_label(re.compile("Phone number|Numéro de téléphone"))
    expect(number).to_have_attribute("aria-invalid", "true")
    assert "id_number_error" in (number.get_attribute("aria-describedby") or "").split()
    expect(page.locator("#id_number_error")).to_contain_text("12")

    page.locator("#id_name").fill("Jeanne Dupont")
    page.locator("#id_note").fill("Ma carte est bloquée")
    fill_and_send(page, "06 12 34 56 78", text["button"])
    expect(page).to_have_url(re.compile(r"/callback/status/"))
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.locator("main")).to_contain_text(text["place"])
    callback = CallbackRequest.objects.get(number="+33612345678")
    assert callback.language == language and callback.name == "Jeanne Dupont"
    expect(page.locator("main")).to_contain_text(str(callback.conversation.number))
    status_url = page.url

    checker = new_page(language=language)
    checker.watch.allow("status of 400")
    checker.goto("/callback/")
    assert_accessible(checker)
    fill_and_send(checker, "12", text["button"])
    expect(checker.get_by_role("alert").first).to_be_visible()
    assert_accessible(checker)
    checker.goto(status_url)
    expect(checker.locator("main")).to_contain_text(text["place"])
    assert_accessible(checker)
