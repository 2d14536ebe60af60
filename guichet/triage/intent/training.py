"""Where `triage_train` finds its labelled examples.

1. Agents' decisions and corrections, kept as `TrainingExample(task="intent")` rows by the
   correction service (and any rows loaded from a seed set with source `seed`).
2. Conversations whose intent a person set: `Conversation.intent` is not empty and is not just
   what an uncorrected automatic prediction wrote (the model must not learn from its own guesses).
   The text is the subject and the first inbound message, as triage reads it.
3. CSV files (`--csv`), e.g. an export from a previous helpdesk.
4. The built-in seed set (`seed.csv`: twelve common intents, French and English), for a cold start.

Duplicates (same text, same label) count once; the newest label of a text wins over older ones.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SEED_PATH = Path(__file__).with_name("seed.csv")
MAX_TEXT = 4000


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str


def examples_from_csv(
    path: Path, *, text_column: str = "text", label_column: str = "label", source: str = "csv"
) -> list[Example]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {text_column, label_column} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return [
            Example(row[text_column].strip()[:MAX_TEXT], row[label_column].strip(), source)
            for row in reader
            if (row[text_column] or "").strip() and (row[label_column] or "").strip()
        ]


def examples_from_seed() -> list[Example]:
    return examples_from_csv(SEED_PATH, source="seed")


def examples_from_history() -> list[Example]:
    from django.db.models import OuterRef, Subquery

    from guichet.conversations.models import Conversation, Message
    from guichet.triage.models import Prediction, TrainingExample

    decisions = [
        Example(text.strip()[:MAX_TEXT], label.strip(), f"agent:{source}")
        for text, label, source in TrainingExample.objects.filter(task="intent")
        .order_by("created_at", "id")
        .values_list("text", "label", "source")
        if text.strip() and label.strip()
    ]
    examples: list[Example] = []
    # Intents written by the model and never corrected: not a person's word.
    guessed = set(
        Prediction.objects.filter(
            kind=Prediction.Kind.INTENT, abstained=False, corrected_at__isnull=True
        ).values_list("conversation_id", "label")
    )
    first_inbound = (
        Message.objects.filter(conversation=OuterRef("pk"), direction=Message.Direction.INBOUND)
        .order_by("created_at", "id")
        .values("text")[:1]
    )
    rows = (
        Conversation.objects.exclude(intent="")
        .annotate(first_text=Subquery(first_inbound))
        .order_by("created_at", "id")
        .values_list("id", "subject", "intent", "first_text")
    )
    for pk, subject, intent, first_text in rows.iterator(chunk_size=1000):
        if (pk, intent) in guessed:
            continue
        text = f"{subject}\n{first_text or ''}".strip()[:MAX_TEXT]
        if text:
            examples.append(Example(text, intent, "conversation"))
    # Agents' explicit decisions last: they win over a conversation's field for the same text.
    return examples + decisions


def deduplicate(examples: Iterable[Example]) -> list[Example]:
    """One example per text: the last one given wins (sources are read oldest first)."""
    by_text: dict[str, Example] = {}
    for example in examples:
        by_text.pop(example.text, None)
        by_text[example.text] = example
    return list(by_text.values())
