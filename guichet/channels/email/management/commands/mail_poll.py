"""`manage.py mail_poll [--loop]`: poll the IMAP mailboxes once, or every --interval seconds."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from guichet.channels.email.imap import BATCH, poll_all
from guichet.channels.email.services import email_process_pending


class Command(BaseCommand):
    help = (
        "Fetch unseen mail from every enabled mailbox with an IMAP host: store each message, "
        "then flag it \\Seen, then ingest it. With --loop, poll until SIGTERM or Ctrl-C."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--loop", action="store_true", help="keep polling")
        parser.add_argument("--interval", type=int, default=60, help="seconds between polls")
        parser.add_argument("--batch", type=int, default=BATCH, help="messages per mailbox poll")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        if options["loop"]:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        while True:
            close_old_connections()
            # Rows a crashed run stored but did not ingest go first.
            email_process_pending()
            for result in poll_all(batch=options["batch"]):
                if options["verbosity"] < 1 and not result.error:
                    continue  # -v 0 (as `serve` runs it): only errors
                if result.skipped:
                    line = f"{result.mailbox}: another poller is at work, skipped"
                else:
                    line = (
                        f"{result.mailbox}: {result.stored} new, {result.duplicates} duplicates"
                        + "".join(f", {n} {state}" for state, n in result.processed.items())
                        + (f"; error: {result.error}" if result.error else "")
                    )
                (self.stderr if result.error else self.stdout).write(line)
            if not options["loop"] or stop.wait(options["interval"]):
                return
