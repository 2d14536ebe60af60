#!/usr/bin/env python
"""Intent model figures on the shared datasets, through the exact evaluation interface.

    DATA_DIR=/tmp/guichet-bench-triage .venv/bin/python bench/triage.py \\
        | tee bench/results-triage-$(date +%F).txt

Runs `manage.py triage_evaluate … --json` as a subprocess (training on TRAIN only, test labels read
after predicting) on:

* banking77: train.csv → test.csv;
* clinc150: train.csv → validation.csv with `--oos-label oos` (the test split is held elsewhere);
* french_intents_wikit: training_dataset.csv → test_dataset.csv.

Then the memory of a web process with the model loaded: a fresh Python process sets Django up,
imports the URL configuration (every app's views), loads the banking77 model from a temporary
DATA_DIR through `active_model()` and predicts one message; its peak RSS (VmHWM) is reported.
The 1-minute load average before and after each run is printed: other processes on the machine
slow the latency and training figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
PYTHON = sys.executable

RUNS = [
    ("banking77", "banking77/train.csv", "banking77/test.csv", "text", "category", None),
    ("clinc150 (val)", "clinc150/train.csv", "clinc150/validation.csv", "text", "intent", "oos"),
    (
        "french_intents_wikit",
        "french_intents_wikit/training_dataset.csv",
        "french_intents_wikit/test_dataset.csv",
        "utterance",
        "intent",
        None,
    ),
]
TARGETS = {
    "banking77": "accuracy >= 94.0%",
    "clinc150 (val)": "in-scope >= 95% with OOS recall >= 90%",
    "french_intents_wikit": "accuracy >= 90%",
}

MEMORY_PROBE = """
import os, resource, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # import every app's views, as a web process does
from guichet.triage.intent import active_model
model = active_model()
assert model is not None
prediction = model.predict("I still have not received my new card")
status = open("/proc/self/status").read()
peak = [line for line in status.splitlines() if line.startswith("VmHWM")][0]
print(int(peak.split()[1]) // 1024, prediction.candidate)
"""


def load() -> float:
    return os.getloadavg()[0]


def evaluate(train: Path, test: Path, text: str, label: str, oos: str | None) -> dict:
    command = [
        PYTHON,
        str(ROOT / "manage.py"),
        "triage_evaluate",
        "--train",
        str(train),
        "--test",
        str(test),
        "--text-column",
        text,
        "--label-column",
        label,
        "--json",
        "--no-progress",
    ]
    if oos:
        command += ["--oos-label", oos]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_with_model() -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "DATA_DIR": data_dir}
        subprocess.run(
            [
                PYTHON,
                str(ROOT / "manage.py"),
                "triage_train",
                "--no-history",
                "--seed",
                "never",
                "--csv",
                str(DATASETS / "banking77/train.csv"),
                "--label-column",
                "category",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env=env,
        )
        done = subprocess.run(
            [PYTHON, "-c", MEMORY_PROBE],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env=env,
        )
        megabytes, label = done.stdout.split()
        return int(megabytes), label


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=[r[0] for r in RUNS], help="one dataset only")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory probe")
    args = parser.parse_args()
    print(f"# bench/triage.py, {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs")
    print(f"# datasets: {DATASETS}")
    rows = []
    for name, train, test, text, label, oos in RUNS:
        if args.only and name != args.only:
            continue
        before = load()
        result = evaluate(DATASETS / train, DATASETS / test, text, label, oos)
        rows.append((name, result, before, load()))
        print(f"# {name}: {json.dumps(result)}", flush=True)
    print()
    print(
        f"{'dataset':22} {'n_train':>7} {'n_test':>6} {'in-scope':>8} {'OOS rec':>7} "
        f"{'handoff':>7} {'macroF1':>7} {'p50 ms':>6} {'p99 ms':>6} {'train s':>7} "
        f"{'load':>9}  target"
    )
    for name, r, before, after in rows:
        print(
            f"{name:22} {r['n_train']:>7} {r['n_test']:>6} {pct(r['in_scope_accuracy']):>8} "
            f"{pct(r['oos_recall']):>7} {pct(r['false_handoff_rate']):>7} "
            f"{pct(r['macro_f1']):>7} {r['latency_ms_p50']:>6.2f} {r['latency_ms_p99']:>6.2f} "
            f"{r['train_seconds']:>7.1f} {before:>4.1f}-{after:<4.1f}  {TARGETS[name]}"
        )
    if rows:
        print(f"\nmodel: {rows[0][1]['model']}")
    if not args.no_memory:
        megabytes, label = memory_with_model()
        print(
            f"web process with the banking77 model loaded: peak RSS {megabytes} MB "
            f"(target < 400 MB); sample prediction: {label}"
        )


if __name__ == "__main__":
    main()
