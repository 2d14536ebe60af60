"""Selectors scoped by the permission policy (RELIABILITY A01, A02): every reader x every role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from guichet.accounts.models import User
from guichet.accounts.selectors import assignable_agents, team_list_for
from guichet.accounts.services import agent_create
from guichet.conversations.models import Attachment, Conversation, Status
from guichet.conversations.selectors import (
    InboxFilters,
    InvalidFilter,
    attachment_get,
    available_views,
    conversation_get,
    conversation_timeline,
    customer_conversations,
    customer_get,
    inbox_counts,
    inbox_page,
)
from guichet.conversations.services import (
    conversation_assign,
    conversation_claim,
    conversation_set_status,
    conversation_snooze,
)
from guichet.conversations.types import InboundAttachment
from guichet.customers.services import customer_create, customer_update


@pytest.fixture(autouse=True)
def _messages_in_english():
    """The tests read error messages in English; the install default is French."""
    with translation.override("en"):
        yield


pytestmark = pytest.mark.django_db


@pytest.fixture
def world(ingest, team, other_team, agent, agent2, outsider, supervisor, admin_user):
    """Conversations in two teams, with an attachment each, and a few special cases."""
    attach = (InboundAttachment("releve.pdf", b"%PDF-1.4\n"),)
    mine = ingest(sender="a@example.org", subject="Carte A", attachments=attach).conversation
    conversation_claim(actor=agent, conversation=mine)
    unassigned = ingest(sender="b@example.org", subject="Carte B").conversation
    theirs = ingest(
        sender="secret@example.org",
        subject="Crédit secret",
        team_id=other_team.pk,
        attachments=attach,
    ).conversation
    # In the other team but handed to Alice by an admin: she sees it (assigned to her).
    handed = ingest(
        sender="c@example.org", subject="Crédit confié", team_id=other_team.pk
    ).conversation
    agent.teams.add(other_team)
    conversation_assign(actor=admin_user, conversation=handed, assignee=agent)
    agent.teams.remove(other_team)
    inactive = agent_create(username="ghost", password=None, teams=[team])
    inactive.is_active = False
    inactive.save()
    advised = customer_create(display_name="Conseillé", identities=[("email", "z@example.org")])
    customer_update(customer=advised, advisor=agent)
    return {
        "mine": mine,
        "unassigned": unassigned,
        "theirs": theirs,
        "handed": handed,
        "inactive": inactive,
        "advised": advised,
    }


def _numbers(conversations) -> set[int]:
    return {c.number for c in conversations}


def _user(name, world, agent, supervisor, outsider, admin_user) -> User:
    return {
        "agent": agent,
        "supervisor": supervisor,
        "outsider": outsider,
        "admin": admin_user,
        "inactive": world["inactive"],
    }[name]


# Which conversations each role may see.
EXPECTED = {
    "agent": {"mine", "unassigned", "handed"},
    "supervisor": {"mine", "unassigned"},
    "outsider": {"theirs", "handed"},
    "admin": {"mine", "unassigned", "theirs", "handed"},
    "inactive": set(),
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_conversation_get_matrix(world, role, agent, supervisor, outsider, admin_user):
    user = _user(role, world, agent, supervisor, outsider, admin_user)
    for key in ("mine", "unassigned", "theirs", "handed"):
        number = world[key].number
        if key in EXPECTED[role]:
            assert conversation_get(user=user, number=number).number == number
        else:
            with pytest.raises(Conversation.DoesNotExist):
                conversation_get(user=user, number=number)


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_inbox_and_counts_never_leak(world, role, agent, supervisor, outsider, admin_user):
    user = _user(role, world, agent, supervisor, outsider, admin_user)
    seen: set[int] = set()
    for view in available_views(user):
        rows, total = inbox_page(
            user=user, filters=InboxFilters(view=view, status="any"), page=1, page_size=50
        )
        assert total == len(rows)
        seen |= _numbers(rows)
    expected = {world[key].number for key in EXPECTED[role]}
    assert seen <= expected
    counts = inbox_counts(user=user)
    for view, count in counts.items():
        assert count <= len(expected), view
    if role == "admin":
        assert counts["all"] == 4
    if role == "inactive":
        assert set(counts.values()) == {0}


def test_inbox_views_for_an_agent(world, agent):
    def numbers(view):
        rows, _total = inbox_page(user=agent, filters=InboxFilters(view=view), page=1, page_size=50)
        return _numbers(rows)

    assert numbers("mine") == {world["mine"].number, world["handed"].number}
    assert numbers("unassigned") == {world["unassigned"].number}
    assert numbers("teams") == {world["mine"].number, world["unassigned"].number}
    with pytest.raises(InvalidFilter):
        numbers("all")  # only supervisors have the "all" view
    assert inbox_counts(user=agent) == {"mine": 2, "unassigned": 1, "teams": 2, "overdue": 0}


def test_supervisor_all_view_is_their_teams_only(world, supervisor):
    rows, _total = inbox_page(
        user=supervisor, filters=InboxFilters(view="all"), page=1, page_size=50
    )
    assert _numbers(rows) == {world["mine"].number, world["unassigned"].number}
    assert inbox_counts(user=supervisor)["all"] == 2


@pytest.mark.parametrize(
    "filters",
    [
        InboxFilters(sort="number; DROP TABLE"),
        InboxFilters(view="everything"),
        InboxFilters(status="archived"),
        InboxFilters(view="all"),
    ],
)
def test_unknown_filters_raise(world, agent, filters):
    with pytest.raises(InvalidFilter):
        inbox_page(user=agent, filters=filters, page=1, page_size=10)


def test_inbox_filters_and_paging(world, agent, admin_user):
    conversation_set_status(actor=agent, conversation=world["unassigned"], status=Status.RESOLVED)
    rows, total = inbox_page(user=agent, filters=InboxFilters(view="teams"), page=1, page_size=50)
    assert _numbers(rows) == {world["mine"].number}  # resolved leaves the active inbox
    rows, _ = inbox_page(
        user=agent, filters=InboxFilters(view="teams", status="resolved"), page=1, page_size=50
    )
    assert _numbers(rows) == {world["unassigned"].number}
    conversation_snooze(
        actor=agent, conversation=world["mine"], until=timezone.now() + timedelta(hours=1)
    )
    rows, _ = inbox_page(user=agent, filters=InboxFilters(view="mine"), page=1, page_size=50)
    assert _numbers(rows) == {world["handed"].number}
    rows, _ = inbox_page(
        user=agent, filters=InboxFilters(view="mine", snoozed=True), page=1, page_size=50
    )
    assert _numbers(rows) == {world["mine"].number}
    assert inbox_counts(user=agent)["mine"] == 1
    # Paging: two pages of one.
    filters = InboxFilters(view="all", status="any", sort="created")
    first, total = inbox_page(user=admin_user, filters=filters, page=1, page_size=1)
    second, _ = inbox_page(user=admin_user, filters=filters, page=2, page_size=1)
    assert total == 3  # four, less the snoozed one
    assert len(first) == len(second) == 1 and first[0].pk != second[0].pk


def test_overdue_count(world, agent):
    Conversation.objects.filter(pk=world["mine"].pk).update(
        due_at=timezone.now() - timedelta(minutes=1)
    )
    Conversation.objects.filter(pk=world["theirs"].pk).update(
        due_at=timezone.now() - timedelta(minutes=1)
    )
    assert inbox_counts(user=agent)["overdue"] == 1  # not the other team's
    rows, _ = inbox_page(
        user=agent, filters=InboxFilters(view="teams", overdue=True), page=1, page_size=50
    )
    assert _numbers(rows) == {world["mine"].number}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_customer_get_and_their_conversations(world, role, agent, supervisor, outsider, admin_user):
    user = _user(role, world, agent, supervisor, outsider, admin_user)
    secret = world["theirs"].customer
    mine = world["mine"].customer
    advised = world["advised"]
    visible = {
        "agent": {mine, advised},
        "supervisor": {mine},
        "outsider": {secret},
        "admin": {mine, secret, advised},
        "inactive": set(),
    }[role]
    for customer in (mine, secret, advised):
        if customer in visible:
            assert customer_get(user=user, customer_id=customer.pk) == customer
        else:
            with pytest.raises(type(customer).DoesNotExist):
                customer_get(user=user, customer_id=customer.pk)
    # A customer's conversations in another team stay hidden even when the customer is visible.
    shared = world["mine"].customer
    other = world["theirs"]
    Conversation.objects.filter(pk=other.pk).update(customer=shared)
    numbers = _numbers(customer_conversations(user=user, customer=shared))
    if role in {"agent", "supervisor"}:
        assert numbers == {world["mine"].number}
    elif role == "admin":
        assert numbers == {world["mine"].number, other.number}
    elif role == "outsider":
        assert numbers == {other.number}
    else:
        assert numbers == set()


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_attachment_get(world, role, agent, supervisor, outsider, admin_user):
    user = _user(role, world, agent, supervisor, outsider, admin_user)
    ours = Attachment.objects.get(message__conversation=world["mine"])
    theirs = Attachment.objects.get(message__conversation=world["theirs"])
    for attachment, key in ((ours, "mine"), (theirs, "theirs")):
        if key in EXPECTED[role]:
            assert attachment_get(user=user, attachment_id=attachment.pk) == attachment
        else:
            with pytest.raises(Attachment.DoesNotExist):
                attachment_get(user=user, attachment_id=attachment.pk)


def test_timeline_lists_messages_and_events_in_order(world, agent):
    items = conversation_timeline(conversation=world["mine"])
    kinds = [
        (item.kind, item.event.verb if item.event else item.message.direction) for item in items
    ]
    assert kinds == [
        ("event", "conversation.created"),
        ("message", "inbound"),
        ("event", "triage.decided"),
        ("event", "claimed"),
    ]
    assert [item.at for item in items] == sorted(item.at for item in items)


def test_account_selectors(world, team, other_team, agent, agent2, supervisor, admin_user):
    assert list(team_list_for(user=agent)) == [team]
    assert set(team_list_for(user=admin_user)) == {team, other_team}
    assignable = set(assignable_agents(user=agent))
    assert {agent, agent2, supervisor} <= assignable
    assert world["inactive"] not in assignable
    assert all(
        other_team not in set(u.teams.all()) or team in set(u.teams.all()) for u in assignable
    )
