"""Inbound email: keep the raw message durably, then turn it into a conversation message.

Two steps, so that every transport can acknowledge as early as it safely may:

1. `email_receive` stores the raw bytes in `InboundEmail` and commits. SMTP answers 250, IMAP sets
   `\\Seen`, only after it returns (RFC 5321 §6.1, RELIABILITY E04). A second delivery of the same
   message (same mailbox and Message-ID, else same bytes) stores nothing and returns the first row.
2. `email_process` parses the stored row, resolves threading from verified hints only, and calls
   `message_ingest`. Any failure quarantines that one row with its error; the batch goes on.

Transports (`smtp.py`, `imap.py`, the `import_mail` command) call these two and nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import traceback
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import Team
from guichet.channels.email import acknowledgement, outbound, parser, threading
from guichet.channels.email.models import InboundEmail, Mailbox, OutboundEmail
from guichet.conversations.models import Conversation, Message
from guichet.conversations.services import (
    IngestRefused,
    event_record,
    ingest_lookups_cached,
    message_delivery_status_set,
    message_ingest,
    message_ingest_many,
)
from guichet.conversations.types import InboundMessage, IngestResult
from guichet.core.exceptions import Conflict, InvalidInput
from guichet.core.services import rows_update
from guichet.customers.identities import normalise_email
from guichet.customers.services import customer_find_by_identity

logger = logging.getLogger(__name__)

MAX_KEY = 255  # InboundEmail.dedupe_key, message_id_header
MAX_ERROR = 4000
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
REUSED_PREFIX = "midb:"  # dedupe keys of messages that reuse a Message-ID (see `reused_key_for`)


@dataclass(frozen=True)
class Received:
    inbound_email: InboundEmail
    duplicate: bool  # True when an earlier delivery of the same message was found


# --- step 1: store ------------------------------------------------------------------------------


def header_block(raw: bytes) -> bytes:
    """The header section only: enough to read Message-ID without parsing a 50 MB body."""
    end = _HEADER_END.search(raw)
    return raw if end is None else raw[: end.start()]


def message_id_of(raw: bytes) -> str:
    """The Message-ID without angle brackets, or "" when absent or unreadable."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(header_block(raw))
        value = str(headers.get("Message-ID", "") or "")
    except Exception:  # a broken header block is the parser's problem, not the store's
        return ""
    found = _ANGLE_ID.search(value)
    ident = found.group(1) if found else value.strip()
    return "" if any(ch in ident for ch in "\x00\r\n") else ident


def dedupe_key_for(raw: bytes, message_id: str) -> str:
    """`mid:<Message-ID>` when there is one, else `sha256:<hex of the raw bytes>`."""
    if message_id:
        key = f"mid:{message_id}"
        if len(key) <= MAX_KEY:
            return key
        return "mid-sha256:" + hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def body_digest(raw: bytes) -> str:
    """SHA-256 of the body (everything after the header block), line endings normalised.

    A re-delivery of one message keeps its body while its transport headers (`Received`,
    `Delivered-To`, `Return-Path`) change, and SMTP hands us CRLF where a file import has LF.
    """
    end = _HEADER_END.search(raw)
    body = b"" if end is None else raw[end.end() :]
    return hashlib.sha256(body.replace(b"\r\n", b"\n").rstrip()).hexdigest()


def reused_key_for(message_id: str, body_sha256: str) -> str:
    """The key of a *different* message that reuses a Message-ID already stored (scanners,
    web-form scripts and some mailers send a fixed one): the Message-ID and the body together."""
    identity = f"{message_id}\0{body_sha256}".encode("utf-8", "replace")
    return REUSED_PREFIX + hashlib.sha256(identity).hexdigest()


def _stored_body_digest(row: InboundEmail) -> str:
    # Rows stored before the column existed have none: read it from their raw bytes.
    return row.body_sha256 or body_digest(bytes(row.raw))


