"""Runs after the other browser modules: their Playwright loop and async switch are gone."""

from __future__ import annotations

import asyncio
import os

import pytest

from guichet.accounts.models import User
from tests.browser.conftest import ASYNC_UNSAFE_OUTSIDE


@pytest.mark.django_db
def test_browser_modules_leave_no_trace() -> None:
    assert os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE") == ASYNC_UNSAFE_OUTSIDE
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    # Plain ORM calls work again without the switch.
    assert User.objects.count() == 0
