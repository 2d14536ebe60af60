"""Pages: routing rules for supervisors, one-click corrections, availability, timeline, inbox."""
# ruff: noqa: RUF001  (French texts use the typographic apostrophe)

from __future__ import annotations

import pytest
from django.urls import reverse

from guichet.accounts.models import User
from guichet.conversations.models import Conversation, Event
from guichet.triage.models import Prediction, RoutingRule, TeamAssignment, TrainingExample
from guichet.triage.selectors import training_examples

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model")]


def test_agents_cannot_see_or_change_routing(login, agent, team):
    client = login(agent)
    assert client.get(reverse("triage_routing")).status_code == 403
    response = client.post(reverse("triage_routing"), {"name": "x", "team": team.pk})
    assert response.status_code == 403
    assert not RoutingRule.objects.exists()


def test_supervisor_adds_edits_moves_and_deletes_rules(login, supervisor, team, other_team):
    client = login(supervisor)
    page = client.get(reverse("triage_routing"))
    assert page.status_code == 200 and "No rules yet" in page.content.decode()
    for name, language in (("English", "EN"), ("French", "fr")):
        response = client.post(
            reverse("triage_routing"),
            {"name": name, "position": 100, "enabled": "on", "language": language,
             "team": other_team.pk},
        )  # fmt: skip
        assert response.status_code == 302
    english, french = RoutingRule.objects.order_by("id")
    assert english.language == "en"  # normalised
    client.post(reverse("triage_rule_action", args=[french.pk]), {"action": "up"})
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["French", "English"]
    response = client.post(
        reverse("triage_rule_edit", args=[english.pk]),
        {"name": "English speakers", "position": 5, "language": "en", "team": team.pk},
    )
    assert response.status_code == 302
    english.refresh_from_db()
    assert english.name == "English speakers" and english.team == team and not english.enabled
    client.post(reverse("triage_rule_action", args=[french.pk]), {"action": "delete"})
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["English speakers"]
    html = client.get(reverse("triage_routing")).content.decode()
    assert ">English speakers</a>" in html and ">French</a>" not in html


def test_bad_rule_is_refused_without_storing(login, supervisor):
    client = login(supervisor)
    response = client.post(reverse("triage_routing"), {"name": "", "position": "x"})
    assert response.status_code == 400
    assert not RoutingRule.objects.exists()
    response = client.post(
        reverse("triage_routing"),
        {"name": "ok", "position": 1, "team": 1, "role": "admin", "id": 99, "signal": "nope"},
    )
    assert response.status_code == 400 and not RoutingRule.objects.exists()


def test_supervisor_sets_team_mode(login, supervisor, team):
    client = login(supervisor)
    client.post(reverse("triage_team_mode", args=[team.pk]), {"mode": "round_robin"})
    assert TeamAssignment.objects.get(team=team).mode == "round_robin"
    response = client.post(reverse("triage_team_mode", args=[team.pk]), {"mode": "random"})
    assert response.status_code == 400


def test_timeline_shows_decisions_and_intent_decision_is_training_data(login, agent, ingest):
    result = ingest(text="Bonjour, je veux parler à quelqu’un au sujet de ma carte.")
    number = result.conversation.number
    client = login(agent)
    html = client.get(reverse("conversation", args=[number])).content.decode()
    assert "read this message and decided" in html
    assert "not sure: a person decides" in html
    assert "Asks for a person" in html and "parler a quelqu&#x27;un" in html
    assert "no automatic reply will be sent" in html
    assert "Needs a person to decide" in html

    intent = Prediction.objects.get(conversation=result.conversation, kind="intent")
    response = client.post(
        reverse("triage_prediction_correct", args=[intent.pk]),
        {"label": "Card_Blocked", "next": reverse("conversation", args=[number])},
    )
    assert response.status_code == 302 and response["Location"].endswith(f"/c/{number}/")
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.intent == "card_blocked" and not conversation.needs_decision
    example = training_examples().get()
    assert example.label == "card_blocked" and example.source == "decision"
    assert "je veux parler" in example.text and example.created_by == agent
    intent.refresh_from_db()
    assert intent.corrected_label == "card_blocked" and intent.corrected_by == agent
    event = Event.objects.get(conversation=conversation, verb="triage.corrected")
    assert event.data == {
        "prediction_id": intent.pk, "kind": "intent", "from": "", "to": "card_blocked"
    }  # fmt: skip
    html = client.get(reverse("conversation", args=[number])).content.decode()
    assert "corrected to “card_blocked” by Alice Martin" in html