@dataclass(frozen=True)
class _Keys:
    """How one message is identified in the store (see `_key_for`)."""

    message_id: str
    primary: str  # `mid:…`, or `sha256:…` without a Message-ID
    reused: str  # `midb:…`: this Message-ID with this body; "" without a Message-ID
    body_sha256: str

    @classmethod
    def of(cls, raw: bytes) -> _Keys:
        message_id = message_id_of(raw)
        body = body_digest(raw)
        if not message_id:
            return cls("", dedupe_key_for(raw, ""), "", body)
        return cls(
            message_id, dedupe_key_for(raw, message_id), reused_key_for(message_id, body), body
        )

    def wanted(self) -> list[str]:
        return [key for key in (self.primary, self.reused) if key]


def _key_for(keys: _Keys, found: dict[str, InboundEmail]) -> tuple[str, InboundEmail | None]:
    """(the key to store the message under, or the stored row it duplicates).

    Only a true re-delivery is absorbed: the same Message-ID **and** the same body. Another
    message under a Message-ID already stored is kept under its own key ("Message-ID reused").
    """
    if keys.reused and keys.reused in found:
        return keys.reused, found[keys.reused]
    first = found.get(keys.primary)
    if first is None:
        return keys.primary, None
    if not keys.reused or _stored_body_digest(first) == keys.body_sha256:
        return keys.primary, first
    return keys.reused, None


def _existing(mailbox: Mailbox | None, keys: Sequence[str]) -> dict[str, InboundEmail]:
    found = InboundEmail.objects.filter(dedupe_key__in=list(keys)).defer("raw")
    found = found.filter(mailbox=mailbox) if mailbox else found.filter(mailbox__isnull=True)
    return {row.dedupe_key: row for row in found}


def _count_duplicate(row: InboundEmail) -> Received:
    InboundEmail.objects.filter(pk=row.pk).update(duplicates=F("duplicates") + 1)
    return Received(row, duplicate=True)


def email_store(
    *,
    raw: bytes,
    mailbox: Mailbox | None,
    source: str,
    envelope_from: str = "",
    envelope_to: str = "",
) -> Received:
    """Store the raw message and commit (a durable transaction: never inside a caller's)."""
    keys = _Keys.of(raw)
    for attempt in range(2):
        key, duplicate_of = _key_for(keys, _existing(mailbox, keys.wanted()))
        if duplicate_of is not None:
            return _count_duplicate(duplicate_of)
        try:
            with transaction.atomic(durable=True):
                row = InboundEmail.objects.create(
                    mailbox=mailbox,
                    source=source,
                    dedupe_key=key,
                    message_id_header=keys.message_id[:MAX_KEY],
                    raw=raw,
                    raw_sha256=hashlib.sha256(raw).hexdigest(),
                    body_sha256=keys.body_sha256,
                    raw_size=len(raw),
                    envelope_from=envelope_from[:255],
                    envelope_to=envelope_to[:255],
                )
        except IntegrityError:
            # A concurrent delivery committed that key first: look again (a duplicate of it, or
            # a different message under the same Message-ID).
            if attempt:
                raise
            continue
        return Received(row, duplicate=False)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Incoming:
    """One message for `email_store_batch`."""

    raw: bytes
    mailbox: Mailbox | None
    envelope_from: str = ""
    envelope_to: str = ""


