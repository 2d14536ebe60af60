"""The inbox: views, filters, validation of the query string, pagination, query count."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guichet.conversations import services
from guichet.conversations.models import Conversation

pytestmark = pytest.mark.django_db


def numbers_in(body: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/c/(\d+)/" class="row-link"', body)}


def test_views_and_counts(ingest, agent, agent2, login) -> None:
    mine = ingest().conversation
    services.conversation_claim(actor=agent, conversation=mine)
    theirs = ingest().conversation
    services.conversation_claim(actor=agent2, conversation=theirs)
    free = ingest().conversation
    client = login(agent)

    response = client.get("/")
    assert response.status_code == 200
    assert numbers_in(response.content.decode()) == {mine.number}
    unassigned = client.get("/?view=unassigned").content.decode()
    assert numbers_in(unassigned) == {free.number}
    teams = client.get("/?view=teams").content.decode()
    assert numbers_in(teams) == {mine.number, theirs.number, free.number}
    assert re.search(r"Mine\s*<span class=\"count\">1</span>", teams)
    assert re.search(r"Unassigned\s*<span class=\"count\">1</span>", teams)
    assert re.search(r"My teams\s*<span class=\"count\">3</span>", teams)


def test_row_content(ingest, agent, login) -> None:
    conversation = ingest(
        subject="Carte avalée", sender="marie@example.org", sender_name="Marie Curie"
    ).conversation
    services.conversation_set_tags(actor=agent, conversation=conversation, names=["carte"])
    body = login(agent).get("/?view=teams").content.decode()
    assert "Carte avalée" in body and "Marie Curie" in body and "Cartes" in body
    assert '<span class="tag">carte</span>' in body
    assert "<time datetime=" in body


@pytest.mark.parametrize(
    "query",
    [
        "sort=drop_table",
        "status=weird",
        "priority=9",
        "priority=x",
        "channel=fax",
        "view=all",
        "view=nope",
        "page=0",
        "page=abc",
        "overdue=yes",
        "team=-1",
        "tag=" + "x" * 60,
    ],
)
def test_unknown_filter_values_are_400(ingest, agent, login, query: str) -> None:
    ingest()
    response = login(agent).get("/?" + query)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_all_view_for_supervisors(ingest, other_team, supervisor, login) -> None:
    ingest()
    assert login(supervisor).get("/?view=all").status_code == 200


def test_filters(ingest, agent, login) -> None:
    urgent = ingest(subject="urgent").conversation
    services.conversation_set_priority(actor=agent, conversation=urgent, priority=4)
    sms = ingest(subject="sms", channel="sms", sender_kind="phone", sender="+33612345678")
    tagged = ingest(subject="tagged").conversation
    services.conversation_set_tags(actor=agent, conversation=tagged, names=["Fraude"])
    snoozed = ingest(subject="snoozed").conversation
    services.conversation_snooze(
        actor=agent, conversation=snoozed, until=timezone.now() + timedelta(hours=2)
    )
    resolved = ingest(subject="resolved").conversation
    services.conversation_set_status(actor=agent, conversation=resolved, status="resolved")
    overdue = ingest(subject="late").conversation
    Conversation.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - timedelta(hours=1))
    client = login(agent)

    def shown(query: str) -> set[int]:
        response = client.get("/?view=teams&" + query)
        assert response.status_code == 200, response.content
        return numbers_in(response.content.decode())

    assert shown("priority=4") == {urgent.number}
    assert shown("channel=sms") == {sms.conversation.number}
    assert shown("tag=fraude") == {tagged.number}
    assert shown("snoozed=1") == {snoozed.number}
    assert snoozed.number not in shown("")
    assert shown("status=resolved") == {resolved.number}
    assert resolved.number not in shown("")
    assert resolved.number in shown("status=any")
    assert shown("overdue=1") == {overdue.number}
    assert shown("sort=-priority&priority=4") == {urgent.number}


def test_overdue_rows_highlighted(ingest, agent, login) -> None:
    late = ingest().conversation
    Conversation.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    body = login(agent).get("/?view=teams").content.decode()
    assert "is-overdue" in body


def test_pagination(ingest, agent, login, settings) -> None:
    settings.INBOX_PAGE_SIZE = 2
    created = {ingest().conversation.number for _ in range(5)}
    client = login(agent)
    seen: set[int] = set()
    for page in (1, 2, 3):
        body = client.get(f"/?view=teams&sort=created&page={page}").content.decode()
        seen |= numbers_in(body)
        assert "5 conversations" in body
    assert seen == created
    assert "Page 1 of 3" in client.get("/?view=teams").content.decode()
    assert 'rel="next"' in client.get("/?view=teams&page=2").content.decode()
    assert numbers_in(client.get("/?view=teams&page=9").content.decode()) == set()


def test_constant_number_of_queries(ingest, agent, login, settings) -> None:
    for index in range(55):
        conversation = ingest(sender=f"c{index}@example.org").conversation
        if index % 2:
            services.conversation_set_tags(
                actor=agent, conversation=conversation, names=["a", f"t{index}"]
            )
        if index % 3:
            services.conversation_claim(actor=agent, conversation=conversation)
    client = login(agent)
    client.get("/?view=teams")  # warm the session and caches

    def count(page_size: int) -> int:
        settings.INBOX_PAGE_SIZE = page_size
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/?view=teams")
        assert response.status_code == 200
        assert len(numbers_in(response.content.decode())) == page_size
        return len(queries)

    assert count(5) == count(50)
