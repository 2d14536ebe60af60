"""Writers of paper mail: receive scans, read them (OCR), file them as conversations, link senders,
and produce answer letters.

Upload stores the scan and a `PaperLetter` row first (nothing accepted is lost), then a task runs
OCR and hands the letter to `message_ingest` (channel "paper") with the scan attached and the
recognised text as the message text, which the search indexes. OCR failure still files the
letter, with the scan and "OCR failed" on the letter and on the conversation's timeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.channels.paper.matching import sender_match
from guichet.channels.paper.models import PaperLetter
from guichet.channels.paper.ocr import ACCEPTED_TYPES, OcrFailed, OcrLimits, ocr_bytes
from guichet.conversations.content import safe_filename, sniff_content_type, store_bytes
from guichet.conversations.models import Attachment, Conversation, Message
from guichet.conversations.services import (
    conversation_customer_set,
    event_record,
    message_delivery_status_set,
    message_ingest,
)
from guichet.conversations.types import InboundAttachment, InboundMessage
from guichet.core.exceptions import InvalidInput
from guichet.customers.identities import normalise_email, normalise_phone
from guichet.customers.models import Customer
from guichet.customers.services import customer_find_by_identity

logger = logging.getLogger(__name__)

MAX_BATCH = 20
UNKNOWN_SENDER_KIND = "chat"  # a handle that only this letter carries, until an agent links it


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


def _limits() -> OcrLimits:
    return OcrLimits(
        timeout_seconds=settings.PAPER_OCR_TIMEOUT_SECONDS,
        memory_mb=settings.PAPER_OCR_MEMORY_MB,
        max_pages=settings.PAPER_OCR_MAX_PAGES,
    )


def letters_upload(*, actor: User, uploads: list[Upload]) -> list[PaperLetter]:
    """Accept scans (one or a batch); each is stored, then read by a task after commit.

    The whole batch is checked before anything is stored, so a bad file refuses the batch with a
    message naming it, and nothing is half-stored.
    """
    if not uploads:
        raise InvalidInput(_("Choose at least one scanned letter."))
    if len(uploads) > MAX_BATCH:
        raise InvalidInput(_("At most %(n)d letters at once.") % {"n": MAX_BATCH})
    checked = []
    for upload in uploads:
        name = safe_filename(upload.filename)
        kind = sniff_content_type(upload.content)
        if not upload.content:
            raise InvalidInput(_("“%(name)s” is empty.") % {"name": name})
        if len(upload.content) > settings.ATTACHMENT_MAX_BYTES:
            raise InvalidInput(_("“%(name)s” is too large.") % {"name": name})
        if kind not in ACCEPTED_TYPES:
            raise InvalidInput(
                _("“%(name)s” is not a PDF, JPEG, PNG or TIFF scan.") % {"name": name}
            )
        checked.append((name, kind, upload.content))
    team = actor.teams.order_by("id").first()
    letters = []
    with transaction.atomic():
        for name, kind, content in checked:
            key, digest = store_bytes(content, folder="paper")
            letter = PaperLetter.objects.create(
                uploaded_by=actor,
                team=team,
                storage_key=key,
                filename=name,
                content_type=kind,
                size=len(content),
                sha256=digest,
            )
            letters.append(letter)
        ids = [letter.pk for letter in letters]
        transaction.on_commit(lambda: _enqueue(ids))
    return letters


def _enqueue(ids: list[int]) -> None:
    from guichet.channels.paper.tasks import paper_letter_process

    for letter_id in ids:
        paper_letter_process.enqueue(letter_id)


def letter_process(*, letter_id: int) -> PaperLetter:
    """OCR one letter and file it as a conversation. Idempotent: a filed letter is left alone."""
    letter = PaperLetter.objects.get(pk=letter_id)
    if letter.conversation_id is not None:
        return letter
    with default_storage.open(letter.storage_key, "rb") as handle:
        content = handle.read()
    text, pages, error = "", 0, ""
    try:
        read = ocr_bytes(content, letter.content_type, _limits())
        text, pages = read.text, read.pages
    except OcrFailed as exc:
        error = str(exc)[:255]
        logger.warning("OCR failed for paper letter %s: %s", letter.pk, error)
    match = sender_match(text) if text else None
    identity = match.customer.identities.order_by("id").first() if match else None
    kind, value, name = UNKNOWN_SENDER_KIND, f"paper-letter-{letter.pk}", ""
    if match is not None and identity is not None:
        kind, value, name = identity.kind, identity.value, match.customer.display_name
    else:
        name = _("Unidentified sender (letter %(n)d)") % {"n": letter.pk}
    body = text if not error else _("OCR failed: read the attached scan.")
    with transaction.atomic():
        result = message_ingest(
            InboundMessage(
                channel="paper",
                sender_kind=kind,
                sender_value=value,
                sender_name=name,
                subject=_("Letter: %(name)s") % {"name": letter.filename},
                text=body,
                external_id=f"paper-letter-{letter.pk}",
                conversation_number=match.conversation_number if match else None,
                team_id=letter.team_id,
                attachments=(InboundAttachment(letter.filename, content, letter.content_type),),
                source_ref=letter.storage_key,
            )
        )
        letter.conversation = result.conversation
        letter.text = text
        letter.pages = pages
        letter.ocr_error = error
        letter.status = PaperLetter.Status.OCR_FAILED if error else PaperLetter.Status.DONE
        letter.matched_by = match.by if (match and identity is not None) else ""
        letter.processed_at = timezone.now()
        letter.save()
        event_record(
            verb="paper.ocr_failed" if error else "paper.read",
            conversation=result.conversation,
            actor_name=_("OCR"),
            data={
                "letter": letter.pk,
                "pages": pages,
                "error": error,
                "matched_by": letter.matched_by,
            },
        )
    return letter


def customer_by_identifier(raw: str) -> Customer | None:
    """A customer from what an agent typed: email, phone, or customer number."""
    raw = raw.strip()
    if not raw:
        return None
    if raw.lstrip("#").isdigit() and len(raw) < 10:
        customer = Customer.objects.filter(pk=int(raw.lstrip("#"))).first()
        if customer is not None:
            return customer
    if "@" in raw:
        return customer_find_by_identity(kind="email", value=normalise_email(raw))
    return customer_find_by_identity(kind="phone", value=normalise_phone(raw))


def letter_sender_link(*, actor: User, letter: PaperLetter, identifier: str) -> Conversation:
    """An agent found who wrote: the letter's conversation moves to that customer."""
    if letter.conversation is None:
        raise InvalidInput(_("This letter has not been read yet."))
    customer = customer_by_identifier(identifier)
    if customer is None:
        raise InvalidInput(_("No customer has this email address, phone number or number."))
    with transaction.atomic():
        conversation = conversation_customer_set(
            actor=actor, conversation=letter.conversation, customer=customer
        )
        PaperLetter.objects.filter(pk=letter.pk).update(matched_by="agent")
    return conversation


