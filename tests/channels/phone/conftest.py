"""Fixtures of the phone tests: the SMS provider stand-in, plain static files."""

from __future__ import annotations

from typing import Any

import pytest

from tests.channels.sms.provider import provider  # noqa: F401 - a fixture


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any) -> None:
    # The manifest storage needs `collectstatic`; tests serve static names as they are.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Agents are created in many tests here and never sign in through the form.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
