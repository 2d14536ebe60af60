"""The ingest hook end to end: language, signals, intent abstention, escalation, routing."""
# ruff: noqa: RUF001  (French texts use the typographic apostrophe)

from __future__ import annotations

from typing import Any

import pytest

from guichet.conversations.automation import automatic_reply_allowed
from guichet.conversations.models import Conversation, Event, Priority
from guichet.conversations.services import conversation_reply
from guichet.triage import services as triage_services
from guichet.triage.intent import IntentPrediction
from guichet.triage.models import Prediction, RoutingRule
from tests.triage.conftest import age_messages

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model")]


def kinds(conversation: Conversation) -> dict[str, list[Prediction]]:
    found: dict[str, list[Prediction]] = {}
    for row in Prediction.objects.filter(conversation=conversation).order_by("id"):
        found.setdefault(row.kind, []).append(row)
    return found


def test_french_message_gets_language_and_abstains_without_model(ingest):
    result = ingest(
        text="Bonjour, ma carte bancaire est bloquée depuis hier soir, merci de m'aider."
    )
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.language == "fr"
    found = kinds(conversation)
    assert found["language"][0].label == "fr" and found["language"][0].confidence >= 0.5
    intent = found["intent"][0]
    assert intent.abstained and intent.model_version == "none"
    assert conversation.needs_decision is True
    assert conversation.priority == Priority.NORMAL
    assert automatic_reply_allowed(conversation) is True  # nothing asked for a person
    event = Event.objects.get(conversation=conversation, verb="triage.decided")
    assert set(event.data["predictions"]) == set(
        Prediction.objects.filter(conversation=conversation).values_list("pk", flat=True)
    )


def test_english_message_sets_english(ingest):
    result = ingest(text="Hello, I have been charged twice for the same purchase last week.")
    assert Conversation.objects.get(pk=result.conversation.pk).language == "en"


def test_language_given_by_the_channel_is_kept(ingest):
    result = ingest(text="Hello, my card is blocked.", language="fr")
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.language == "fr"
    assert kinds(conversation)["language"][0].label == "en"  # recorded, not applied


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("Bonjour, je veux parler à quelqu’un, votre robot ne comprend rien.", "person_request"),
        ("My husband passed away and I need to close his account.", "vulnerability"),
    ],
)
def test_escalating_signal_stops_automatic_replies(ingest, text, signal):
    result = ingest(text=text)
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.priority == Priority.HIGH
    assert conversation.automatic_replies_stopped is True
    assert automatic_reply_allowed(conversation) is False
    signals = [p.label for p in kinds(conversation)["signal"]]
    assert signal in signals
    event = Event.objects.get(conversation=conversation, verb="triage.decided")
    assert signal in event.data["escalated"]
    assert Event.objects.filter(conversation=conversation, verb="priority.changed").exists()


def test_urgent_vulnerable_customer_is_urgent(ingest):
    result = ingest(text="C'est urgent, je suis expulsée lundi et je ne peux plus payer.")
    assert Conversation.objects.get(pk=result.conversation.pk).priority == Priority.URGENT


def test_frustration_raises_priority_but_automation_may_still_acknowledge(ingest):
    result = ingest(text="C'est inadmissible, ma carte est encore refusée au magasin.")
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.priority == Priority.HIGH
    assert automatic_reply_allowed(conversation) is True


def test_repeat_contact_in_the_same_conversation(ingest):
    first = ingest(text="Bonjour, où en est mon remboursement ?", external_id="m1")
    age_messages(first.conversation, minutes=60)
    second = ingest(
        text="Je me permets de relancer ma demande.",
        external_id="m2",
        conversation_number=first.conversation.number,
    )
    assert second.conversation.pk == first.conversation.pk
    conversation = Conversation.objects.get(pk=first.conversation.pk)
    labels = [p.label for p in kinds(conversation).get("signal", [])]
    assert "repeat_contact" in labels
    assert conversation.automatic_replies_stopped is True
    assert conversation.priority == Priority.HIGH


def test_quick_follow_up_is_not_a_repeat_contact(ingest):
    first = ingest(text="Bonjour, ma carte est bloquée.", external_id="q1")
    ingest(
        text="J'oubliais : c'est la carte se terminant par 1234.",
        external_id="q2",
        conversation_number=first.conversation.number,
    )
    conversation = Conversation.objects.get(pk=first.conversation.pk)
    assert "signal" not in kinds(conversation)
    assert conversation.automatic_replies_stopped is False


