"""Report conversations at risk of missing their due time (once, or in a loop)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from guichet.triage.services import sla_sweep


class Command(BaseCommand):
    help = (
        "Raise the priority of conversations due within SLA_AT_RISK_MINUTES (or overdue), tell "
        "their team's supervisors and give them an available owner. Each due time is reported "
        "once. Run it every minute or so (--loop SECONDS, or from cron)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop", type=int, default=0, metavar="SECONDS", help="Sweep again every SECONDS."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            result = sla_sweep()
            self.stdout.write(
                f"at risk: {result.at_risk}, reassigned: {result.reassigned}, "
                f"supervisors notified: {result.notified}"
            )
            if options["loop"] <= 0:
                return
            time.sleep(options["loop"])
