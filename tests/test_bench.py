"""Smoke tests of the benchmark script (bench/inbox.py): the data it writes and its harness.

Counts and shapes only; performance figures come from running the script, never from tests.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count, Max, Min
from django.db.models.functions import Length

from bench import inbox as bench_inbox
from bench.fill import (
    AGENT_USERNAME,
    BENCH_DOMAIN,
    PASSWORD,
    SUPERVISOR_USERNAME,
    bench_conversations_count,
    fill,
)
from bench.measure import Page, percentile, run, sessions, table
from guichet.accounts.models import User
from guichet.conversations.models import ACTIVE_STATUSES, Conversation, Event, Message, Status
from guichet.conversations.selectors import InboxFilters, inbox_page
from guichet.conversations.services import message_ingest
from guichet.conversations.types import InboundMessage
from guichet.core.models import Sequence
from guichet.customers.models import Customer, Identity


@pytest.fixture
def _plain_static(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.mark.django_db
def test_fill_writes_what_the_services_would() -> None:
    stats = fill(50, progress=False)
    assert stats.conversations == 50
    assert Conversation.objects.count() == 50
    numbers = list(Conversation.objects.values_list("number", flat=True))
    assert len(set(numbers)) == 50
    assert Sequence.objects.get(name="conversation").value >= max(numbers)

    per_conversation = Conversation.objects.annotate(m=Count("messages")).aggregate(
        low=Min("m"), high=Max("m")
    )
    assert per_conversation["low"] >= 2 and per_conversation["high"] <= 6
    lengths = Message.objects.annotate(n=Length("text")).aggregate(low=Min("n"), high=Max("n"))
    assert lengths["low"] >= 300 and lengths["high"] <= 1500
    for conversation in Conversation.objects.prefetch_related("messages"):
        messages = list(conversation.messages.all())
        assert messages[0].direction == Message.Direction.INBOUND
        assert conversation.created_at <= messages[0].created_at
        assert conversation.customer.identities.filter(kind="email").exists()
        if conversation.status in ACTIVE_STATUSES:
            assert conversation.resolved_at is None
        else:
            assert conversation.resolved_at is not None and conversation.due_at is None
        if conversation.status == Status.NEW:
            assert conversation.first_human_response_at is None
            assert conversation.due_at == min(
                conversation.first_human_response_due, conversation.resolution_due
            )
    assert Event.objects.filter(verb="conversation.created").count() == 50
    assert (
        Event.objects.filter(verb="message.received").count()
        == Message.objects.filter(direction="inbound").count()
    )
    statuses = set(Conversation.objects.values_list("status", flat=True))
    assert statuses & {Status.RESOLVED, Status.CLOSED}
    assert statuses & set(ACTIVE_STATUSES)
    assert (
        Identity.objects.filter(value__endswith="@" + BENCH_DOMAIN).count()
        == Customer.objects.count()
    )

    agent = User.objects.get(username=AGENT_USERNAME)
    assert agent.check_password(PASSWORD)
    assert User.objects.get(username=SUPERVISOR_USERNAME).role == User.Role.SUPERVISOR
    rows, total = inbox_page(user=agent, filters=InboxFilters(view="teams"), page=1, page_size=25)
    assert total == len(rows) or len(rows) == 25

    # A conversation created afterwards by the services gets the next free number.
    result = message_ingest(
        InboundMessage(
            channel="email",
            sender_kind="email",
            sender_value="nouveau@example.org",
            text="Bonjour, ma carte est bloquée.",
            subject="Carte bloquée",
        )
    )
    assert result.conversation.number == max(numbers) + 1

    # Idempotent: a rerun adds nothing; a larger N tops up.
    assert fill(50, progress=False).conversations == 0
    assert bench_conversations_count() == 50
    assert fill(60, progress=False, batch=7).conversations == 10
    assert bench_conversations_count() == 60
    assert Conversation.objects.values("number").distinct().count() == 61


def test_cli_help_and_arguments(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_inbox.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--reuse" in capsys.readouterr().out
    args = bench_inbox.parse_args(["--n", "10", "--clients", "1,4"])
    assert args.client_levels == [1, 4] and args.n == 10
    with pytest.raises(SystemExit):
        bench_inbox.parse_args(["--clients", "a"])


def test_percentile_and_table() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile([7.0], 95) == 7.0


@pytest.mark.django_db(transaction=True)
def test_harness_against_a_live_server(live_server: Any, _plain_static: None) -> None:
    fill(12, progress=False)
    agent = User.objects.get(username=AGENT_USERNAME)
    number = (
        Conversation.objects.filter(team__members=agent).values_list("number", flat=True).first()
    )
    cookies = sessions(live_server.url, [AGENT_USERNAME], PASSWORD, 2)[AGENT_USERNAME]
    pages = [
        Page("inbox", AGENT_USERNAME, ["/?view=teams"]),
        Page("conversation", AGENT_USERNAME, [f"/c/{number}/"]),
        Page("search", AGENT_USERNAME, ["/search/?q=carte+bloqu%C3%A9e"]),
    ]
    results = [run(live_server.url, page, cookies, clients=2, requests=6) for page in pages]
    for result in results:
        assert result.requests == 6
        assert result.errors == 0, (result.page, result.statuses)
        assert result.p50 <= result.p99
    assert "p99 ms" in table(results)
