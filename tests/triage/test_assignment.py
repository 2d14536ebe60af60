"""Assignment: named advisor, balance, round robin, skills, languages, capacity, offline, and
exactly one owner under concurrency (real threads, real transactions)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from guichet.accounts.models import Skill, User
from guichet.conversations.models import Conversation, Event
from guichet.conversations.services import conversation_claim
from guichet.core.exceptions import Conflict
from guichet.customers.models import Customer
from guichet.triage.assignment import conversation_auto_assign
from guichet.triage.models import Prediction, RoutingRule, TeamAssignment
from guichet.triage.services import agent_availability_set
from tests.triage.conftest import make_agent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model")]


def owner(result: Any) -> User | None:
    return Conversation.objects.get(pk=result.conversation.pk).assignee


def test_nobody_available_leaves_it_in_the_queue(ingest, agent):
    result = ingest(text="Bonjour, ma carte est bloquée.")
    assert owner(result) is None
    decision = Prediction.objects.get(conversation=result.conversation, kind="assignment")
    assert decision.abstained and "no available agent speaking fr" in decision.reasons


def test_balanced_picks_the_least_loaded(ingest, team):
    busy = make_agent("busy", team)
    free = make_agent("free", team)
    first = ingest(text="Bonjour, ma carte est bloquée.", sender="a@example.org")
    assert owner(first) in (busy, free)
    loads = Counter()
    for i in range(6):
        result = ingest(text=f"Bonjour, question numéro {i} sur mon compte.", sender=f"c{i}@x.org")
        loads[owner(result).username] += 1
    assert abs(loads["busy"] - loads["free"]) <= 1
    event = Event.objects.filter(conversation=first.conversation, verb="assigned").get()
    assert event.data["reason"] == "triage" and event.actor_name == "Triage"


def test_named_advisor_first(ingest, team):
    make_agent("other", team)
    advisor = make_agent("advisor", team)
    ingest(text="Bonjour, première demande.", sender="fidele@example.org")
    Conversation.objects.update(assignee=None, status="resolved")
    Customer.objects.filter(identities__value="fidele@example.org").update(advisor=advisor)
    result = ingest(text="Bonjour, une autre question sur mon prêt.", sender="fidele@example.org")
    assert owner(result) == advisor
    decision = Prediction.objects.get(conversation=result.conversation, kind="assignment")
    assert "named advisor" in decision.reasons


def test_unavailable_advisor_falls_back(ingest, team):
    colleague = make_agent("colleague", team)
    advisor = make_agent("advisor", team, available=False)
    ingest(text="Bonjour, première demande.", sender="fidele@example.org")
    Conversation.objects.update(assignee=None, status="resolved")
    Customer.objects.filter(identities__value="fidele@example.org").update(advisor=advisor)
    result = ingest(text="Bonjour, une autre question sur mon prêt.", sender="fidele@example.org")
    assert owner(result) == colleague
    decision = Prediction.objects.get(conversation=result.conversation, kind="assignment")
    assert "named advisor unavailable" in decision.reasons


def test_language_and_skill_and_capacity(ingest, team, english_team):
    english = make_agent("english", team, languages=["en", "fr"])
    make_agent("french", team, languages=["fr"])
    result = ingest(text="Hello, I was charged twice for the same purchase last week.")
    assert owner(result) == english

    credit = Skill.objects.create(name="Crédit")
    expert = make_agent("expert", english_team, languages=["fr"])
    make_agent("novice", english_team, languages=["fr"])
    expert.skills.add(credit)
    RoutingRule.objects.create(
        name="Prêts", signal="vulnerability", team=english_team, skill=credit
    )
    result = ingest(text="Je viens d'être licencié, je ne peux plus rembourser mon prêt.")
    assert owner(result) == expert

    User.objects.filter(pk=expert.pk).update(capacity=1)
    result = ingest(text="Je suis au chômage et je n'arrive plus à payer.", sender="z@x.org")
    assert owner(result) is None  # the only skilled agent is full: a person decides
    decision = Prediction.objects.filter(conversation=result.conversation, kind="assignment")
    assert "all at capacity" in decision.get().reasons


def test_round_robin_takes_turns(ingest, team):
    TeamAssignment.objects.create(team=team, mode=TeamAssignment.Mode.ROUND_ROBIN)
    agents = [make_agent(name, team) for name in ("ana", "ben", "cyd")]
    owners = [
        owner(ingest(text=f"Bonjour, demande {i} concernant mon compte.", sender=f"r{i}@x.org"))
        for i in range(6)
    ]
    assert owners[:3] == agents and owners[3:] == agents


def test_manual_mode_assigns_only_escalations(ingest, team):
    TeamAssignment.objects.create(team=team, mode=TeamAssignment.Mode.MANUAL)
    person = make_agent("person", team)
    plain = ingest(text="Bonjour, je voudrais un relevé d'identité bancaire.")
    assert owner(plain) is None
    urgent = ingest(text="Je veux parler à un conseiller, s'il vous plaît.", sender="b@x.org")
    assert owner(urgent) == person


def test_going_offline_hands_conversations_over(ingest, team):
    leaving = make_agent("leaving", team)
    result = ingest(text="Bonjour, ma carte est bloquée.")
    assert owner(result) == leaving
    staying = make_agent("staying", team)
    moved = agent_availability_set(agent=leaving, available=False)
    assert moved == 1
    assert owner(result) == staying
    decision = Prediction.objects.filter(conversation=result.conversation, kind="assignment")
    assert "why=offline" in decision.last().reasons


def test_going_offline_with_nobody_else_keeps_the_owner(ingest, team):
    alone = make_agent("alone", team)
    result = ingest(text="Bonjour, ma carte est bloquée.")
    assert agent_availability_set(agent=alone, available=False) == 0
    assert owner(result) == alone


# --- concurrency -------------------------------------------------------------------------------


def run_together(count: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(count)

    def call(i: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return work(i)
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


@pytest.mark.django_db(transaction=True)
def test_one_owner_when_claim_and_auto_assign_race(ingest, team, agent):
    TeamAssignment.objects.create(team=team, mode=TeamAssignment.Mode.MANUAL)
    make_agent("auto1", team)
    make_agent("auto2", team)
    for round_ in range(5):
        conversation = ingest(text=f"Bonjour, demande {round_}.", sender=f"k{round_}@x.org")
        pk = conversation.conversation.pk

        def work(i: int, pk: int = pk) -> Any:
            if i == 0:
                return conversation_claim(actor=agent, conversation=Conversation(pk=pk))
            return conversation_auto_assign(conversation_id=pk, force=True)

        results = run_together(4, work)
        assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)]
        fresh = Conversation.objects.get(pk=pk)
        assert fresh.assignee_id is not None
        owners = Event.objects.filter(conversation_id=pk, verb__in=["assigned", "claimed"])
        assert owners.count() == 1  # exactly one owner was ever written
        assert owners.get().data["to"] == fresh.assignee_id


@pytest.mark.django_db(transaction=True)
def test_parallel_auto_assignments_respect_capacity_and_balance(team):
    from guichet.conversations.services import message_ingest
    from guichet.conversations.types import InboundMessage

    agents = [make_agent(f"cap{i}", team, capacity=3) for i in range(3)]
    count = 12 if connection.vendor == "postgresql" else 8

    def work(i: int) -> Any:
        return message_ingest(
            InboundMessage(
                channel="email",
                sender_kind="email",
                sender_value=f"p{i}@example.org",
                text=f"Bonjour, ma carte est bloquée, demande {i}.",
                team_id=team.pk,
            )
        )

    results = run_together(count, work)
    assert not [r for r in results if isinstance(r, Exception)]
    loads = Counter(
        Conversation.objects.exclude(assignee=None).values_list("assignee__username", flat=True)
    )
    assert sum(loads.values()) == min(count, 9)
    assert all(loads[a.username] <= 3 for a in agents)
    assert max(loads.values()) - min(loads.values()) <= 1
