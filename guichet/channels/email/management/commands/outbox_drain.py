"""`manage.py outbox_drain [--loop]`: send the outgoing emails that are due, without a worker."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand

from guichet.channels.email.outbound import STALE_AFTER, outbox_drain


class Command(BaseCommand):
    help = (
        "Send every outgoing email that is due now, after putting back those left 'sending' by a "
        "worker that stopped. With --loop, keep doing so every --interval seconds."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--loop", action="store_true", help="run until interrupted")
        parser.add_argument(
            "--interval", type=float, default=10.0, help="seconds between rounds with --loop"
        )
        parser.add_argument(
            "--stale-after",
            type=int,
            default=int(STALE_AFTER.total_seconds()),
            help="seconds after which a 'sending' row counts as abandoned (default: %(default)s)",
        )
        parser.add_argument("--limit", type=int, default=500, help="most emails per round")

    def handle(self, *args: Any, **options: Any) -> None:
        stale_after = timedelta(seconds=options["stale_after"])
        try:
            while True:
                counts = outbox_drain(limit=options["limit"], stale_after=stale_after)
                if options["verbosity"] > 0 and (not options["loop"] or len(counts) > 1):
                    summary = ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
                    self.stdout.write(f"outbox: {summary}")
                if not options["loop"]:
                    return
                time.sleep(options["interval"])
        except KeyboardInterrupt:
            return