def test_no_repeat_contact_after_a_person_answered(ingest, agent):
    first = ingest(text="Bonjour, ma carte est bloquée.", external_id="a1")
    conversation_reply(actor=agent, conversation=first.conversation, text="Nous regardons.")
    age_messages(first.conversation, minutes=120)
    ingest(
        text="Merci, c'est réglé pour moi.",
        external_id="a2",
        conversation_number=first.conversation.number,
    )
    conversation = Conversation.objects.get(pk=first.conversation.pk)
    assert "repeat_contact" not in [p.label for p in kinds(conversation).get("signal", [])]


def test_new_conversation_while_another_waits_is_a_repeat_contact(ingest):
    first = ingest(text="Bonjour, ma carte est bloquée.", sender="paul@example.org")
    age_messages(first.conversation, minutes=30)
    second = ingest(text="Je vous ai déjà écrit pour ma carte.", sender="paul@example.org")
    assert second.conversation.pk != first.conversation.pk
    repeat = Prediction.objects.get(conversation=second.conversation, label="repeat_contact")
    assert f"#{first.conversation.number}" in repeat.reasons[0]
    assert not automatic_reply_allowed(second.conversation)


def test_routing_rule_by_language_moves_team(ingest, team, english_team):
    RoutingRule.objects.create(name="English", language="en", team=english_team, position=10)
    result = ingest(text="Hello, could you tell me how to order a new cheque book please?")
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.team == english_team
    routing = kinds(conversation)["routing"][0]
    assert routing.label == "international"
    assert "rule: English" in routing.reasons and "language=en" in routing.reasons
    french = ingest(text="Bonjour, pouvez-vous m'envoyer un nouveau chéquier ?")
    assert Conversation.objects.get(pk=french.conversation.pk).team == team


def test_rule_on_signal_and_order(ingest, team, english_team):
    RoutingRule.objects.create(name="Any", team=team, position=20)
    RoutingRule.objects.create(
        name="Vulnerable", signal="vulnerability", team=english_team, position=10
    )
    result = ingest(text="Je suis hospitalisée et je n'ai pas pu payer ma facture.")
    assert Conversation.objects.get(pk=result.conversation.pk).team == english_team
    other = ingest(text="Bonjour, je voudrais changer d'adresse.")
    assert Conversation.objects.get(pk=other.conversation.pk).team == team


def _fake_model(label: str | None, confidence: float, abstained: bool) -> Any:
    def predict(text: str) -> IntentPrediction:
        return IntentPrediction(
            label, confidence, abstained, ("carte", "bloquee"), model_version="intent-test"
        )

    return predict


def test_confident_intent_is_applied_and_routes(ingest, team, english_team, monkeypatch):
    monkeypatch.setattr(
        triage_services, "_intent_predict", _fake_model("card_blocked", 0.93, False)
    )
    RoutingRule.objects.create(name="Cards", intent="card_blocked", team=english_team)
    result = ingest(text="Ma carte est bloquée.")
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.intent == "card_blocked" and conversation.needs_decision is False
    assert conversation.team == english_team
    intent = kinds(conversation)["intent"][0]
    assert intent.confidence == pytest.approx(0.93) and intent.reasons == ["carte", "bloquee"]
    assert intent.model_version == "intent-test"


def test_abstention_never_matches_an_intent_rule(ingest, team, english_team, monkeypatch):
    monkeypatch.setattr(triage_services, "_intent_predict", _fake_model(None, 0.31, True))
    RoutingRule.objects.create(name="Cards", intent="card_blocked", team=english_team)
    result = ingest(text="Ma carte est bloquée.")
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert conversation.team == team  # the team's general queue
    assert conversation.needs_decision is True and conversation.intent == ""


def test_a_failing_triage_never_loses_the_message(ingest, monkeypatch):
    def explode(**kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(triage_services, "triage_message", explode)
    result = ingest(text="Bonjour")
    assert Conversation.objects.filter(pk=result.conversation.pk).exists()
    assert result.message.pk is not None
