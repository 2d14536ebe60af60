"""`core.services.rows_update`: `bulk_update`'s outcome, one plain UPDATE per set of values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guichet.accounts.models import Team
from guichet.conversations.models import Conversation, Priority
from guichet.conversations.services import message_ingest
from guichet.conversations.types import InboundMessage
from guichet.core.services import rows_update

pytestmark = pytest.mark.django_db


def _conversations(team: Team, n: int, tag: str) -> list[Conversation]:
    return [
        message_ingest(
            InboundMessage(
                channel="email",
                sender_kind="email",
                sender_value=f"c{i}.{tag}@client.example.net",
                subject=f"Sujet {i}",
                text="Bonjour, ma carte est bloquée.",
                external_id=f"m{i}.{tag}",
                team_id=team.pk,
            )
        ).conversation
        for i in range(n)
    ]


def _state(conversations: list[Conversation]) -> list[tuple[object, ...]]:
    return list(
        Conversation.objects.filter(pk__in=[c.pk for c in conversations])
        .order_by("pk")
        .values_list("intent", "priority", "needs_decision", "next_response_due", "team_id")
    )


def test_grouped_updates_leave_what_bulk_update_leaves(team: Team) -> None:
    later = timezone.now() + timedelta(hours=3)
    states = []
    for tag, write in (("bulk", Conversation.objects.bulk_update), ("rows", rows_update)):
        conversations = _conversations(team, 9, tag)
        for i, conversation in enumerate(conversations):
            conversation.intent = ("card_blocked", "cancellation", "")[i % 3]
            conversation.priority = Priority.HIGH if i % 2 else Priority.NORMAL
            conversation.needs_decision = i % 3 == 2
            conversation.next_response_due = later if i < 4 else None
        fields = ["intent", "priority", "needs_decision", "next_response_due"]
        with CaptureQueriesContext(connection) as queries:
            write(conversations, fields)
        states.append(_state(conversations))
        if write is rows_update:
            # intent and needs_decision go together: 3 x 2 priorities x 2 due times, 9 rows.
            assert len(queries.captured_queries) == len(
                {(c.intent, c.priority, c.next_response_due) for c in conversations}
            )
            assert all("CASE" not in q["sql"] for q in queries.captured_queries)
    assert states[0] == states[1]


def test_rows_with_values_of_their_own_take_one_case_statement(team: Team) -> None:
    conversations = _conversations(team, 30, "own")
    start = timezone.now()
    for i, conversation in enumerate(conversations):
        conversation.next_response_due = start + timedelta(minutes=i)
    with CaptureQueriesContext(connection) as queries:
        rows_update(conversations, ["next_response_due"])
    assert len(queries.captured_queries) == 1
    assert "CASE" in queries.captured_queries[0]["sql"]
    stored = Conversation.objects.get(pk=conversations[7].pk).next_response_due
    assert stored == start + timedelta(minutes=7)
    rows_update([], ["intent"])  # nothing to write: no query, no error
