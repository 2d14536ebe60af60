"""Language detection with lingua, restricted to the languages we meet."""

from __future__ import annotations

import time

import pytest

from guichet.triage.language import detect_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Bonjour, ma carte bancaire est bloquée depuis hier soir.", "fr"),
        ("Madame, Monsieur, je conteste le prélèvement du 3 mars.", "fr"),
        ("Hello, I was charged twice for the same purchase.", "en"),
        ("Could you please send me a copy of my contract?", "en"),
        ("Hallo, meine Karte ist seit gestern gesperrt.", "de"),
        ("Hola, mi tarjeta está bloqueada desde ayer.", "es"),
    ],
)
def test_sentences(text, code):
    guess = detect_language(text)
    assert guess.code == code
    assert guess.candidates[0][0] == code


@pytest.mark.parametrize("text", ["ok", "merci", "👍", "12/03", ""])
def test_too_short_gives_no_language(text):
    assert detect_language(text).code == ""


def test_fast_once_loaded():
    detect_language("warm up the models please")
    started = time.perf_counter()
    for i in range(50):
        detect_language(f"Bonjour, je souhaite modifier l'adresse de mon contrat numéro {i}.")
    assert (time.perf_counter() - started) / 50 < 0.02  # generous: the machine is shared
