"""Receivers of Django signals: an agent who signs out is no longer available."""

from __future__ import annotations

from typing import Any

from guichet.accounts.models import User


def agent_logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if isinstance(user, User) and user.available:
        from guichet.triage.services import agent_availability_set

        agent_availability_set(agent=user, available=False)
