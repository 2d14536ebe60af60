"""IMAP polling (imap-tools): fetch unseen mail, store it, and only then flag it `\\Seen`.

Transport only. Safety comes from the order of operations (RELIABILITY E03, E04):

- one poller per mailbox: a lease taken with one atomic UPDATE on the Mailbox row (works on
  SQLite and PostgreSQL); a crashed poller's lease expires;
- each message is fetched with BODY.PEEK (which does not set `\\Seen`), stored with
  `email_receive` (committed), and only then flagged `\\Seen`. A crash in between re-fetches it
  next time, and the dedupe key (mailbox, Message-ID, else SHA-256) makes that re-fetch a no-op;
- a UIDVALIDITY change (the folder was rebuilt) needs nothing special for the same reason: we
  select by `UNSEEN`, not by remembered UIDs, and record the new value for operators.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from imap_tools import AND, BaseMailBox, MailBox, MailBoxUnencrypted

from guichet.channels.email.models import InboundEmail, Mailbox
from guichet.channels.email.services import email_process, email_store

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
BATCH = 200  # messages per poll; the rest waits for the next one
TIMEOUT_SECONDS = 60


@dataclass
class PollResult:
    mailbox: str
    skipped: bool = False  # another poller holds the lease
    stored: int = 0
    duplicates: int = 0
    processed: dict[str, int] = field(default_factory=dict)
    error: str = ""


def _lease_take(mailbox: Mailbox) -> bool:
    now = timezone.now()
    taken = (
        Mailbox.objects.filter(pk=mailbox.pk)
        .filter(Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now))
        .update(poll_lease_until=now + LEASE)
    )
    return taken == 1


def _lease_release(mailbox: Mailbox, *, error: str, uidvalidity: int | None) -> None:
    fields: dict[str, object] = {
        "poll_lease_until": None,
        "last_poll_at": timezone.now(),
        "last_poll_error": error[:2000],
    }
    if uidvalidity is not None:
        fields["imap_uidvalidity"] = uidvalidity
    Mailbox.objects.filter(pk=mailbox.pk).update(**fields)


def connect(mailbox: Mailbox) -> BaseMailBox:
    client: BaseMailBox
    if mailbox.imap_ssl:
        client = MailBox(mailbox.imap_host, mailbox.imap_port, timeout=TIMEOUT_SECONDS)
    else:
        client = MailBoxUnencrypted(mailbox.imap_host, mailbox.imap_port, timeout=TIMEOUT_SECONDS)
    return client.login(mailbox.imap_username, mailbox.imap_password, mailbox.imap_folder)


def _fetch_raw(client: BaseMailBox, uid: str) -> bytes | None:
    """The message's exact bytes; BODY.PEEK leaves `\\Seen` unset until we have stored it."""
    status, data = client.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def mailbox_poll(mailbox: Mailbox, *, batch: int = BATCH, process: bool = True) -> PollResult:
    """Poll one mailbox once; never raises for a server or network error (it is recorded)."""
    result = PollResult(mailbox.address)
    if not _lease_take(mailbox):
        result.skipped = True
        return result
    uidvalidity: int | None = None
    try:
        with connect(mailbox) as client:
            status = client.folder.status(mailbox.imap_folder, ["UIDVALIDITY"])
            uidvalidity = int(status["UIDVALIDITY"])
            if mailbox.imap_uidvalidity not in (None, uidvalidity):
                logger.warning("%s: UIDVALIDITY changed; deduplication applies", mailbox)
            for uid in client.uids(AND(seen=False))[:batch]:
                raw = _fetch_raw(client, uid)
                if raw is None:
                    continue  # expunged meanwhile
                received = email_store(raw=raw, mailbox=mailbox, source=InboundEmail.Source.IMAP)
                if received.duplicate:
                    result.duplicates += 1
                else:
                    result.stored += 1
                # Committed: now, and only now, the server may forget about it.
                client.flag(uid, r"\Seen", True)
                if process:
                    state = email_process(received.inbound_email).state
                    result.processed[state] = result.processed.get(state, 0) + 1
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        logger.warning("Polling %s failed: %s", mailbox, result.error)
    finally:
        _lease_release(mailbox, error=result.error, uidvalidity=uidvalidity)
    return result


def poll_all(*, batch: int = BATCH) -> list[PollResult]:
    """Poll every enabled mailbox that has an IMAP host, one after the other."""
    mailboxes = Mailbox.objects.filter(enabled=True).exclude(imap_host="").order_by("pk")
    return [mailbox_poll(mailbox, batch=batch) for mailbox in mailboxes]
