"""`manage.py smtp_server`: receive mail handed over by an MTA (SMTP or LMTP) for our mailboxes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from guichet.channels.email.smtp import DEFAULT_MAX_SIZE, InboundServer


class Command(BaseCommand):
    help = (
        "Accept mail for the configured mailboxes over SMTP (or LMTP) and store it before "
        "answering 250. Runs until Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=2525, help="port to listen on")
        parser.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP")
        parser.add_argument(
            "--max-size",
            type=int,
            default=DEFAULT_MAX_SIZE,
            help="largest message accepted, in bytes (larger ones get 552)",
        )
        parser.add_argument("--hostname", default=None, help="name announced in the greeting")

    def handle(self, *args: Any, **options: Any) -> None:
        server = InboundServer(
            options["host"],
            options["port"],
            lmtp=options["lmtp"],
            max_size=options["max_size"],
            hostname=options["hostname"],
        )
        protocol = "LMTP" if options["lmtp"] else "SMTP"

        def ready() -> None:
            self.stdout.write(f"Guichet {protocol} server listening on {server.host}:{server.port}")
            self.stdout.flush()

        server.serve_forever(on_ready=ready)
        self.stdout.write("Stopped.")
