"""`manage.py triage_evaluate --train TRAIN.csv --test TEST.csv …`: train a fresh intent model on
TRAIN only and measure it on TEST (labels read after every prediction). Prints one JSON object
with --json; stdout then holds nothing else (the progress bar goes to stderr)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from guichet.triage.intent.evaluate import evaluate


class Command(BaseCommand):
    help = (
        "Train a fresh intent model on TRAIN (CSV) and measure it on TEST: in-scope accuracy "
        "(an abstention counts as wrong), out-of-scope recall, false handoffs, macro-F1, "
        "per-message latency and training time. Nothing is stored."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--train", type=Path, required=True, help="training CSV")
        parser.add_argument("--test", type=Path, required=True, help="test CSV")
        parser.add_argument("--text-column", default="text", help="column holding the message")
        parser.add_argument("--label-column", default="label", help="column holding the intent")
        parser.add_argument(
            "--oos-label",
            default=None,
            help="label of out-of-scope rows: in TRAIN, examples of 'not ours'; in TEST, rows "
            "on which the model should abstain",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        for key in ("train", "test"):
            if not options[key].is_file():
                raise CommandError(f"{options[key]}: no such file")
        bar = tqdm(total=1, unit="step", disable=options["no_progress"], file=self.stderr)

        def progress(done: int, total: int, stage: str) -> None:
            bar.total = total
            bar.n = done
            bar.set_description(stage)
            bar.refresh()

        try:
            result = evaluate(
                options["train"],
                options["test"],
                text_column=options["text_column"],
                label_column=options["label_column"],
                oos_label=options["oos_label"],
                progress=progress,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        finally:
            bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        for key, value in result.items():
            self.stdout.write(f"{key:>20}: {value}")
