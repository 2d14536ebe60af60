"""Load demo data: a small bank's customer service with agents, customers and conversations."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from guichet.conversations.models import Conversation
from guichet.web.demo import DEFAULT_DATASETS_DIR, DEMO_LOGINS, DEMO_PASSWORD, demo_build


class Command(BaseCommand):
    help = (
        "Create demo data through the services: calendars, teams, agents, customers and "
        "conversations across channels and statuses. Never in production mode without --force."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when the database already has conversations",
        )
        parser.add_argument("--customers", type=int, default=300, help="customers to create")
        parser.add_argument(
            "--conversations", type=int, default=400, help="conversations to create"
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="random seed (same seed, same data)"
        )
        parser.add_argument(
            "--datasets",
            type=Path,
            default=DEFAULT_DATASETS_DIR,
            help="folder holding banking77/ and french_intents_wikit/, read if "
            "present (default: %(default)s)",
        )
        parser.add_argument(
            "--force", action="store_true", help="allow demo data in production mode"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["force"]:
            raise CommandError("Refusing to load demo data in production mode (use --force).")
        if options["customers"] < 0 or options["conversations"] < 0:
            raise CommandError("--customers and --conversations must be zero or more.")
        if options["conversations"] and not options["customers"]:
            raise CommandError("Conversations need customers: give --customers 1 or more.")
        if options["if_empty"] and Conversation.objects.exists():
            if options["verbosity"] >= 2:
                self.stdout.write("The database already has conversations: no demo data added.")
            return
        started = time.monotonic()
        result = demo_build(
            customers=options["customers"],
            conversations=options["conversations"],
            seed=options["seed"],
            datasets_dir=options["datasets"],
            # A progress bar on a terminal; in a log it would be hundreds of lines of noise.
            progress=options["verbosity"] >= 1 and sys.stderr.isatty(),
        )
        if options["verbosity"] >= 1:
            source = "the shared datasets" if result.used_datasets else "built-in sentences"
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo data: {result.customers} customers, "
                    f"{result.conversations} conversations "
                    f"(requests from {source}) in {time.monotonic() - started:.0f} s."
                )
            )
            logins = ", ".join(f"{name} ({role})" for name, role in DEMO_LOGINS)
            self.stdout.write(f"Demo logins: {logins}; password “{DEMO_PASSWORD}”.")
