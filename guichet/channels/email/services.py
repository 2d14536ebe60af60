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
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import Team
from guichet.channels.email import outbound, parser, threading
from guichet.channels.email.models import InboundEmail, Mailbox, OutboundEmail
from guichet.conversations.models import Conversation, Message
from guichet.conversations.services import (
    event_record,
    message_delivery_status_set,
    message_ingest,
)
from guichet.conversations.types import IngestResult
from guichet.core.exceptions import Conflict, InvalidInput
from guichet.customers.identities import normalise_email
from guichet.customers.services import customer_find_by_identity

logger = logging.getLogger(__name__)

MAX_KEY = 255  # InboundEmail.dedupe_key, message_id_header
MAX_ERROR = 4000
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


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


def _existing(mailbox: Mailbox | None, key: str) -> InboundEmail | None:
    found = InboundEmail.objects.filter(dedupe_key=key)
    found = found.filter(mailbox=mailbox) if mailbox else found.filter(mailbox__isnull=True)
    return found.first()


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
    message_id = message_id_of(raw)
    key = dedupe_key_for(raw, message_id)
    existing = _existing(mailbox, key)
    if existing is not None:
        return _count_duplicate(existing)
    try:
        with transaction.atomic(durable=True):
            row = InboundEmail.objects.create(
                mailbox=mailbox,
                source=source,
                dedupe_key=key,
                message_id_header=message_id[:MAX_KEY],
                raw=raw,
                raw_sha256=hashlib.sha256(raw).hexdigest(),
                raw_size=len(raw),
                envelope_from=envelope_from[:255],
                envelope_to=envelope_to[:255],
            )
    except IntegrityError:
        # A concurrent delivery of the same message committed first.
        existing = _existing(mailbox, key)
        if existing is None:
            raise
        return _count_duplicate(existing)
    return Received(row, duplicate=False)


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


@dataclass(frozen=True)
class Threading:
    conversation_number: int | None
    verified_references: tuple[str, ...]


def thread_hints(parsed: Any) -> Threading:
    """Threading that cannot be spoofed (issue 3 item 6).

    References and In-Reply-To count only when they carry one of our HMAC-signed Message-IDs; a
    `[#1042]` subject tag counts only when the sender is the customer of conversation 1042.
    """
    # In-Reply-To first, then References from the most recent; a huge header is cut short.
    references = (_ids(parsed.in_reply_to) + _ids(parsed.references)[::-1])[:200]
    verified = tuple(
        dict.fromkeys(
            ref for ref in references if threading.conversation_number_from_references([ref])
        )
    )
    number = threading.conversation_number_from_references(list(verified)) if verified else None
    if number is None:
        tagged = threading.conversation_number_from_subject(parsed.subject or "")
        if tagged is not None and _is_participant(tagged, parsed.from_address or ""):
            number = tagged
    return Threading(number, verified)


def _external_id(row: InboundEmail, message_id: str) -> str:
    """The message's id for `message_ingest`'s idempotence.

    The same mail delivered to two of our mailboxes makes one conversation in each (E03), so the
    second mailbox's copy gets an id of its own.
    """
    if not message_id:
        return f"sha256:{row.raw_sha256}"
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


def _ingest(row: InboundEmail) -> tuple[Any, IngestResult | None]:
    """Parse and hand over one locked row; sets its final state. Raises on any failure."""
    parsed = parser.parse_email(bytes(row.raw), max_attachment_bytes=settings.ATTACHMENT_MAX_BYTES)
    if parsed.dsn is not None:
        _record_bounce(row, parsed.dsn)
        return parsed, None
    sender = (parsed.from_address or "").strip().lower()
    if sender and sender in own_addresses():
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
        external_id=_external_id(row, parsed.message_id or ""),
    )
    # The parser lists every reference; only the verified ones may thread (see thread_hints).
    inbound = dataclasses.replace(
        inbound,
        in_reply_to=hints.verified_references,
        conversation_number=hints.conversation_number,
        thread_on_open=False,
    )
    result = message_ingest(inbound)
    row.state = InboundEmail.State.INGESTED
    row.message = result.message
    row.error = ""
    row.processed_at = timezone.now()
    return parsed, result


def email_process(inbound_email: InboundEmail) -> InboundEmail:
    """Turn one stored message into a conversation message, or quarantine it.

    Idempotent: a row already processed (ingested, bounce, ignored, quarantined) is returned as
    is. Never raises for a bad message: the error is kept on the row for an admin to see.
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
            parsed, result = _ingest(row)
            row.save(update_fields=["state", "message", "error", "processed_at"])
            if result is not None:
                _acknowledge(row, parsed, result)
        return row
    except Exception as exc:
        logger.warning("Inbound email %s quarantined: %s", inbound_email.pk, exc)
        return _quarantine(inbound_email.pk, _error_summary(exc))


def _acknowledge(row: InboundEmail, parsed: Any, result: IngestResult) -> None:
    """Queue the acknowledgement in the ingest's transaction; its failure never loses the mail."""
    try:
        with transaction.atomic():
            outbound.acknowledge_after_ingest(row, parsed, result)
    except Exception:
        logger.exception("Acknowledgement for inbound email %s failed", row.pk)


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
