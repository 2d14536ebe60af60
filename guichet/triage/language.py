"""Language of a message, with `lingua-language-detector` restricted to the languages we meet.

The detector is built once per process and shared by threads. It runs lingua's low-accuracy
mode (trigram models only): about 30 MB and half a second to load, against about 240 MB and
8 s for the high-accuracy models of the same eight languages, which would take most of the web
process's 400 MB budget. On sentences the two agree; on a few words the low mode is weaker, so
texts with fewer than `MIN_LETTERS` letters or a confidence under `MIN_CONFIDENCE` get no language
rather than a guess, and callers fall back on the customer's preferred language.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

MODEL_VERSION = "lingua-2.1-low"
# French and English first; the others are the languages customers of French organisations
# most often write in. Restricting the set makes detection faster and more accurate.
LANGUAGES = ("FRENCH", "ENGLISH", "GERMAN", "SPANISH", "ITALIAN", "PORTUGUESE", "DUTCH", "ARABIC")
MIN_CONFIDENCE = 0.5
MIN_LETTERS = 8
MAX_CHARS = 2000  # the start of a message says its language; long mails cost no more

_lock = threading.Lock()
_detector: Any = None


@dataclass(frozen=True)
class LanguageGuess:
    code: str  # ISO 639-1, "" when unsure
    confidence: float
    candidates: tuple[tuple[str, float], ...]  # the best three, for the reasons shown to agents


def _get_detector() -> Any:
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                from lingua import Language, LanguageDetectorBuilder

                languages = [getattr(Language, name) for name in LANGUAGES]
                _detector = (
                    LanguageDetectorBuilder.from_languages(*languages)
                    .with_preloaded_language_models()
                    .with_low_accuracy_mode()
                    .build()
                )
    return _detector


def warm_up() -> None:
    """Load the models now (a worker or web process at start) instead of on the first message."""
    _get_detector()


def detect_language(text: str) -> LanguageGuess:
    """The language of `text`, or code "" when too short or too uncertain."""
    sample = (text or "")[:MAX_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return LanguageGuess("", 0.0, ())
    values = _get_detector().compute_language_confidence_values(sample)
    candidates = tuple(
        (value.language.iso_code_639_1.name.lower(), round(float(value.value), 3))
        for value in values[:3]
    )
    if not candidates:
        return LanguageGuess("", 0.0, ())
    code, confidence = candidates[0]
    if confidence < MIN_CONFIDENCE:
        return LanguageGuess("", confidence, candidates)
    return LanguageGuess(code, confidence, candidates)
