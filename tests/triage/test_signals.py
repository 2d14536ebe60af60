"""Signals on realistic French and English sentences, negatives included."""
# ruff: noqa: RUF001  (French texts use the typographic apostrophe)

from __future__ import annotations

import pytest

from guichet.triage.signals import detect_signals, normalise


def signals_of(text: str) -> set[str]:
    return {found.signal for found in detect_signals(text)}


def test_normalise_removes_accents_and_unifies_apostrophes():
    assert (
        normalise("Je veux parler à quelqu’un, ÉLÉPHANT") == "je veux parler a quelqu'un, elephant"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour, je veux parler à quelqu’un de votre service, pas à un formulaire.",
        "Pourriez-vous me passer un conseiller ? Je voudrais un conseiller s'il vous plaît.",
        "J'aimerais parler avec mon conseiller au sujet de mon prêt.",
        "Je ne veux pas de robot, je veux un humain.",
        "Merci de me rappeler au 06 12 34 56 78, rappelez-moi svp.",
        "Can I please talk to a real person about my bill?",
        "I need a human, this chatbot keeps looping.",
        "Please have someone call me back this afternoon.",
        "This is not a bot question, I want to speak with an agent.",
    ],
)
def test_person_request(text):
    assert "person_request" in signals_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "Je n'ai pas besoin de parler à un conseiller, un email suffit.",
        "Un conseiller m'a appelé hier et tout est réglé, merci.",
        "Bonjour, je voudrais un rendez-vous pour ouvrir un compte.",
        "I don't need to speak to a person, an email is fine.",
        "Our human resources department needs a copy of the statement.",
        "Thanks, the advisor already solved everything.",
    ],
)
def test_no_person_request(text):
    assert "person_request" not in signals_of(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Mon mari est décédé le mois dernier, que dois-je faire pour le compte joint ?",
         "bereavement"),
        ("My mother passed away in March and I am handling her estate.", "bereavement"),
        ("J'ai reçu un avis d'expulsion et l'huissier passe lundi.", "eviction"),
        ("We are being evicted at the end of the month.", "eviction"),
        ("Je viens d'être licenciée et je ne peux plus payer mes mensualités.",
         "job or income loss"),
        ("I was laid off last week and can't afford the next payment.", "job or income loss"),
        ("Je suis hospitalisé depuis deux semaines, je n'ai pas pu répondre.", "illness"),
        ("I am undergoing chemotherapy and cannot come to the branch.", "illness"),
        ("Je suis malvoyante, pouvez-vous m'envoyer le courrier en gros caractères ?",
         "disability"),
        ("My father is deaf, please do not call him, write instead.", "disability"),
    ],
)  # fmt: skip
def test_vulnerability_with_its_kind(text, reason):
    found = {item.signal: item for item in detect_signals(text)}
    assert "vulnerability" in found
    assert reason in found["vulnerability"].reasons


@pytest.mark.parametrize(
    "text",
    [
        "Je ne suis pas malade, je voulais juste changer mon adresse.",
        "Bonjour, je souhaite modifier mon plafond de carte.",
        "I am not disabled, I simply prefer email.",
        "Could you send me my annual statement?",
    ],
)
def test_no_vulnerability(text):
    assert "vulnerability" not in signals_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "C'est inadmissible, toujours pas de réponse après trois semaines !",
        "J'en ai marre, c'est la troisième fois que j'écris.",
        "This is unacceptable, I am fed up with your service.",
        "Still no answer. Third time I write to you.",
    ],
)
def test_frustration(text):
    assert "frustration" in signals_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "Je ne suis pas en colère, juste curieux de savoir où en est mon dossier.",
        "I'm not angry, just wondering about the delay.",
        "Merci beaucoup pour votre aide rapide !",
    ],
)
def test_no_frustration(text):
    assert "frustration" not in signals_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "C'est urgent : ma carte a été volée ce matin.",
        "Pouvez-vous me répondre au plus vite ? Le paiement doit partir avant demain.",
        "URGENT - unauthorised transaction on my account",
        "Please answer as soon as possible, the deadline is Friday.",
    ],
)
def test_urgency(text):
    assert "urgency" in signals_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "Ce n'est pas urgent, répondez quand vous pourrez.",
        "Rien d'urgent, c'est pour information.",
        "It is not urgent at all, take your time.",
    ],
)
def test_no_urgency(text):
    assert "urgency" not in signals_of(text)


def test_reasons_name_the_words():
    found = detect_signals("Je veux parler à quelqu’un, c'est URGENT")
    by_signal = {item.signal: item for item in found}
    assert by_signal["person_request"].cues == ("parler a quelqu'un",)
    assert "urgent" in by_signal["urgency"].cues


def test_plain_request_has_no_signal():
    assert detect_signals("Bonjour, pouvez-vous m'envoyer un RIB ? Cordialement, Marie") == []