def letter_render_for(*, message_id: int) -> Attachment | None:
    """Render the reply `message_id` as a printable PDF letter and attach it (idempotent)."""
    from guichet.channels.paper.letters import letter_pdf

    message = Message.objects.select_related("conversation__customer").get(pk=message_id)
    existing = message.attachments.filter(content_type="application/pdf").first()
    if existing is not None:
        return existing
    try:
        pdf = letter_pdf(message)
    except Exception:
        logger.exception("Could not render the letter for message %s", message_id)
        with transaction.atomic():
            message_delivery_status_set(message_id=message_id, status="failed")
            event_record(
                verb="paper.letter_failed",
                conversation=message.conversation,
                actor_name=_("Letters"),
                data={"message_id": message_id},
            )
        return None
    with transaction.atomic():
        key, digest = store_bytes(pdf, folder="letters")
        attachment = Attachment.objects.create(
            message=message,
            storage_key=key,
            filename=f"letter-{message.conversation.number}-{message.pk}.pdf",
            content_type="application/pdf",
            size=len(pdf),
            sha256=digest,
        )
        message_delivery_status_set(message_id=message_id, status="sent")
        event_record(
            verb="paper.letter_ready",
            conversation=message.conversation,
            actor_name=_("Letters"),
            data={"message_id": message_id, "attachment": attachment.pk},
        )
    return attachment
