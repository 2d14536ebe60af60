"""`manage.py mail_status [--json]`: inbound and outbound counts and each mailbox's last poll."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from guichet.channels.email.selectors import mail_status


class Command(BaseCommand):
    help = (
        "Show messages ingested, quarantined and waiting, duplicates skipped, the outbox by "
        "state, and each mailbox's last poll and error."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON for monitoring")

    def handle(self, *args: Any, **options: Any) -> None:
        status = mail_status()
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2, sort_keys=True))
            return
        inbound = status["inbound"]
        self.stdout.write(
            f"Inbound: {inbound['ingested']} ingested, {inbound['quarantined']} quarantined, "
            f"{inbound['waiting']} waiting, {inbound['duplicates_skipped']} duplicates skipped, "
            f"{inbound['message_id_reused']} Message-ID reused (kept as distinct messages), "
            f"{inbound['delivery_reports']} delivery reports, {inbound['ignored']} ignored"
        )
        if inbound["oldest_waiting_since"]:
            self.stdout.write(f"  oldest waiting since {inbound['oldest_waiting_since']}")
        self.stdout.write(
            "Outbox: " + ", ".join(f"{n} {state}" for state, n in status["outbox"].items())
        )
        if status["unsent_replies"]:
            self.stdout.write(
                f"  {status['unsent_replies']} replies queued without an outbox row "
                "(`outbox_drain` queues them)"
            )
        for mailbox in status["mailboxes"]:
            polled = mailbox["last_poll_at"] or ("never" if mailbox["imap"] else "no IMAP")
            line = f"  {mailbox['address']}: last poll {polled}"
            if not mailbox["enabled"]:
                line += " (disabled)"
            if mailbox["last_poll_error"]:
                line += f"; error: {mailbox['last_poll_error']}"
            self.stdout.write(line)
