"""Fixtures of the agent-interface tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any) -> None:
    # The manifest storage needs `collectstatic`; tests serve static names as they are.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    # Assertions read English texts; French is tested through the language switcher.
    settings.LANGUAGE_CODE = "en"
