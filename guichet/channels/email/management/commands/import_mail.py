"""`manage.py import_mail PATH…`: import message files, Maildir folders and mbox files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from guichet.channels.email.mailfiles import (
    Source,
    count_messages,
    iter_messages,
    recipient_addresses,
)
from guichet.channels.email.models import InboundEmail, Mailbox
from guichet.channels.email.services import (
    Incoming,
    Received,
    email_process_batch,
    email_store,
    email_store_batch,
)
from guichet.conversations.services import ingest_helpers

BATCH_BYTES = 32 * 1024 * 1024  # a batch also ends once its messages reach this size


class Command(BaseCommand):
    help = (
        "Import mail from message files, Maildir folders and mbox files (e.g. from another "
        "helpdesk). Files are taken by their content, whatever their name; those that are not "
        "mail are listed and skipped. Each message is stored, then ingested or quarantined; "
        "importing twice creates nothing twice."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "paths", nargs="+", type=Path, help="message file, Maildir, mbox, or a folder of them"
        )
        parser.add_argument(
            "--mailbox",
            default=None,
            help="mailbox address to file everything under (default: the first mailbox found "
            "in Delivered-To, To or Cc; else none, and the default team)",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=100,
            help="messages stored and processed per transaction (100); each message still "
            "succeeds or is quarantined on its own",
        )
        parser.add_argument(
            "--acknowledge",
            action="store_true",
            help="send the mailboxes' acknowledgements for the conversations the import opens "
            "(default: none; imported mail is history, its senders were answered elsewhere)",
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=0,
            help="helper processes for triage's intent model, besides this one (default 0: "
            "none). Worth it only with idle cores: on a shared 2-core machine one helper was "
            "no faster (docs/email.md)",
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
        skipped: list[Source] = []
        total = count_messages(paths, skipped=skipped)
        for source in skipped:
            self.stderr.write(f"{source.path}: skipped, {source.reason}")
        progress = tqdm(
            iter_messages(paths),
            total=total,
            unit="msg",
            disable=options["no_progress"],
            file=self.stderr,
        )
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        if options["processes"] < 0:
            raise CommandError("--processes must be 0 or more")
        batch: list[Incoming] = []
        size = 0
        with ingest_helpers(processes=options["processes"]):
            for reference, raw in progress:
                mailbox = forced or next(
                    (mailboxes[a] for a in recipient_addresses(raw) if a in mailboxes), None
                )
                batch.append(Incoming(raw=raw, mailbox=mailbox, envelope_to=reference))
                size += len(raw)
                if len(batch) >= options["batch"] or size >= BATCH_BYTES:
                    self._import(batch, counts, acknowledge=options["acknowledge"])
                    batch, size = [], 0
            self._import(batch, counts, acknowledge=options["acknowledge"])
        self.stdout.write(
            f"{total} messages: {counts[InboundEmail.State.INGESTED]} ingested, "
            f"{counts['duplicates']} duplicates skipped, "
            f"{counts[InboundEmail.State.QUARANTINED]} quarantined, "
            f"{counts[InboundEmail.State.BOUNCE]} delivery reports, "
            f"{counts[InboundEmail.State.IGNORED]} ignored, "
            f"{len(skipped)} files skipped (not mail)"
            + (f", {counts['not stored']} NOT STORED" if counts["not stored"] else "")
            + "."
        )
        if counts["not stored"]:
            raise CommandError("Some messages could not be stored; see above.")

    def _import(self, batch: list[Incoming], counts: Counter[str], *, acknowledge: bool) -> None:
        """Store the batch (one commit), then ingest or quarantine each message (one more)."""
        if not batch:
            return
        source = InboundEmail.Source.IMPORT
        try:
            received = email_store_batch(batch, source=source)
        except Exception:
            received = [r for r in (self._store_one(item, counts) for item in batch) if r]
        fresh: dict[int, InboundEmail] = {}
        for item in received:
            row = item.inbound_email
            if row.pk in fresh:
                counts["duplicates"] += 1  # twice in this batch: processed once, counted once
            elif not item.duplicate or row.state == InboundEmail.State.RECEIVED:
                # New, or stored by an earlier run that stopped before processing it.
                fresh[row.pk] = row
            else:
                counts["duplicates"] += 1
        for row in email_process_batch(list(fresh.values()), acknowledge=acknowledge):
            counts[row.state] += 1

    def _store_one(self, item: Incoming, counts: Counter[str]) -> Received | None:
        try:
            return email_store(
                raw=item.raw,
                mailbox=item.mailbox,
                source=InboundEmail.Source.IMPORT,
                envelope_to=item.envelope_to,
            )
        except Exception as exc:
            counts["not stored"] += 1
            self.stderr.write(f"{item.envelope_to}: not stored: {exc}")
            return None