def email_store_batch(items: Sequence[Incoming], *, source: str) -> list[Received]:
    """`email_store` for several messages with one commit; the same result for each item.

    One query finds the messages stored already, one INSERT stores the others, and their commit
    makes them all durable at once: only then may the caller acknowledge any of them. A message
    twice in `items` is stored once (the second is a duplicate of the first). When a concurrent
    writer stored one of them meanwhile, the batch is stored again item by item.
    """
    if not items:
        return []
    keyed = [(item, _Keys.of(item.raw)) for item in items]
    by_mailbox: dict[Mailbox | None, set[str]] = {}
    for item, keys in keyed:
        by_mailbox.setdefault(item.mailbox, set()).update(keys.wanted())
    wanted = Q(pk__in=[])
    for mailbox, wanted_keys in by_mailbox.items():
        # Per mailbox, so that each lookup uses its unique index.
        if mailbox is None:
            wanted |= Q(mailbox__isnull=True, dedupe_key__in=wanted_keys)
        else:
            wanted |= Q(mailbox=mailbox, dedupe_key__in=wanted_keys)
    known: dict[int | None, dict[str, InboundEmail]] = {}
    # Without the raw bytes: a duplicate's are not needed (read on access if ever).
    for row in InboundEmail.objects.filter(wanted).select_related("mailbox").defer("raw"):
        known.setdefault(row.mailbox_id, {})[row.dedupe_key] = row
    results: list[tuple[InboundEmail, bool]] = []
    new_rows: list[InboundEmail] = []
    for item, keys in keyed:
        found = known.setdefault(item.mailbox.pk if item.mailbox else None, {})
        key, duplicate_of = _key_for(keys, found)
        if duplicate_of is not None:
            results.append((duplicate_of, True))
            continue
        row = InboundEmail(
            mailbox=item.mailbox,
            source=source,
            dedupe_key=key,
            message_id_header=keys.message_id[:MAX_KEY],
            raw=item.raw,
            raw_sha256=hashlib.sha256(item.raw).hexdigest(),
            body_sha256=keys.body_sha256,
            raw_size=len(item.raw),
            envelope_from=item.envelope_from[:255],
            envelope_to=item.envelope_to[:255],
        )
        found[key] = row
        new_rows.append(row)
        results.append((row, False))
    duplicates = Counter(id(row) for row, duplicate in results if duplicate)
    try:
        with transaction.atomic(durable=True):
            InboundEmail.objects.bulk_create(new_rows)
            for row in {id(row): row for row, _duplicate in results}.values():
                if duplicates[id(row)]:
                    InboundEmail.objects.filter(pk=row.pk).update(
                        duplicates=F("duplicates") + duplicates[id(row)]
                    )
    except IntegrityError:
        # A concurrent delivery of one of them committed first: store them one at a time.
        return [
            email_store(
                raw=item.raw,
                mailbox=item.mailbox,
                source=source,
                envelope_from=item.envelope_from,
                envelope_to=item.envelope_to,
            )
            for item in items
        ]
    return [Received(row, duplicate=duplicate) for row, duplicate in results]


def email_receive(
    *,
    raw: bytes,
    mailbox: Mailbox | None,
    source: str,
    envelope_from: str = "",
    envelope_to: str = "",
) -> InboundEmail:
    """Store the raw message durably; on return it is committed and may be acknowledged."""
    return email_store(
        raw=raw,
        mailbox=mailbox,
        source=source,
        envelope_from=envelope_from,
        envelope_to=envelope_to,
    ).inbound_email


# --- step 2: process ----------------------------------------------------------------------------


def _ids(value: Any) -> list[str]:
    """Message-ids from a header value or a sequence of them, without angle brackets."""
    if not value:
        return []
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    found: list[str] = []
    for item in items:
        text = str(item)
        angle = _ANGLE_ID.findall(text)
        found.extend(angle or [part for part in text.split() if part])
    return found


