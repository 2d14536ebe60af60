"""Train on one CSV, measure on another: the figures `triage_evaluate` prints.

The test file is read twice: its texts first, to predict them one message at a time (which is
also how latency is measured), and its labels only after every prediction is made.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from guichet.triage.intent.model import IntentModel, Params

ABSTAINED = "\x00abstained"


def read_column(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise ValueError(f"{path}: no column {column!r} (columns: {reader.fieldnames})")
        return [row[column] or "" for row in reader]


def evaluate(
    train: Path,
    test: Path,
    *,
    text_column: str,
    label_column: str,
    oos_label: str | None = None,
    params: Params | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    train_texts = read_column(train, text_column)
    train_labels = read_column(train, label_column)
    started = time.perf_counter()
    model = IntentModel.fit(
        train_texts, train_labels, oos_label=oos_label, progress=progress, params=params
    )
    train_seconds = time.perf_counter() - started

    test_texts = read_column(test, text_column)
    predicted: list[str] = []
    latencies: list[float] = []
    model.predict(test_texts[0] if test_texts else "warm up")  # first call loads the encoder
    for text in test_texts:
        t0 = time.perf_counter()
        prediction = model.predict(text)
        latencies.append((time.perf_counter() - t0) * 1000)
        predicted.append(ABSTAINED if prediction.label is None else prediction.label)

    truth = read_column(test, label_column)  # only now
    return {
        "n_train": len(train_texts),
        "n_test": len(test_texts),
        **scores(truth, predicted, oos_label),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 3) if latencies else None,
        "latency_ms_p99": round(float(np.percentile(latencies, 99)), 3) if latencies else None,
        "train_seconds": round(train_seconds, 1),
        "model": model.description,
        "threshold": model.threshold,
        "cross_validation": model.manifest.get("cross_validation", {}),
    }


def scores(truth: list[str], predicted: list[str], oos_label: str | None) -> dict[str, Any]:
    """in-scope accuracy (abstaining counts as wrong), OOS recall, false handoffs, macro-F1.

    For macro-F1 an abstention is read as a prediction of the OOS label (or of a label of its
    own without one), and the average runs over the labels present in `truth`.
    """
    truth_a = np.array(truth, dtype=object)
    pred_a = np.array(predicted, dtype=object)
    abstained = pred_a == ABSTAINED
    in_scope = truth_a != oos_label if oos_label is not None else np.ones(len(truth_a), bool)
    n_in = int(in_scope.sum())
    n_oos = len(truth_a) - n_in
    as_label = np.where(abstained, oos_label if oos_label is not None else ABSTAINED, pred_a)
    labels = sorted(set(truth))
    return {
        "in_scope_accuracy": round(float((pred_a[in_scope] == truth_a[in_scope]).mean()), 4)
        if n_in
        else None,
        "oos_recall": round(float(abstained[~in_scope].mean()), 4)
        if oos_label is not None and n_oos
        else None,
        "false_handoff_rate": round(float(abstained[in_scope].mean()), 4) if n_in else None,
        "macro_f1": round(
            float(
                f1_score(
                    list(truth_a), list(as_label), labels=labels, average="macro", zero_division=0
                )
            ),
            4,
        )
        if labels
        else None,
    }
