"""Conversation writers: workflow, claim, assignment, replies, tags, snooze, events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from guichet.accounts.models import User
from guichet.accounts.services import agent_create, team_create
from guichet.conversations import senders
from guichet.conversations.models import TRANSITIONS, Conversation, Event, Message, Priority, Status
from guichet.conversations.services import (
    conversation_assign,
    conversation_claim,
    conversation_note_add,
    conversation_open,
    conversation_reply,
    conversation_set_priority,
    conversation_set_status,
    conversation_set_tags,
    conversation_set_team,
    conversation_snooze,
)
from guichet.core.calendars import ALWAYS_OPEN
from guichet.core.exceptions import Conflict, InvalidInput, NotAllowed
from tests.conftest import make_calendar


@pytest.fixture(autouse=True)
def _messages_in_english():
    """The tests read error messages in English; the install default is French."""
    with translation.override("en"):
        yield


pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(ingest):
    return ingest(external_id="<m1@x>").conversation


@pytest.fixture
def capture_sender():
    sent: list[Message] = []
    previous = senders.sender_for("email")
    senders.register_sender("email", sent.append)
    yield sent
    if previous is None:
        senders._SENDERS.pop("email", None)
    else:
        senders.register_sender("email", previous)


def reload(conversation: Conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


# --- numbering ---------------------------------------------------------------------------------


def test_numbers_are_unique_and_increasing(ingest):
    numbers = [ingest().conversation.number for _ in range(5)]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 5


# --- status workflow ---------------------------------------------------------------------------


def test_the_whole_workflow(conversation, agent):
    for status in (
        Status.OPEN,
        Status.WAITING_CUSTOMER,
        Status.WAITING_THIRD_PARTY,
        Status.OPEN,
        Status.RESOLVED,
        Status.CLOSED,
    ):
        conversation = conversation_set_status(
            actor=agent, conversation=conversation, status=status
        )
        assert reload(conversation).status == status
    conversation = reload(conversation)
    assert conversation.resolved_at is not None and conversation.closed_at is not None
    assert conversation.due_at is None
    changes = list(conversation.events.filter(verb="status.changed").values_list("data", flat=True))
    assert [c["to"] for c in changes] == [
        "open",
        "waiting_customer",
        "waiting_third_party",
        "open",
        "resolved",
        "closed",
    ]


@pytest.mark.parametrize(
    ("start_path", "refused"),
    [
        ([], Status.CLOSED),  # new -> closed
        ([Status.OPEN], Status.NEW),
        ([Status.OPEN], Status.CLOSED),
        ([Status.RESOLVED, Status.CLOSED], Status.OPEN),
        ([Status.RESOLVED, Status.CLOSED], Status.RESOLVED),
        ([Status.RESOLVED], Status.WAITING_CUSTOMER),
    ],
)
def test_invalid_transitions_are_refused(conversation, agent, start_path, refused):
    for status in start_path:
        conversation_set_status(actor=agent, conversation=conversation, status=status)
    before = reload(conversation).status
    count = Event.objects.count()
    with pytest.raises(InvalidInput, match="cannot go from"):
        conversation_set_status(actor=agent, conversation=conversation, status=refused)
    assert reload(conversation).status == before
    assert Event.objects.count() == count


def test_no_transition_leaves_closed_and_none_goes_back_to_new():
    assert TRANSITIONS[Status.CLOSED] == set()
    assert all(Status.NEW not in targets for targets in TRANSITIONS.values())


def test_unknown_status_is_refused(conversation, agent):
    with pytest.raises(InvalidInput):
        conversation_set_status(actor=agent, conversation=conversation, status="archived")


def test_reopening_a_resolved_conversation_clears_resolved_at(conversation, agent):
    conversation_set_status(actor=agent, conversation=conversation, status=Status.RESOLVED)
    conversation_set_status(actor=agent, conversation=conversation, status=Status.OPEN)
    assert reload(conversation).resolved_at is None


def test_status_failure_after_the_change_writes_nothing(conversation, agent, monkeypatch):
    from guichet.conversations import services

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "event_record", broken)
    with pytest.raises(RuntimeError):
        conversation_set_status(actor=agent, conversation=conversation, status=Status.RESOLVED)
    assert reload(conversation).status == Status.NEW
    with pytest.raises(RuntimeError):
        conversation_claim(actor=agent, conversation=conversation)
    assert reload(conversation).assignee is None
    with pytest.raises(RuntimeError):
        conversation_reply(actor=agent, conversation=conversation, text="Bonjour")
    assert not conversation.messages.filter(direction=Message.Direction.OUTBOUND).exists()
    assert reload(conversation).first_human_response_at is None
    with pytest.raises(RuntimeError):
        conversation_set_tags(actor=agent, conversation=conversation, names=["carte"])
    assert not reload(conversation).tags.exists()
    with pytest.raises(RuntimeError):
        conversation_set_priority(actor=agent, conversation=conversation, priority=Priority.URGENT)
    assert reload(conversation).priority == Priority.NORMAL


# --- claim and assignment ----------------------------------------------------------------------


def test_claim_then_the_loser_is_told_who_won(conversation, agent, agent2):
    claimed = conversation_claim(actor=agent, conversation=conversation)
    assert claimed.assignee == agent
    with pytest.raises(Conflict, match="Alice Martin"):
        conversation_claim(actor=agent2, conversation=conversation)
    assert reload(conversation).assignee == agent
    assert conversation_claim(actor=agent, conversation=conversation).assignee == agent  # again
    assert Event.objects.filter(verb="claimed").count() == 1


def test_assign_only_to_a_member_of_the_team_or_an_admin(
    conversation, supervisor, agent2, outsider, admin_user
):
    with pytest.raises(InvalidInput, match="not a member"):
        conversation_assign(actor=supervisor, conversation=conversation, assignee=outsider)
    assert reload(conversation).assignee is None
    conversation_assign(actor=supervisor, conversation=conversation, assignee=agent2)
    assert reload(conversation).assignee == agent2
    conversation_assign(actor=supervisor, conversation=conversation, assignee=admin_user)
    assert reload(conversation).assignee == admin_user
    conversation_assign(actor=supervisor, conversation=conversation, assignee=None)
    assert reload(conversation).assignee is None
    verbs = list(
        conversation.events.filter(verb__in=["assigned", "unassigned"]).values_list(
            "verb", flat=True
        )
    )
    assert verbs == ["assigned", "assigned", "unassigned"]


def test_assign_to_an_inactive_agent_is_refused(conversation, supervisor, agent2):
    agent2.is_active = False
    agent2.save()
    with pytest.raises(InvalidInput, match="not active"):
        conversation_assign(actor=supervisor, conversation=conversation, assignee=agent2)


def test_assign_without_team_only_to_admins(ingest, supervisor, agent, admin_user):
    conversation = ingest().conversation
    Conversation.objects.filter(pk=conversation.pk).update(team=None)
    with pytest.raises(NotAllowed):  # a conversation without a team is the admins' to handle
        conversation_assign(actor=supervisor, conversation=conversation, assignee=admin_user)
    with pytest.raises(InvalidInput):
        conversation_assign(actor=admin_user, conversation=conversation, assignee=agent)
    conversation_assign(actor=admin_user, conversation=conversation, assignee=admin_user)
    assert reload(conversation).assignee == admin_user


# --- replies and notes -------------------------------------------------------------------------


def test_reply_records_first_response_opens_and_assigns(
    conversation, agent, capture_sender, django_capture_on_commit_callbacks
):
    assert reload(conversation).first_human_response_at is None
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = conversation_reply(actor=agent, conversation=conversation, text="  Bonjour  ")
    # Handed to the channel inside the reply's transaction, for its outbox row to be committed
    # with the reply; the sending is the sender's to leave to after commit (this one has none).
    assert capture_sender == [message]
    assert callbacks == []
    assert message.text == "Bonjour"
    assert message.delivery_status == Message.DeliveryStatus.QUEUED
    conversation = reload(conversation)
    assert conversation.status == Status.OPEN
    assert conversation.assignee == agent
    assert conversation.first_human_response_at is not None
    assert conversation.next_response_due is None
    assert conversation.due_at == conversation.resolution_due  # first response met: no longer due
    verbs = list(conversation.events.values_list("verb", flat=True))
    assert verbs[-2:] == ["assigned", "message.sent"]


def test_second_reply_keeps_the_first_response_time_and_the_assignee(conversation, agent, agent2):
    conversation_reply(actor=agent, conversation=conversation, text="Un")
    first_at = reload(conversation).first_human_response_at
    conversation_reply(actor=agent2, conversation=conversation, text="Deux")
    conversation = reload(conversation)
    assert conversation.first_human_response_at == first_at
    assert conversation.assignee == agent


def test_reply_without_sender_is_refused_and_not_stored(ingest, agent):
    # A counter visitor known only by a chat id: nothing can carry a written reply.
    conversation = ingest(channel="counter", sender_kind="chat", sender="visit-1").conversation
    with pytest.raises(InvalidInput, match="came in at the counter"):
        conversation_reply(actor=agent, conversation=conversation, text="Vu au guichet")
    conversation = reload(conversation)
    assert conversation.first_human_response_at is None
    assert not conversation.messages.filter(direction=Message.Direction.OUTBOUND).exists()


def test_reply_refused_when_empty_or_closed(conversation, agent):
    with pytest.raises(InvalidInput):
        conversation_reply(actor=agent, conversation=conversation, text=" \x00 ")
    stale = reload(conversation)
    conversation_set_status(actor=agent, conversation=conversation, status=Status.RESOLVED)
    conversation_set_status(actor=agent, conversation=conversation, status=Status.CLOSED)
    with pytest.raises(InvalidInput, match="closed"):
        conversation_reply(actor=agent, conversation=stale, text="Trop tard")  # stale copy: NEW
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_note_is_internal_and_changes_no_due_time(
    conversation, agent, capture_sender, django_capture_on_commit_callbacks
):
    before = reload(conversation)
    with django_capture_on_commit_callbacks(execute=True):
        note = conversation_note_add(actor=agent, conversation=conversation, text="À rappeler")
    assert note.direction == Message.Direction.NOTE
    assert capture_sender == []
    after = reload(conversation)
    assert after.first_human_response_at is None
    assert after.due_at == before.due_at
    assert Event.objects.filter(verb="note.added", data__message_id=note.pk).exists()


# --- opening on behalf -------------------------------------------------------------------------


def test_open_on_behalf_of_a_customer(agent, team):
    conversation = conversation_open(
        actor=agent,
        channel="phone",
        customer_kind="phone",
        customer_value="06 12 34 56 78",
        customer_name="M. Bernard\x00",
        subject="",
        text="Appel : carte avalée",
        team=team,
        priority=Priority.HIGH,
    )
    assert conversation.customer.identities.get().value == "+33612345678"
    assert conversation.customer.display_name == "M. Bernard"
    assert conversation.subject == "Appel : carte avalée"
    assert conversation.priority == Priority.HIGH
    message = conversation.messages.get()
    assert message.direction == Message.Direction.INBOUND and message.author_agent == agent
    assert conversation.first_human_response_due is not None


def test_open_on_behalf_is_checked(agent, other_team):
    with pytest.raises(NotAllowed):
        conversation_open(
            actor=agent,
            channel="phone",
            customer_kind="phone",
            customer_value="0612345678",
            customer_name="",
            subject="",
            text="x",
            team=other_team,
        )
    with pytest.raises(InvalidInput):
        conversation_open(
            actor=agent,
            channel="fax",
            customer_kind="phone",
            customer_value="0612345678",
            customer_name="",
            subject="",
            text="x",
            team=None,
        )
    with pytest.raises(InvalidInput):
        conversation_open(
            actor=agent,
            channel="phone",
            customer_kind="phone",
            customer_value="0612345678",
            customer_name="",
            subject="",
            text="  ",
            team=None,
        )
    assert not Conversation.objects.exists()


# --- priority, team, tags, snooze -------------------------------------------------------------


def test_priority(conversation, agent):
    conversation_set_priority(actor=agent, conversation=conversation, priority=Priority.URGENT)
    assert reload(conversation).priority == Priority.URGENT
    with pytest.raises(InvalidInput):
        conversation_set_priority(actor=agent, conversation=conversation, priority=9)
    assert Event.objects.filter(verb="priority.changed").count() == 1


def test_moving_team_unassigns_a_non_member_and_recomputes_pending_next_response(
    conversation, agent, supervisor
):
    conversation_reply(actor=agent, conversation=conversation, text="Bonjour")
    conversation.refresh_from_db()
    # The customer writes back: a next response becomes due in the office calendar.
    from guichet.conversations.services import message_ingest
    from guichet.conversations.types import InboundMessage

    message_ingest(
        InboundMessage(
            channel="email",
            sender_kind="email",
            sender_value="client@example.org",
            text="Merci, mais…",
            in_reply_to=("<m1@x>",),
        )
    )
    conversation.refresh_from_db()
    assert conversation.next_response_due is not None
    last_inbound = conversation.messages.filter(direction=Message.Direction.INBOUND).last()
    night = team_create(name="Nuit", slug="nuit", calendar=make_calendar("24/7", ALWAYS_OPEN))
    night.next_response_minutes = 15
    night.save()
    moved = conversation_set_team(actor=supervisor, conversation=conversation, team=night)
    moved = reload(moved)
    assert moved.assignee is None  # Alice is not in the night team
    assert moved.next_response_due == last_inbound.created_at + timedelta(minutes=15)
    assert moved.due_at == moved.next_response_due
    # The first response was already given: its due time is history and stays.
    assert moved.first_human_response_due == conversation.first_human_response_due
    event = moved.events.get(verb="team.changed")
    assert event.data["unassigned"] == agent.pk


def test_tags_are_normalised_and_bounded(conversation, agent):
    conversation_set_tags(
        actor=agent, conversation=conversation, names=["Carte", "carte ", "  ", "\x00", "Fraude"]
    )
    assert sorted(reload(conversation).tags.values_list("name", flat=True)) == ["carte", "fraude"]
    conversation_set_tags(actor=agent, conversation=conversation, names=["fraude", "CARTE"])
    assert Event.objects.filter(verb="tags.changed").count() == 1  # unchanged set: no event
    with pytest.raises(InvalidInput):
        conversation_set_tags(
            actor=agent, conversation=conversation, names=[f"t{i}" for i in range(21)]
        )
    conversation_set_tags(actor=agent, conversation=conversation, names=[])
    assert not reload(conversation).tags.exists()


def test_snooze(conversation, agent):
    until = timezone.now() + timedelta(hours=3)
    conversation_snooze(actor=agent, conversation=conversation, until=until)
    assert reload(conversation).snoozed_until == until
    with pytest.raises(InvalidInput):
        conversation_snooze(
            actor=agent, conversation=conversation, until=timezone.now() - timedelta(minutes=1)
        )
    conversation_snooze(actor=agent, conversation=conversation, until=None)
    assert reload(conversation).snoozed_until is None
    assert list(
        Event.objects.filter(verb__in=["snoozed", "unsnoozed"]).values_list("verb", flat=True)
    ) == ["snoozed", "unsnoozed"]


def test_every_change_has_its_event(conversation, agent, agent2, supervisor):
    conversation_claim(actor=agent, conversation=conversation)
    conversation_assign(actor=supervisor, conversation=conversation, assignee=agent2)
    conversation_set_priority(actor=agent, conversation=conversation, priority=Priority.HIGH)
    conversation_set_tags(actor=agent, conversation=conversation, names=["carte"])
    conversation_note_add(actor=agent, conversation=conversation, text="note")
    conversation_reply(actor=agent, conversation=conversation, text="réponse")
    conversation_set_status(actor=agent, conversation=conversation, status=Status.RESOLVED)
    verbs = list(reload(conversation).events.values_list("verb", flat=True))
    assert verbs == [
        "conversation.created",
        "message.received",
        "triage.decided",  # the triage ingest hook's decisions
        "claimed",
        "assigned",
        "priority.changed",
        "tags.changed",
        "note.added",
        "status.changed",
        "message.sent",
        "status.changed",
    ]
    assert all(e.actor_id for e in Event.objects.filter(verb__in=["claimed", "assigned"]))


def test_agent_roles_skills_languages_and_capacity(team):
    user = agent_create(
        username="yann",
        password=None,
        role=User.Role.SUPERVISOR,
        teams=[team],
        languages=["fr", "br"],
        capacity=8,
    )
    assert user.role == User.Role.SUPERVISOR and not user.is_superuser
    assert user.languages == ["fr", "br"] and user.capacity == 8
    assert not user.has_usable_password()
    admin = agent_create(username="adm", password="x" * 20, role=User.Role.ADMIN)
    assert admin.is_superuser and admin.is_staff


def test_no_verb_works_on_a_conversation_of_another_team(conversation, outsider):
    """RELIABILITY A02: the services check visibility too, not only the views."""
    until = timezone.now() + timedelta(hours=1)
    attempts = [
        lambda: conversation_claim(actor=outsider, conversation=conversation),
        lambda: conversation_assign(actor=outsider, conversation=conversation, assignee=outsider),
        lambda: conversation_reply(actor=outsider, conversation=conversation, text="x"),
        lambda: conversation_note_add(actor=outsider, conversation=conversation, text="x"),
        lambda: conversation_set_status(
            actor=outsider, conversation=conversation, status=Status.RESOLVED
        ),
        lambda: conversation_set_priority(
            actor=outsider, conversation=conversation, priority=Priority.URGENT
        ),
        lambda: conversation_set_team(
            actor=outsider, conversation=conversation, team=outsider.teams.get()
        ),
        lambda: conversation_set_tags(actor=outsider, conversation=conversation, names=["x"]),
        lambda: conversation_snooze(actor=outsider, conversation=conversation, until=until),
    ]
    events = Event.objects.count()
    for attempt in attempts:
        with pytest.raises(NotAllowed):
            attempt()
    after = reload(conversation)
    assert (after.assignee, after.status, after.priority, after.team_id, after.snoozed_until) == (
        None,
        Status.NEW,
        Priority.NORMAL,
        conversation.team_id,
        None,
    )
    assert not after.tags.exists() and after.messages.count() == 1
    assert Event.objects.count() == events


def test_inactive_user_can_do_nothing(conversation, agent):
    agent.is_active = False
    agent.save()
    with pytest.raises(NotAllowed):
        conversation_claim(actor=agent, conversation=conversation)
    with pytest.raises(NotAllowed):
        conversation_reply(actor=agent, conversation=conversation, text="x")


def test_agents_hand_over_but_only_supervisors_take_from_a_colleague(
    conversation, agent, agent2, supervisor
):
    conversation_assign(actor=agent, conversation=conversation, assignee=agent2)
    assert Conversation.objects.get(pk=conversation.pk).assignee == agent2
    with pytest.raises(NotAllowed):
        conversation_assign(actor=agent, conversation=conversation, assignee=agent)
    with pytest.raises(NotAllowed):
        conversation_assign(actor=agent, conversation=conversation, assignee=None)
    conversation_assign(actor=supervisor, conversation=conversation, assignee=agent)
    assert Conversation.objects.get(pk=conversation.pk).assignee == agent


def test_replies_recorded_while_senders_are_suspended_are_not_sent(
    conversation, agent, capture_sender, django_capture_on_commit_callbacks
):
    with senders.senders_suspended(), django_capture_on_commit_callbacks(execute=True):
        message = conversation_reply(actor=agent, conversation=conversation, text="Historique")
    assert capture_sender == []
    assert message.delivery_status == Message.DeliveryStatus.NONE
    assert senders.sender_for("email") is not None  # restored afterwards


def test_delivery_status_is_set_on_outbound_messages_only(conversation, agent):
    from guichet.conversations.services import message_delivery_status_set

    reply = conversation_reply(actor=agent, conversation=conversation, text="Bonjour")
    inbound = conversation.messages.get(direction=Message.Direction.INBOUND)
    assert message_delivery_status_set(message_id=reply.pk, status="failed") == 1
    assert message_delivery_status_set(message_id=inbound.pk, status="failed") == 0
    with pytest.raises(InvalidInput):
        message_delivery_status_set(message_id=reply.pk, status="lost")
    reply.refresh_from_db()
    inbound.refresh_from_db()
    assert (reply.delivery_status, inbound.delivery_status) == ("failed", "")