def _error_summary(exc: BaseException) -> str:
    """The exception and its innermost frames: enough for an admin, bounded for the column."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-8)
    text = "".join(lines).strip()
    return text if len(text) <= MAX_ERROR else "…" + text[-(MAX_ERROR - 1) :]


def own_addresses() -> set[str]:
    return {address.lower() for address in Mailbox.objects.values_list("address", flat=True)}


def _is_participant(number: int, address: str) -> bool:
    """True when `address` is an email identity of the customer of conversation `number`."""
    conversation = Conversation.objects.filter(number=number).only("customer_id").first()
    if conversation is None or not address:
        return False
    try:
        customer = customer_find_by_identity(kind="email", value=address)
    except Exception:  # an address we cannot normalise belongs to nobody
        return False
    return customer is not None and customer.pk == conversation.customer_id


def _customer_thread(references: Sequence[str], address: str) -> int | None:
    """The conversation of the sender's own earlier mail that this one answers, if any.

    A customer often follows up on their own mail ("I forgot the attachment"), and a migration
    import holds whole threads of customer mail: In-Reply-To or References naming an inbound
    mail we stored joins its conversation when the sender is that conversation's customer, the
    same trust as the subject tag. Anyone else quoting the id opens a new conversation.
    """
    if not references or not address:
        return None
    found = list(
        InboundEmail.objects.filter(
            message_id_header__in=list(references[:50]), message__isnull=False
        ).values_list("message__conversation__number", "message__conversation__customer_id")
    )
    if not found:
        return None
    try:
        customer = customer_find_by_identity(kind="email", value=address)
    except Exception:  # an address we cannot normalise belongs to nobody
        return None
    if customer is None:
        return None
    for number, customer_id in found:
        if customer_id == customer.pk:
            return int(number)
    return None


@dataclass(frozen=True)
class Threading:
    conversation_number: int | None
    verified_references: tuple[str, ...]
    # A genuine reference to this conversation, from an address that is not its customer's: the
    # mail opens its own conversation instead (a forwarded mail, a shared mailbox; issue 12).
    refused_number: int | None = None


def thread_hints(parsed: Any) -> Threading:
    """Threading that cannot be spoofed (issue 3 item 6).

    References and In-Reply-To count when they carry one of our HMAC-signed Message-IDs; a
    `[#1042]` subject tag, or a reference to a mail the customer sent us, counts only when the
    sender is the customer of that conversation.
    """
    # In-Reply-To first, then References from the most recent; a huge header is cut short.
    references = (_ids(parsed.in_reply_to) + _ids(parsed.references)[::-1])[:200]
    verified = tuple(
        dict.fromkeys(
            ref for ref in references if threading.conversation_number_from_references([ref])
        )
    )
    number = threading.conversation_number_from_references(list(verified)) if verified else None
    if number is not None and not _is_participant(number, parsed.from_address or ""):
        return Threading(None, (), refused_number=number)
    if number is None:
        tagged = threading.conversation_number_from_subject(parsed.subject or "")
        if tagged is not None and _is_participant(tagged, parsed.from_address or ""):
            number = tagged
    if number is None:
        number = _customer_thread(references, parsed.from_address or "")
    return Threading(number, verified)


@dataclass
class Lookups:
    """What a batch reads once instead of once per message (`email_process_batch`)."""

    own_addresses: set[str]
    own_domains: set[str]
    # Message-ID -> mailboxes of the rows already ingested with it (the E03 check below), for
    # the Message-IDs in `prefetched`; kept up to date as the batch ingests.
    ingested_in: dict[str, set[int | None]] = field(default_factory=dict)
    prefetched: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, rows: Sequence[InboundEmail]) -> Lookups:
        addresses, domains = acknowledgement.own_addresses_and_domains()
        lookups = cls(addresses, domains)
        ids = {row.message_id_header for row in rows if row.message_id_header}
        if ids:
            for message_id, mailbox_id in InboundEmail.objects.filter(
                message_id_header__in=ids, message__isnull=False
            ).values_list("message_id_header", "mailbox_id"):
                lookups.ingested_in.setdefault(message_id, set()).add(mailbox_id)
        lookups.prefetched = ids
        return lookups

    def ingested(self, message_id: str, mailbox_id: int | None) -> None:
        if message_id in self.prefetched:
            self.ingested_in.setdefault(message_id, set()).add(mailbox_id)


def _external_id(row: InboundEmail, message_id: str, lookups: Lookups | None = None) -> str:
    """The message's id for `message_ingest`'s idempotence.

    The same mail delivered to two of our mailboxes makes one conversation in each (E03), so the
    second mailbox's copy gets an id of its own.
    """
    if not message_id:
        return f"sha256:{row.raw_sha256}"
    if row.dedupe_key.startswith(REUSED_PREFIX):
        # Another message reusing a Message-ID: an id of its own, or ingest would skip it.
        return f"{message_id[: MAX_KEY - 30]}#{row.dedupe_key[:21]}"
    if lookups is not None and message_id in lookups.prefetched:
        # The row itself is not ingested yet, so every mailbox listed is another row's.
        elsewhere = any(
            mailbox_id != row.mailbox_id for mailbox_id in lookups.ingested_in.get(message_id, ())
        )
    else:
        elsewhere = (
            InboundEmail.objects.filter(message_id_header=message_id, message__isnull=False)
            .exclude(pk=row.pk)
            .exclude(mailbox=row.mailbox)
            .exists()
        )
    if row.mailbox_id is not None and elsewhere:
        return f"{message_id}#mailbox-{row.mailbox_id}"[:MAX_KEY]
    return message_id[:MAX_KEY]


def _record_bounce(row: InboundEmail, dsn: Any) -> None:
    """A delivery-status notification: mark the outbound message failed, tell the timeline."""
    original = (_ids(getattr(dsn, "original_message_id", "")) or [""])[0]
    bounced = (
        OutboundEmail.objects.select_related("conversation", "message")
        .filter(Q(message_id_header=original) | Q(message_id_header=f"<{original}>"))
        .first()
        if original
        else None
    )
    row.processed_at = timezone.now()
    if bounced is None:
        row.state = InboundEmail.State.IGNORED
        row.error = _("Delivery report for a message we did not send: %(id)s") % {
            "id": original or "?"
        }
        return
    row.state = InboundEmail.State.BOUNCE
    if bounced.message is not None:
        message_delivery_status_set(
            message_id=bounced.message.pk, status=Message.DeliveryStatus.FAILED
        )
        row.message = bounced.message
    event_record(
        verb="email.bounced",
        conversation=bounced.conversation,
        actor_name=_("Mail system"),
        data={
            "outbound_email_id": bounced.pk,
            "message_id_header": bounced.message_id_header,
            "to": bounced.to_address,
            "status": str(getattr(dsn, "status", "") or "")[:50],
            "diagnostic": str(getattr(dsn, "diagnostic", "") or "")[:500],
            "inbound_email_id": row.pk,
        },
    )


def _prepare(
    row: InboundEmail, lookups: Lookups | None = None
) -> tuple[Any, InboundMessage | None]:
    """Parse one locked row and say what to ingest: (parsed, the message for `message_ingest`),
    or (parsed, None) with the row's final state set (a delivery report, our own address).
    Raises on any failure; writes only inside a savepoint (a bounce)."""
    parsed = parser.parse_email(bytes(row.raw), max_attachment_bytes=settings.ATTACHMENT_MAX_BYTES)
    if parsed.dsn is not None:
        with transaction.atomic():  # a savepoint: a failure leaves nothing half-written
            _record_bounce(row, parsed.dsn)
        return parsed, None
    sender = (parsed.from_address or "").strip().lower()
    own = lookups.own_addresses if lookups is not None else own_addresses()
    if sender and sender in own:
        # E02: our own address is never made a requester (and never acknowledged: no loop).
        row.state = InboundEmail.State.IGNORED
        row.error = _("Sent from our own address %(address)s: no conversation.") % {
            "address": sender
        }
        row.processed_at = timezone.now()
        return parsed, None
    hints = thread_hints(parsed)
    inbound = parser.to_inbound(
        parsed,
        raw_ref=f"inbound-email:{row.pk}",
        team_id=row.mailbox.team_id if row.mailbox else None,
        external_id=_external_id(row, parsed.message_id or "", lookups),
    )
    # The parser lists every reference; only the verified ones may thread (see thread_hints).
    inbound = dataclasses.replace(
        inbound,
        in_reply_to=hints.verified_references,
        conversation_number=hints.conversation_number,
        thread_on_open=False,
    )
    if lookups is not None and parsed.message_id:
        lookups.ingested(parsed.message_id, row.mailbox_id)
    _REFUSED_THREADS.pop(row.pk, None)  # an earlier, failed attempt at this row
    if hints.refused_number is not None:
        _REFUSED_THREADS[row.pk] = (hints.refused_number, parsed.from_address or "")
    return parsed, inbound


# Rows whose genuine thread reference was refused (`Threading.refused_number`), from `_prepare`
# to `_ingested` of the same transaction: (the conversation referenced, the sender's address).
_REFUSED_THREADS: dict[int, tuple[int, str]] = {}


def _ingested(row: InboundEmail, result: IngestResult) -> None:
    row.state = InboundEmail.State.INGESTED
    row.message = result.message
    row.error = ""
    row.processed_at = timezone.now()
    refused = _REFUSED_THREADS.pop(row.pk, None)
    if refused is not None and result.created:
        event_record(
            verb="email.thread_refused",
            conversation=result.conversation,
            actor_name=_("Email"),
            data={"number": refused[0], "from": refused[1][:254]},
        )


def _ingest(row: InboundEmail, lookups: Lookups | None = None) -> tuple[Any, IngestResult | None]:
    """Parse and hand over one locked row; sets its final state. Raises on any failure."""
    parsed, inbound = _prepare(row, lookups)
    if inbound is None:
        return parsed, None
    result = message_ingest(inbound)
    _ingested(row, result)
    return parsed, result


def _acknowledges(row: InboundEmail, acknowledge: bool | None) -> bool:
    """Whether to acknowledge this row's mail: imported mail (history from another system)
    only when the import asked for it (`import_mail --acknowledge`)."""
    return row.source != InboundEmail.Source.IMPORT if acknowledge is None else acknowledge


def email_process(inbound_email: InboundEmail, *, acknowledge: bool | None = None) -> InboundEmail:
    """Turn one stored message into a conversation message, or quarantine it.

    Idempotent: a row already processed (ingested, bounce, ignored, quarantined) is returned as
    is. Never raises for a bad message: the error is kept on the row for an admin to see.
    `acknowledge` (None: every row but imported ones) says whether a new conversation may get
    its acknowledgement.
    """
    try:
        with transaction.atomic():
            row = (
                InboundEmail.objects.select_for_update(of=("self",))
                .select_related("mailbox")
                .get(pk=inbound_email.pk)
            )
            if row.state != InboundEmail.State.RECEIVED:
                return row
            lookups = Lookups.load([row])  # our addresses read once for both uses
            parsed, result = _ingest(row, lookups)
            row.save(update_fields=["state", "message", "error", "processed_at"])
            if result is not None and _acknowledges(row, acknowledge):
                _acknowledge(row, parsed, result, lookups)
        return row
    except Exception as exc:
        logger.warning("Inbound email %s quarantined: %s", inbound_email.pk, exc)
        return _quarantine(inbound_email.pk, _error_summary(exc))


def _acknowledge(
    row: InboundEmail,
    parsed: Any,
    result: IngestResult,
    lookups: Lookups | None = None,
    *,
    savepoint: bool = True,
) -> None:
    """Queue the acknowledgement in the ingest's transaction; its failure never loses the mail.

    `savepoint=False` (a batch's first pass) lets a failure propagate instead: the batch is then
    replayed with savepoints.
    """
    if not result.created or not result.conversation_created or row.mailbox is None:
        return  # nothing to acknowledge: spare the savepoint
    own = (lookups.own_addresses, lookups.own_domains) if lookups is not None else None
    if not savepoint:
        outbound.acknowledge_after_ingest(row, parsed, result, own=own)
        return
    try:
        with transaction.atomic():
            outbound.acknowledge_after_ingest(row, parsed, result, own=own)
    except Exception:
        logger.exception("Acknowledgement for inbound email %s failed", row.pk)


class _Replay(Exception):
    """A message failed in a way only a savepoint can undo: replay the batch with savepoints."""


def email_process_batch(
    rows: Sequence[InboundEmail], *, acknowledge: bool | None = None
) -> list[InboundEmail]:
    """`email_process` for several stored rows with one commit; the same outcome for each row.

    One transaction for the batch. The first pass parses every row, then hands the messages to
    `message_ingest_many` at once (set-based writes, the ingest hooks in batch form). A message
    refused before anything of it was written (the parser's refusal, a refusal by
    `message_ingest_many`, which writes nothing then) is quarantined and the batch goes on; any
    other failure rolls the whole batch back and it is replayed with a savepoint per message (as
    `email_process` would), so that the failing message is undone and quarantined alone. Should
    that fail too (the database, not a message), each row is processed on its own. Per-batch
    reads (our addresses, copies in other mailboxes, teams) are done once, and the
    acknowledgements' send tasks are enqueued together after the commit. Rows another worker
    holds or has processed are returned as they are now. `acknowledge` as for `email_process`.
    """
    if not rows:
        return []
    try:
        with outbound.enqueue_batched():
            try:
                done = _process_batch(rows, safe=False, acknowledge=acknowledge)
            except _Replay as replay:
                logger.info("Replaying a batch of inbound emails with savepoints: %s", replay)
                done = _process_batch(rows, safe=True, acknowledge=acknowledge)
    except Exception:
        logger.exception("Batch of %s inbound emails failed; processing one by one", len(rows))
        return [email_process(row, acknowledge=acknowledge) for row in rows]
    if len(done) == len(rows):
        return [done[row.pk] for row in rows]
    others = InboundEmail.objects.select_related("mailbox").in_bulk(
        [row.pk for row in rows if row.pk not in done]
    )
    return [done.get(row.pk) or others[row.pk] for row in rows]


def _process_batch(
    rows: Sequence[InboundEmail], *, safe: bool, acknowledge: bool | None = None
) -> dict[int, InboundEmail]:
    done: dict[int, InboundEmail] = {}
    with ingest_lookups_cached(), transaction.atomic(durable=True):
        mine = set(
            InboundEmail.objects.select_for_update()
            .filter(pk__in=[row.pk for row in rows], state=InboundEmail.State.RECEIVED)
            .values_list("pk", flat=True)
        )
        lookups = Lookups.load([row for row in rows if row.pk in mine])
        pending: list[tuple[InboundEmail, Any, InboundMessage]] = []
        for row in rows:
            if row.pk not in mine or row.pk in done:
                continue
            done[row.pk] = row
            if safe:
                try:
                    with transaction.atomic():
                        parsed, result = _ingest(row, lookups)
                        if result is not None and _acknowledges(row, acknowledge):
                            _acknowledge(row, parsed, result, lookups)
                except Exception as exc:
                    _quarantine_row(row, exc)
                continue
            try:
                parsed, inbound = _prepare(row, lookups)
            except Exception as exc:
                if isinstance(exc, DatabaseError) or transaction.get_rollback():
                    # The transaction may be broken (PostgreSQL) or hold writes of this message.
                    raise _Replay(f"inbound email {row.pk}: {exc}") from exc
                # Nothing of it was written: `_prepare` writes only inside savepoints.
                _quarantine_row(row, exc)
                continue
            if inbound is not None:
                pending.append((row, parsed, inbound))
        if pending:
            _ingest_pending(pending, lookups, acknowledge)
        _rows_save(list(done.values()))
    return done


def _rows_save(rows: list[InboundEmail]) -> None:
    """Write the batch's row states: they commit together, so with one processing time. A plain
    UPDATE per state and error; the message links, one per row, in one CASE statement."""
    now = timezone.now()
    for row in rows:
        row.processed_at = now
    rows_update(rows, ["state", "error", "processed_at"])
    linked = [row for row in rows if row.message_id is not None]
    if linked:
        InboundEmail.objects.bulk_update(linked, ["message"])


def _ingest_pending(
    pending: list[tuple[InboundEmail, Any, InboundMessage]],
    lookups: Lookups,
    acknowledge: bool | None,
) -> None:
    """The batch's first pass: every parsed message through `message_ingest_many` at once."""
    try:
        try:
            results = message_ingest_many([inbound for _row, _parsed, inbound in pending])
        except IngestRefused as refused:
            # Nothing was written: quarantine the refused ones, ingest the others.
            for index, exc in refused.errors.items():
                _quarantine_row(pending[index][0], exc)
            pending = [item for i, item in enumerate(pending) if i not in refused.errors]
            results = message_ingest_many([inbound for _row, _parsed, inbound in pending])
    except Exception as exc:
        raise _Replay(f"ingesting a batch of {len(pending)}: {exc}") from exc
    for (row, parsed, _inbound), result in zip(pending, results, strict=True):
        _ingested(row, result)
        if _acknowledges(row, acknowledge):
            try:
                _acknowledge(row, parsed, result, lookups, savepoint=False)
            except Exception as exc:
                raise _Replay(f"acknowledging inbound email {row.pk}: {exc}") from exc


def _quarantine_row(row: InboundEmail, exc: BaseException) -> None:
    logger.warning("Inbound email %s quarantined: %s", row.pk, exc)
    row.state = InboundEmail.State.QUARANTINED
    row.message = None
    row.error = _error_summary(exc)
    row.processed_at = timezone.now()


def _quarantine(pk: int, error: str) -> InboundEmail:
    InboundEmail.objects.filter(pk=pk, state=InboundEmail.State.RECEIVED).update(
        state=InboundEmail.State.QUARANTINED, error=error, processed_at=timezone.now()
    )
    return InboundEmail.objects.get(pk=pk)


def email_reprocess(inbound_email: InboundEmail) -> InboundEmail:
    """Give a quarantined or ignored message another try (after a parser fix, say)."""
    InboundEmail.objects.filter(
        pk=inbound_email.pk,
        state__in=[InboundEmail.State.QUARANTINED, InboundEmail.State.IGNORED],
    ).update(state=InboundEmail.State.RECEIVED, error="", processed_at=None)
    return email_process(inbound_email)


def email_process_pending(*, limit: int | None = None) -> int:
    """Process stored rows still `received` (a crash between step 1 and 2); returns how many."""
    pending = InboundEmail.objects.filter(state=InboundEmail.State.RECEIVED).order_by("pk")
    ids = list(pending.values_list("pk", flat=True))
    if limit is not None:
        ids = ids[:limit]
    for pk in ids:
        email_process(InboundEmail(pk=pk))
    return len(ids)


# --- mailboxes ----------------------------------------------------------------------------------


def mailbox_for_address(address: str) -> Mailbox | None:
    """The enabled mailbox receiving for `address` (case-insensitive), or None."""
    address = address.strip().strip("<>").strip()
    if not address:
        return None
    return Mailbox.objects.filter(address__iexact=address, enabled=True).first()


def mailbox_create(
    *,
    address: str,
    team: Team | None = None,
    name: str = "",
    auto_acknowledge: bool = True,
    imap_host: str = "",
    imap_port: int = 993,
    imap_ssl: bool = True,
    imap_username: str = "",
    imap_password: str = "",
    imap_folder: str = "INBOX",
) -> Mailbox:
    """Add a mailbox; the address is lower-cased and must not exist yet."""
    value = normalise_email(address)
    if Mailbox.objects.filter(address__iexact=value).exists():
        raise Conflict(_("The mailbox %(address)s exists already.") % {"address": value})
    if imap_host and not (imap_username and imap_password):
        raise InvalidInput(_("IMAP polling needs a user name and a password."))
    return Mailbox.objects.create(
        address=value,
        team=team,
        name=name[:120],
        auto_acknowledge=auto_acknowledge,
        imap_host=imap_host,
        imap_port=imap_port,
        imap_ssl=imap_ssl,
        imap_username=imap_username,
        imap_password=imap_password,
        imap_folder=imap_folder or "INBOX",
    )
