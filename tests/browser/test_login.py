"""Signing in through the form; the page frame loads its own CSS and JavaScript, nothing else."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible
from tests.conftest import PASSWORD


def test_wrong_password_then_right_one(page, agent) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.fill("#id_username", "alice")
    page.fill("#id_password", "not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.locator("#id_username")).to_have_value("alice")

    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Inbox")
    expect(page.locator(".site-header .user-name")).to_have_text("Alice Martin")


def test_css_and_htmx_load(new_page, agent) -> None:
    page = new_page(agent)
    page.goto("/")
    # app.css: the header's dark background; app.js and htmx: defined and configured.
    background = page.locator(".site-header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(19, 40, 63)"
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    # No style element injected by htmx (the CSP forbids inline styles).
    assert page.locator("head style").count() == 0


@pytest.mark.parametrize("language", ["fr", "en"])
def test_login_page_accessible(new_page, language, db) -> None:
    page = new_page(language=language)
    page.goto("/login/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert_accessible(page)
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "wrong")
    page.locator("form:has(#id_password) [type=submit]").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)


def test_language_form(new_page, agent) -> None:
    page = new_page(agent, language="en")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.select_option("#language-select", "fr")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page).to_have_url(re.compile(r"/$"))
