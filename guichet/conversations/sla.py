"""Due times: first human response, next response and resolution, in the team's calendar."""

from __future__ import annotations

from datetime import datetime, timedelta

from guichet.accounts.models import Team
from guichet.conversations.models import Conversation, Status
from guichet.core.calendars import CalendarHasNoHours, add_business_time


def _due(team: Team | None, start: datetime, minutes: int) -> datetime | None:
    if team is None:
        return None
    try:
        return add_business_time(team.calendar.spec(), start, timedelta(minutes=minutes))
    except CalendarHasNoHours:
        return None


def first_human_response_due(team: Team | None, start: datetime) -> datetime | None:
    return _due(team, start, team.first_response_minutes) if team else None


def next_response_due(team: Team | None, start: datetime) -> datetime | None:
    return _due(team, start, team.next_response_minutes) if team else None


def resolution_due(team: Team | None, start: datetime) -> datetime | None:
    return _due(team, start, team.resolution_minutes) if team else None


def refresh_due_at(conversation: Conversation) -> None:
    """Set `due_at` to the earliest due time still pending (None when nothing is our move)."""
    if conversation.status in (Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED):
        conversation.due_at = None
        return
    pending = [conversation.next_response_due, conversation.resolution_due]
    if conversation.first_human_response_at is None:
        pending.append(conversation.first_human_response_due)
    candidates = [due for due in pending if due is not None]
    conversation.due_at = min(candidates) if candidates else None
