"""`manage.py triage_train`: train the intent model on the organisation's own history and store
it as the newest version under `DATA_DIR/models/intent-<version>/` (see docs/triage-model.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from guichet.triage.intent import IntentModel, model_store
from guichet.triage.intent.training import (
    Example,
    deduplicate,
    examples_from_csv,
    examples_from_history,
    examples_from_seed,
)

# Under this many examples from history and CSV files, the seed set is added (cold start).
COLD_START = 50


class Command(BaseCommand):
    help = (
        "Train the intent model on agents' decisions and corrections and on conversations whose "
        "intent a person set (plus --csv files, and the built-in seed set on a cold start), then "
        "store it as the newest model version."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--csv", type=Path, action="append", default=[], help="extra labelled CSV file"
        )
        parser.add_argument("--text-column", default="text", help="text column of --csv files")
        parser.add_argument("--label-column", default="label", help="label column of --csv")
        parser.add_argument(
            "--seed",
            choices=["auto", "always", "never"],
            default="auto",
            help=f"add the built-in seed set (auto: when fewer than {COLD_START} examples)",
        )
        parser.add_argument("--no-history", action="store_true", help="ignore the database")
        parser.add_argument(
            "--oos-label", default=None, help="label of 'not ours' examples, if any"
        )
        parser.add_argument(
            "--min-examples",
            type=int,
            default=2,
            help="drop intents with fewer examples than this (default 2)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        examples: list[Example] = []
        if not options["no_history"]:
            examples += examples_from_history()
        for path in options["csv"]:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            try:
                examples += examples_from_csv(
                    path,
                    text_column=options["text_column"],
                    label_column=options["label_column"],
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
        seed = options["seed"] == "always" or (
            options["seed"] == "auto" and len(examples) < COLD_START
        )
        if seed:
            examples = examples_from_seed() + examples  # the organisation's own labels win
        examples = deduplicate(examples)
        counts = Counter(example.label for example in examples)
        rare = {label for label, n in counts.items() if n < options["min_examples"]}
        examples = [example for example in examples if example.label not in rare]
        if rare:
            self.stderr.write(
                f"Left out {len(rare)} intent(s) with fewer than {options['min_examples']} "
                f"examples: {', '.join(sorted(rare))}"
            )
        sources = Counter(example.source for example in examples)
        self.stdout.write(
            f"{len(examples)} examples, {len({e.label for e in examples})} intents "
            f"({', '.join(f'{source}: {n}' for source, n in sorted(sources.items()))})"
        )
        bar = tqdm(total=1, unit="step", disable=options["no_progress"], file=self.stderr)

        def progress(done: int, total: int, stage: str) -> None:
            bar.total = total
            bar.n = done
            bar.set_description(stage)
            bar.refresh()

        try:
            model = IntentModel.fit(
                [example.text for example in examples],
                [example.label for example in examples],
                oos_label=options["oos_label"],
                progress=progress,
            )
        except ValueError as error:
            raise CommandError(f"Cannot train: {error}") from error
        finally:
            bar.close()
        model.manifest["sources"] = dict(sorted(sources.items()))
        path = model_store(model)
        cv = model.manifest.get("cross_validation", {})
        estimate = cv.get("in_scope_accuracy")
        self.stdout.write(
            self.style.SUCCESS(
                f"Stored intent-{model.version} in {path} "
                f"({model.abstention}"
                + (f", cross-validated accuracy {estimate:.1%}" if estimate is not None else "")
                + ")"
            )
        )
