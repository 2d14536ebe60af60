"""Races between real threads and real transactions (RELIABILITY T04, T05, T06).

PostgreSQL is where these matter; SQLite (IMMEDIATE transactions) serialises writers, so the same
tests check that nothing fails there either.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from guichet.conversations.models import Conversation, Event, Message
from guichet.conversations.services import conversation_claim, customer_merge, message_ingest
from guichet.conversations.types import InboundMessage
from guichet.core.exceptions import Conflict
from guichet.customers.models import Customer, Identity

pytestmark = pytest.mark.django_db(transaction=True)

ON_POSTGRESQL = connection.vendor == "postgresql"


def run_together(count: int, work: Callable[[int], Any], workers: int | None = None) -> list[Any]:
    """Run `work(i)` for i in range(count) on threads released at once; return results/errors."""
    workers = workers or count
    barrier = threading.Barrier(min(workers, count))

    def call(i: int) -> Any:
        try:
            if i < workers:
                barrier.wait(timeout=30)
            return work(i)
        except Exception as exc:  # returned, so the test can look at every outcome
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(call, range(count)))


def _inbound(i: int, **fields: Any) -> InboundMessage:
    fields.setdefault("sender_value", f"client{i}@example.org")
    return InboundMessage(channel="email", sender_kind="email", text=f"Message {i}", **fields)


def test_parallel_creations_get_distinct_numbers(team):
    count = 200 if ON_POSTGRESQL else 60
    results = run_together(
        count, lambda i: message_ingest(_inbound(i, team_id=team.pk)), workers=16
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    numbers = list(Conversation.objects.values_list("number", flat=True))
    assert len(numbers) == count
    assert len(set(numbers)) == count
    assert sorted(numbers) == list(range(min(numbers), min(numbers) + count))  # no gaps either


def test_same_external_id_at_once_gives_one_message(team):
    results = run_together(
        8, lambda i: message_ingest(_inbound(0, external_id="<same@x>", team_id=team.pk))
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert Message.objects.count() == 1
    assert Conversation.objects.count() == 1
    assert Customer.objects.count() == 1
    assert sum(r.created for r in results) == 1
    assert {r.message.pk for r in results} == {Message.objects.get().pk}


def test_same_new_customer_at_once_gives_one_customer(team):
    results = run_together(
        8,
        lambda i: message_ingest(
            _inbound(
                i, sender_value="Nouveau@Example.org", external_id=f"<m{i}@x>", team_id=team.pk
            )
        ),
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    assert Identity.objects.count() == 1
    assert Customer.objects.count() == 1
    assert Message.objects.count() == 8


def test_two_claims_at_once_give_exactly_one_owner(ingest, agent, agent2):
    for _round in range(5):
        conversation = ingest().conversation
        results = run_together(
            2,
            lambda i, c=conversation, actors=(agent, agent2): conversation_claim(
                actor=actors[i], conversation=c
            ),
        )
        winners = [r for r in results if isinstance(r, Conversation)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0], Conflict)
        owner = Conversation.objects.get(pk=conversation.pk).assignee
        assert owner == winners[0].assignee
        assert owner.display_name in str(losers[0])
        assert conversation.events.filter(verb="claimed").count() == 1


def test_opposite_merges_at_once_one_wins(ingest, supervisor):
    for _round in range(5):
        a = ingest(sender=f"a{_round}@example.org").conversation.customer
        b = ingest(sender=f"b{_round}@example.org").conversation.customer
        pairs = [(a, b), (b, a)]
        results = run_together(
            2, lambda i, p=pairs: customer_merge(actor=supervisor, source=p[i][0], target=p[i][1])
        )
        winners = [r for r in results if isinstance(r, Customer)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0], Conflict)  # refused, not a deadlock or a database error
        a.refresh_from_db()
        b.refresh_from_db()
        merged = Counter([a.merged_into_id is not None, b.merged_into_id is not None])
        assert merged == Counter([True, False])
        survivor = b if a.merged_into_id else a
        assert survivor.conversations.count() == 2
        assert survivor.identities.count() == 2
        assert Event.objects.filter(verb="customer.merged", customer=survivor).count() == 1
