"""Two agents calling "next" at the same moment never get the same person (real threads)."""

from __future__ import annotations

import pytest

from guichet.channels.counter.models import Ticket
from guichet.channels.counter.services import ticket_call_next, ticket_take
from tests.test_concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_calls_get_distinct_people(site, reasons, counter_agent, counter_agent2):
    waiting = 12
    for _ in range(waiting):
        ticket_take(site=site, reason_id=reasons[0].pk)
    agents = [counter_agent, counter_agent2]
    calls = 16  # more calls than people: the extra ones must get None, not a duplicate
    results = run_together(
        calls,
        lambda i: ticket_call_next(actor=agents[i % 2], site=site, desk=f"D{i}"),
        workers=8,
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    called = [r.pk for r in results if r is not None]
    assert len(called) == waiting
    assert len(set(called)) == waiting
    assert Ticket.objects.filter(status="called").count() == waiting
    # Each ticket's desk is the one of the single call that won it.
    desks = list(Ticket.objects.values_list("desk", flat=True))
    assert len(set(desks)) == waiting
