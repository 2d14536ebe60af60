"""Due times: first human response, next response and resolution, in the team's calendar."""

from __future__ import annotations

from datetime import datetime, timedelta

from guichet.accounts.models import Team
from guichet.conversations.models import Conversation, Status
from guichet.core.calendars import CalendarHasNoHours, add_business_time, business_time_between


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


def pause(conversation: Conversation, now: datetime) -> list[str]:
    """Stop the clocks while we wait on the customer; returns the fields changed."""
    if conversation.sla_paused_at is not None:
        return []
    conversation.sla_paused_at = now
    return ["sla_paused_at"]


def resume(conversation: Conversation, now: datetime) -> list[str]:
    """Restart the clocks: due times still pending move later by the business time paused."""
    paused_at = conversation.sla_paused_at
    if paused_at is None:
        return []
    conversation.sla_paused_at = None
    fields = ["sla_paused_at"]
    team = conversation.team
    if team is None or now <= paused_at:
        return fields
    spec = team.calendar.spec()
    paused = business_time_between(spec, paused_at, now)
    if not paused:
        return fields
    names = ["resolution_due", "next_response_due"]
    if conversation.first_human_response_at is None:
        names.append("first_human_response_due")
    for name in names:
        due = getattr(conversation, name)
        if due is not None:
            try:
                setattr(conversation, name, add_business_time(spec, due, paused))
            except CalendarHasNoHours:
                continue
            fields.append(name)
    return fields


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
