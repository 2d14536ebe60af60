"""Fixtures of the SMS tests: the provider stand-in, a fast password hash for agents."""

from __future__ import annotations

from typing import Any

import pytest

from tests.channels.sms.provider import provider  # noqa: F401 - a fixture


@pytest.fixture(autouse=True)
def _fast_password_hash(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
