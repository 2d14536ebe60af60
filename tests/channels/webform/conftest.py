"""Fixtures of the web form and portal tests: real SMTP capture, a form posted as a browser does."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from guichet.accounts.models import Team
from guichet.channels.webform import spam
from tests.channels.email.outbound_support import smtp_sink

__all__ = ["smtp_sink"]

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def _public_settings(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.LANGUAGE_CODE = "en"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Outgoing mail stays in memory unless a test asks for the real SMTP sink.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def phone_team(team: Team) -> Team:
    Team.objects.filter(pk=team.pk).update(phone="01 23 45 67 89")
    return Team.objects.get(pk=team.pk)


def aged_token(seconds: float = 60) -> str:
    """A form token issued `seconds` ago: old enough to pass the minimum fill time."""
    return spam.token_issue(now=time.time() - seconds)


def form_data(**fields: Any) -> dict[str, Any]:
    data = {
        "name": "Jeanne Durand",
        "email": "jeanne.durand@example.org",
        "subject": "Carte bloquée",
        "message": "Bonjour, ma carte est restée bloquée dans le distributeur.",
        "website": "",
        "form_token": aged_token(),
    }
    data.update(fields)
    return data


@pytest.fixture
def post_form() -> Callable[..., Any]:
    """post_form(client=None, **fields) → the response to a contact-form POST (CSRF enforced)."""

    def _post(client: Client | None = None, **fields: Any) -> Any:
        client = client or Client(enforce_csrf_checks=True)
        page = client.get("/contact/")
        token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
        assert page.status_code == 200
        data = form_data(**fields)
        data["csrfmiddlewaretoken"] = token
        return client.post("/contact/", data)

    return _post


LINK = re.compile(r"https?://[^\s\"<>]+/portal/login/([A-Za-z0-9_-]{43})/")


def link_from_outbox() -> str:
    """The sign-in token of the last mail in Django's locmem outbox."""
    assert mail.outbox, "no mail sent"
    found = LINK.search(str(mail.outbox[-1].body))
    assert found, mail.outbox[-1].body
    return found.group(1)