def test_signal_and_language_corrections(login, agent, ingest):
    result = ingest(text="Bonjour, c'est urgent : je veux changer mon code secret.")
    client = login(agent)
    signal = Prediction.objects.get(conversation=result.conversation, kind="signal")
    client.post(reverse("triage_prediction_correct", args=[signal.pk]), {"label": "no"})
    assert TrainingExample.objects.get(task="signal:urgency").label == "no"
    language = Prediction.objects.get(conversation=result.conversation, kind="language")
    client.post(reverse("triage_prediction_correct", args=[language.pk]), {"label": "en"})
    assert Conversation.objects.get(pk=result.conversation.pk).language == "en"
    response = client.post(
        reverse("triage_prediction_correct", args=[language.pk]), {"label": "<script>"}
    )
    assert response.status_code == 400
    assert Conversation.objects.get(pk=result.conversation.pk).language == "en"


def test_routing_correction_moves_team(login, supervisor, ingest, other_team):
    User.objects.get(pk=supervisor.pk).teams.add(other_team)
    result = ingest(text="Bonjour, ma question concerne un crédit immobilier.")
    routing = Prediction.objects.get(conversation=result.conversation, kind="routing")
    client = login(supervisor)
    client.post(reverse("triage_prediction_correct", args=[routing.pk]), {"label": "credits"})
    assert Conversation.objects.get(pk=result.conversation.pk).team == other_team


def test_outsider_cannot_correct(login, outsider, ingest):
    result = ingest(text="Bonjour, ma carte est bloquée.")
    intent = Prediction.objects.get(conversation=result.conversation, kind="intent")
    response = login(outsider).post(
        reverse("triage_prediction_correct", args=[intent.pk]), {"label": "hack"}
    )
    assert response.status_code == 403
    assert not TrainingExample.objects.exists()
    assert Conversation.objects.get(pk=result.conversation.pk).intent == ""


def test_correction_needs_csrf(agent, ingest):
    from django.test import Client

    result = ingest()
    intent = Prediction.objects.get(conversation=result.conversation, kind="intent")
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.post(reverse("triage_prediction_correct", args=[intent.pk]), {"label": "x"})
    assert response.status_code == 403 and not TrainingExample.objects.exists()


def test_availability_toggle_and_logout(login, agent, agent2, ingest):
    client = login(agent)
    html = client.get(reverse("inbox")).content.decode()
    assert 'aria-pressed="false"' in html
    client.post(reverse("triage_availability"), {"available": "1", "next": "/"})
    assert User.objects.get(pk=agent.pk).available
    result = ingest(text="Bonjour, ma carte est bloquée.")
    assert Conversation.objects.get(pk=result.conversation.pk).assignee == agent
    User.objects.filter(pk=agent2.pk).update(available=True)
    client.post(reverse("logout"))
    assert not User.objects.get(pk=agent.pk).available
    assert Conversation.objects.get(pk=result.conversation.pk).assignee == agent2


def test_inbox_marks_needs_decision_and_at_risk(
    login, agent, ingest, django_assert_max_num_queries
):
    from datetime import timedelta

    from django.utils import timezone

    for i in range(3):
        ingest(text="Bonjour, ma carte est bloquée.", sender=f"n{i}@x.org")
    soon = timezone.now() + timedelta(minutes=5)
    Conversation.objects.filter(number=1001).update(due_at=soon)
    client = login(agent)
    client.get(reverse("inbox") + "?view=teams")
    with django_assert_max_num_queries(10):  # no query per row for the new badges
        html = client.get(reverse("inbox") + "?view=teams").content.decode()
    assert html.count("Needs a person to decide") == 3
    assert html.count(">At risk</strong>") == 1
