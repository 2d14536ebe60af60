"""SLA: clocks paused while waiting on the customer; the at-risk sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from guichet.accounts.models import User
from guichet.conversations import sla
from guichet.conversations.models import Conversation, Event, Priority, Status
from guichet.conversations.services import conversation_reply, conversation_set_status
from guichet.triage.models import SlaAlert
from guichet.triage.services import sla_sweep
from guichet.triage.tasks import sla_sweep_task
from tests.triage.conftest import make_agent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model")]


def test_pause_and_resume_shift_due_times_by_business_time(ingest, team):
    conversation = Conversation.objects.get(pk=ingest().conversation.pk)
    conversation.team = team
    # Monday 10:00 Paris (09:00 UTC), paused until Tuesday 10:00 Paris: 6 h 30 on Monday and 1 h
    # on Tuesday of business time (office hours 9:00-12:30 and 13:30-17:30).
    paused_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    resumed_at = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    due = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday 16:00 Paris
    conversation.resolution_due = due
    assert sla.pause(conversation, paused_at) == ["sla_paused_at"]
    assert sla.pause(conversation, resumed_at) == []  # already paused: the start stays
    fields = sla.resume(conversation, resumed_at)
    assert "resolution_due" in fields and conversation.sla_paused_at is None
    # 16:00 Monday + 7 h 30 = 1 h 30 on Monday, then 3 h 30 + 2 h 30 on Tuesday → 16:00 Paris
    assert conversation.resolution_due == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


def test_waiting_on_customer_pauses_and_their_reply_resumes(ingest, agent):
    result = ingest(text="Bonjour, il me manque un document.", external_id="s1")
    conversation = result.conversation
    conversation_reply(actor=agent, conversation=conversation, text="Pouvez-vous l'envoyer ?")
    conversation_set_status(actor=agent, conversation=conversation, status=Status.WAITING_CUSTOMER)
    paused = Conversation.objects.get(pk=conversation.pk)
    assert paused.sla_paused_at is not None and paused.due_at is None
    before = paused.resolution_due
    earlier = paused.sla_paused_at - timedelta(days=2)
    Conversation.objects.filter(pk=conversation.pk).update(sla_paused_at=earlier)
    ingest(text="Voici le document.", external_id="s2", conversation_number=conversation.number)
    resumed = Conversation.objects.get(pk=conversation.pk)
    assert resumed.status == Status.OPEN and resumed.sla_paused_at is None
    assert resumed.resolution_due > before  # moved later by the business time paused
    assert resumed.due_at is not None


def test_sweep_raises_priority_notifies_and_assigns_once(
    ingest, team, supervisor, settings, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=supervisor.pk).update(email="sophie@banque.test")
    settings.SLA_AT_RISK_MINUTES = 30
    result = ingest(text="Bonjour, ma carte est bloquée.")
    soon = timezone.now() + timedelta(minutes=10)
    Conversation.objects.filter(pk=result.conversation.pk).update(
        due_at=soon, first_human_response_due=soon
    )
    helper = make_agent("helper", team)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = sla_sweep()
    assert outcome.at_risk == 1 and outcome.reassigned == 1 and outcome.notified == 1
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.priority == Priority.HIGH
    assert conversation.assignee == helper
    assert conversation.sla_at_risk
    event = Event.objects.get(conversation=conversation, verb="sla.at_risk")
    assert event.data["notified"] == [supervisor.pk] and event.data["overdue"] is False
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["sophie@banque.test"]
    assert f"#{conversation.number}" in mail.outbox[0].subject

    again = sla_sweep()  # the same due time is reported once
    assert again.at_risk == 0 and SlaAlert.objects.count() == 1
    assert Conversation.objects.get(pk=conversation.pk).priority == Priority.HIGH


def test_sweep_ignores_what_is_far_or_waiting(ingest, settings):
    settings.SLA_AT_RISK_MINUTES = 30
    far = ingest(text="Bonjour, question sans urgence.", sender="far@x.org")
    Conversation.objects.filter(pk=far.conversation.pk).update(
        due_at=timezone.now() + timedelta(hours=5)
    )
    waiting = ingest(text="Bonjour, autre question.", sender="wait@x.org")
    Conversation.objects.filter(pk=waiting.conversation.pk).update(
        due_at=None, status=Status.WAITING_CUSTOMER
    )
    assert sla_sweep().at_risk == 0


def test_overdue_at_urgent_stays_urgent_and_reassigns_away_owner(ingest, team, settings):
    away = make_agent("away", team)
    result = ingest(text="Bonjour, ma carte est bloquée.")
    assert Conversation.objects.get(pk=result.conversation.pk).assignee == away
    User.objects.filter(pk=away.pk).update(available=False)
    present = make_agent("present", team)
    past = timezone.now() - timedelta(minutes=5)
    Conversation.objects.filter(pk=result.conversation.pk).update(
        due_at=past, priority=Priority.URGENT
    )
    outcome = sla_sweep()
    assert outcome.at_risk == 1 and outcome.reassigned == 1
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.priority == Priority.URGENT and conversation.assignee == present
    assert Event.objects.get(conversation=conversation, verb="sla.at_risk").data["overdue"]


def test_command_and_task(ingest, capsys):
    result = ingest()
    Conversation.objects.filter(pk=result.conversation.pk).update(due_at=timezone.now())
    call_command("sla_sweep")
    assert "at risk: 1" in capsys.readouterr().out
    Conversation.objects.filter(pk=result.conversation.pk).update(
        due_at=timezone.now() + timedelta(minutes=1)
    )
    assert sla_sweep_task.enqueue().return_value == 1
