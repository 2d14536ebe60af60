"""Send every due SMS of the outbox now (a cron fallback to the task worker)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from guichet.channels.sms.services import outbox_drain


class Command(BaseCommand):
    help = "Send the due rows of the SMS outbox and put back rows left sending by a dead worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--limit", type=int, default=500, help="Most rows sent in one run.")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = outbox_drain(limit=options["limit"])
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in sorted(counts.items())))
