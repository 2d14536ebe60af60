"""`manage.py triage_evaluate`: the exact JSON interface, on small slices."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from guichet.triage.intent import IntentModel, IntentPrediction
from guichet.triage.intent import evaluate as evaluate_module
from guichet.triage.intent.training import examples_from_seed

KEYS = {
    "n_train",
    "n_test",
    "in_scope_accuracy",
    "oos_recall",
    "false_handoff_rate",
    "macro_f1",
    "latency_ms_p50",
    "latency_ms_p99",
    "train_seconds",
    "model",
}
BANKING = Path("/work/shared/datasets/banking77")

# Paraphrases of the seed intents (not in the seed set), then out-of-scope rows.
TEST_ROWS = [
    ("Quelqu'un a volé ma carte de crédit", "card_lost_stolen"),
    ("I can't remember my password", "account_access"),
    ("Je veux arrêter mon contrat", "cancellation"),
    ("My parcel has not been delivered yet", "delivery_status"),
    ("I was debited twice for one purchase", "payment_problem"),
    ("Je change d'adresse le mois prochain", "address_change"),
    ("I'd like to see an advisor next week", "appointment"),
    ("Remboursez-moi ce produit défectueux", "refund_request"),
    ("qzxv blorptk wugga", "oos"),
    ("zzzz zzzz", "oos"),
]


def write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(*args: str) -> dict:
    out = StringIO()
    call_command("triage_evaluate", *args, "--json", "--no-progress", stdout=out)
    return json.loads(out.getvalue())


def test_json_on_a_tiny_slice_with_out_of_scope(tmp_path: Path, monkeypatch) -> None:
    train = write_csv(
        tmp_path / "train.csv",
        [(e.text, e.label) for e in examples_from_seed()],
        ("utterance", "label"),
    )
    test = write_csv(tmp_path / "test.csv", TEST_ROWS, ("utterance", "label"))

    # The test labels are read only after every test message was predicted.
    calls: list[str] = []
    real_read, real_predict = evaluate_module.read_column, evaluate_module.IntentModel.predict

    def read_column(path: Path, column: str) -> list[str]:
        calls.append(f"read {path.name}:{column}")
        return real_read(path, column)

    def predict(self: IntentModel, text: str) -> IntentPrediction:
        calls.append("predict")
        return real_predict(self, text)

    monkeypatch.setattr(evaluate_module, "read_column", read_column)
    monkeypatch.setattr(evaluate_module.IntentModel, "predict", predict)
    result = run(
        "--train",
        str(train),
        "--test",
        str(test),
        "--text-column",
        "utterance",
        "--label-column",
        "label",
        "--oos-label",
        "oos",
    )

    assert set(result) >= KEYS
    assert result["n_train"] == 72 and result["n_test"] == len(TEST_ROWS)
    assert result["in_scope_accuracy"] >= 0.75
    assert result["oos_recall"] == 1.0
    assert 0.0 <= result["false_handoff_rate"] <= 0.25
    assert 0.0 < result["macro_f1"] <= 1.0
    assert 0 < result["latency_ms_p50"] <= result["latency_ms_p99"]
    assert result["train_seconds"] >= 0 and "intent-" in result["model"]
    label_read = calls.index("read test.csv:label")
    assert calls.count("predict") > len(TEST_ROWS)
    assert "predict" not in calls[label_read:]


def test_without_oos_label_recall_is_null(tmp_path: Path) -> None:
    train = write_csv(
        tmp_path / "train.csv", [(e.text, e.label) for e in examples_from_seed()], ("text", "label")
    )
    test = write_csv(tmp_path / "test.csv", TEST_ROWS[:8], ("text", "label"))
    result = run("--train", str(train), "--test", str(test))
    assert result["oos_recall"] is None
    assert result["n_test"] == 8


def test_scores_count_abstentions_as_wrong() -> None:
    abstained = evaluate_module.ABSTAINED
    result = evaluate_module.scores(
        ["a", "a", "b", "oos", "oos"], ["a", abstained, "a", abstained, "b"], "oos"
    )
    assert result["in_scope_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["false_handoff_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["oos_recall"] == 0.5


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", [("x", "y")], ("text", "label"))
    with pytest.raises(CommandError, match="no column 'intent'"):
        run("--train", str(train), "--test", str(train), "--label-column", "intent")


@pytest.mark.skipif(not BANKING.is_dir(), reason="the shared datasets are not present")
def test_banking77_slice(tmp_path: Path) -> None:
    """Ten intents of banking77: 30 training rows each, the first 10 test rows each."""

    def take(name: str, per_label: int) -> list[tuple[str, str]]:
        with (BANKING / name).open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        labels = sorted({row["category"] for row in rows})[:10]
        kept: dict[str, list[tuple[str, str]]] = {label: [] for label in labels}
        for row in rows:
            bucket = kept.get(row["category"])
            if bucket is not None and len(bucket) < per_label:
                bucket.append((row["text"], row["category"]))
        return [pair for bucket in kept.values() for pair in bucket]

    train = write_csv(tmp_path / "train.csv", take("train.csv", 30), ("text", "category"))
    test = write_csv(tmp_path / "test.csv", take("test.csv", 10), ("text", "category"))
    result = run("--train", str(train), "--test", str(test), "--label-column", "category")
    assert result["n_train"] == 300 and result["n_test"] == 100
    assert result["in_scope_accuracy"] >= 0.8
