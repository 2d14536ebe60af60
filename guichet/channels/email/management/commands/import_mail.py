"""`manage.py import_mail PATH…`: import .eml files, Maildir folders and mbox files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from guichet.channels.email.mailfiles import count_messages, iter_messages, recipient_addresses
from guichet.channels.email.models import InboundEmail, Mailbox
from guichet.channels.email.services import email_process, email_store


class Command(BaseCommand):
    help = (
        "Import mail from .eml files, Maildir folders and mbox files (e.g. from another "
        "helpdesk). Each message is stored, then ingested or quarantined; importing twice "
        "creates nothing twice."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help=".eml file, Maildir or mbox")
        parser.add_argument(
            "--mailbox",
            default=None,
            help="mailbox address to file everything under (default: the first mailbox found "
            "in Delivered-To, To or Cc; else none, and the default team)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[Path] = options["paths"]
        for path in paths:
            if not path.exists():
                raise CommandError(f"{path}: no such file or folder")
        forced: Mailbox | None = None
        if options["mailbox"]:
            forced = Mailbox.objects.filter(address__iexact=options["mailbox"]).first()
            if forced is None:
                raise CommandError(f"No mailbox {options['mailbox']}; add it with mailbox_add.")
        mailboxes = {mailbox.address.lower(): mailbox for mailbox in Mailbox.objects.all()}
        counts: Counter[str] = Counter()
        total = count_messages(paths)
        progress = tqdm(
            iter_messages(paths),
            total=total,
            unit="msg",
            disable=options["no_progress"],
            file=self.stderr,
        )
        for reference, raw in progress:
            mailbox = forced or next(
                (mailboxes[a] for a in recipient_addresses(raw) if a in mailboxes), None
            )
            try:
                received = email_store(
                    raw=raw,
                    mailbox=mailbox,
                    source=InboundEmail.Source.IMPORT,
                    envelope_to=reference,
                )
            except Exception as exc:
                counts["not stored"] += 1
                self.stderr.write(f"{reference}: not stored: {exc}")
                continue
            if received.duplicate:
                counts["duplicates"] += 1
                continue
            counts[email_process(received.inbound_email).state] += 1
        self.stdout.write(
            f"{total} messages: {counts[InboundEmail.State.INGESTED]} ingested, "
            f"{counts['duplicates']} duplicates skipped, "
            f"{counts[InboundEmail.State.QUARANTINED]} quarantined, "
            f"{counts[InboundEmail.State.BOUNCE]} delivery reports, "
            f"{counts[InboundEmail.State.IGNORED]} ignored"
            + (f", {counts['not stored']} NOT STORED" if counts["not stored"] else "")
            + "."
        )
        if counts["not stored"]:
            raise CommandError("Some messages could not be stored; see above.")
