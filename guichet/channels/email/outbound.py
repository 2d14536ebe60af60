"""Outgoing email: the outbox, how a mail is composed, and the acknowledgement hook.

An agent's reply becomes one `OutboundEmail` row (the outbox) whose Message-ID is fixed when the
row is created. The task `send_outbound_email` (or `manage.py outbox_drain`) claims a row with a
conditional UPDATE (queued → sending: two workers never send the same row), sends it through
Django's SMTP backend, and marks it sent; on a temporary failure it goes back to queued with a
growing wait, and after `EMAIL_SEND_MAX_ATTEMPTS` (or at once on a permanent 5xx refusal) it is
failed. A worker killed mid-send leaves a "sending" row that `outbox_requeue_stale` puts back;
the retry reuses the same Message-ID (RELIABILITY T01), so a receiver that did get the first copy
sees the second as the same message.

While a row is "sending", `next_attempt_at` holds the time the attempt started: the sweep reads
it to find attempts that have been running for too long.

The outbox row of a reply is written in the reply's own transaction (`email_sender`), so a crash
loses both or neither. `outbox_sweep_unsent` (run by `outbox_drain`) still looks for a queued
reply without a row (written by an older version, or when the sender was not registered): it
queues it, or marks it failed with the reason on the timeline, so none stays "queued" forever.

Which automatic mail may be sent at all (RFC 3834, no loops) is decided in `acknowledgement.py`.
"""

from __future__ import annotations

import logging
import re
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import formataddr

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.html import linebreaks
from django.utils.translation import gettext as _

from guichet.channels import acknowledgements
from guichet.channels.email import acknowledgement
from guichet.channels.email.models import InboundEmail, Mailbox, OutboundEmail
from guichet.channels.email.parser import ParsedEmail
from guichet.channels.email.threading import make_message_id, subject_tag
from guichet.conversations.models import Conversation, Message
from guichet.conversations.services import event_record, message_delivery_status_set
from guichet.conversations.types import IngestResult
from guichet.customers.models import Identity

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=10)
# A queued email message this old without its outbox row was not handed over: see the sweep.
UNSENT_AFTER = timedelta(minutes=5)
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
MAX_ERROR = 2000
MAX_REFERENCES = 20
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|tr|fwd?|réf?)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)

State = OutboundEmail.State
Kind = OutboundEmail.Kind


# --- queueing ------------------------------------------------------------------------------------


def email_sender(message: Message) -> None:
    """The sender registered for channel "email" (see `conversations.senders`).

    Runs inside the reply's transaction: the outbox row is written with the reply, and only the
    send task is enqueued after commit (`outbox_drain` sends the row even if that fails). A
    problem queueing becomes a failed delivery on the message's timeline, not an error page for
    the agent: the reply itself is kept.
    """
    try:
        outbound = outbound_queue_reply(message=message)
    except Exception:
        logger.exception("Could not queue the email for message %s", message.pk)
        _message_failed(message.pk, message.conversation_id, reason="queue_error")
        return
    if outbound is not None and outbound.state == State.QUEUED:
        _enqueue_on_commit(outbound.pk)


def outbound_queue_reply(*, message: Message) -> OutboundEmail | None:
    """Put an agent's reply in the outbox; a second call for the same message returns the row.

    Also records the Message-ID as the message's external id, so that the customer's answer
    (In-Reply-To) threads back to this conversation. None when the customer has no address.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation__customer", "conversation__team")
            .get(pk=message.pk)
        )
        existing = OutboundEmail.objects.filter(message=message, kind=Kind.REPLY).first()
        if existing is not None:
            return existing
        conversation = message.conversation
        to_address = _customer_address(conversation)
        if not to_address:
            _message_failed(message.pk, conversation.pk, reason="no_address")
            return None
        mailbox = mailbox_for_conversation(conversation)
        message_id = make_message_id(
            conversation_number=conversation.number, domain=_domain(mailbox), kind="r"
        )
        outbound = OutboundEmail.objects.create(
            kind=Kind.REPLY,
            mailbox=mailbox,
            conversation=conversation,
            message=message,
            message_id_header=message_id,
            to_address=to_address,
        )
        if not message.external_id:
            Message.objects.filter(pk=message.pk).update(external_id=message_id)
        return outbound


def acknowledge_after_ingest(
    inbound_email: InboundEmail,
    parsed: ParsedEmail,
    result: IngestResult,
    *,
    own: tuple[set[str], set[str]] | None = None,
) -> OutboundEmail | None:
    """Queue the acknowledgement of a new conversation from email, unless a rule forbids it.

    Called by the inbound path after each successful ingest (inside its transaction). A refusal
    is written to the timeline with its reason (promise 6: automatic decisions show why).
    """
    mailbox = inbound_email.mailbox
    if not result.created or not result.conversation_created or mailbox is None:
        return None
    if not mailbox.auto_acknowledge:
        return None
    # No savepoint of its own: the inbound path calls this inside one (`services._acknowledge`).
    with transaction.atomic(savepoint=False):
        # No lock needed: the conversation was created in the caller's transaction (checked
        # above), so no other transaction can see it, let alone acknowledge it, before commit.
        conversation = result.conversation
        refusal = acknowledgement.acknowledgement_refusal(
            parsed=parsed,
            conversation=conversation,
            now=timezone.now(),
            own=own,
            imported=inbound_email.source == InboundEmail.Source.IMPORT,
        )
        # The rule shared by every channel: once per conversation within the window.
        refusal = refusal or acknowledgements.acknowledgement_refusal(
            conversation=conversation, channel="email"
        )
        if refusal:
            event_record(
                verb="email.acknowledgement_skipped",
                conversation=conversation,
                actor_name=_("Email"),
                data={"reason": refusal, "from": (parsed.from_address or "")[:254]},
            )
            return None
        return _acknowledgement_create(
            conversation=conversation,
            mailbox=mailbox,
            # Lower-cased: the hourly cap matches it exactly, on an index.
            to_address=parsed.from_address.strip().lower(),
            channel="email",
        )


def acknowledgement_queue(
    *, conversation: Conversation, to_address: str, channel: str
) -> OutboundEmail | None:
    """Queue the acknowledgement email of a conversation that came through another channel
    (the web form's confirmation), unless a rule forbids it; None then, with the reason on the
    timeline. Runs the shared rule (`channels.acknowledgements`) and the per-address hourly cap.
    """
    # Stored and matched lower-cased, as the email path does, so the cap uses its index.
    to_address = to_address.strip().lower()
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("team")
            .get(pk=conversation.pk)
        )
        refusal = acknowledgements.acknowledgement_refusal(
            conversation=conversation, channel=channel
        )
        recent = OutboundEmail.objects.filter(
            kind=Kind.ACKNOWLEDGEMENT,
            to_address=to_address,
            created_at__gte=timezone.now() - timedelta(hours=1),
        ).count()
        if not refusal and recent >= settings.EMAIL_AUTO_REPLY_HOURLY_CAP:
            refusal = acknowledgement.SENDER_CAP
        if refusal:
            event_record(
                verb="email.acknowledgement_skipped",
                conversation=conversation,
                actor_name=_("Email"),
                data={"reason": refusal, "to": to_address[:254], "channel": channel},
            )
            return None
        return _acknowledgement_create(
            conversation=conversation,
            mailbox=mailbox_for_conversation(conversation),
            to_address=to_address,
            channel=channel,
        )


def _acknowledgement_create(
    *, conversation: Conversation, mailbox: Mailbox | None, to_address: str, channel: str
) -> OutboundEmail:
    """The outbox row and the `acknowledgement.sent` event; sent after commit."""
    outbound = OutboundEmail.objects.create(
        kind=Kind.ACKNOWLEDGEMENT,
        mailbox=mailbox,
        conversation=conversation,
        message_id_header=make_message_id(
            conversation_number=conversation.number, domain=_domain(mailbox), kind="a"
        ),
        to_address=to_address,
    )
    acknowledgements.acknowledgement_record(
        conversation=conversation,
        channel=channel,
        data={"outbound_email_id": outbound.pk, "to": to_address[:254]},
    )
    _enqueue_on_commit(outbound.pk)
    return outbound


# While `enqueue_batched` runs: ids of rows committed, to enqueue together when it ends.
_BATCHED: ContextVar[list[int] | None] = ContextVar("outbound_enqueue_batched", default=None)


@contextmanager
def enqueue_batched() -> Iterator[None]:
    """Enqueue the send tasks of the rows committed within this block together at its end, in
    one transaction (a batch import queues many acknowledgements: one commit, not one each)."""
    pending: list[int] = []
    token = _BATCHED.set(pending)
    try:
        yield
    finally:
        _BATCHED.reset(token)
        if pending:
            _enqueue_now(pending)


def _enqueue_now(outbound_ids: list[int]) -> None:
    from guichet.channels.email.tasks import send_outbound_email  # the task imports this module

    try:
        with transaction.atomic():
            for outbound_id in outbound_ids:
                send_outbound_email.enqueue(outbound_id)
    except Exception:
        # The rows are safe in the outbox: `outbox_drain` sends them even without the task.
        logger.exception("Could not enqueue %s outbound emails", len(outbound_ids))


def _enqueue_on_commit(outbound_id: int, run_after: datetime | None = None) -> None:
    from guichet.channels.email.tasks import send_outbound_email  # the task imports this module

    def enqueue() -> None:
        task = send_outbound_email
        batched = _BATCHED.get()
        if batched is not None and run_after is None:
            batched.append(outbound_id)
            return
        if run_after is not None:
            if not task.get_backend().supports_defer:
                return  # `outbox_drain` picks the row up when it is due
            task = task.using(run_after=run_after)
        try:
            task.enqueue(outbound_id)
        except Exception:
            # The row is safe in the outbox: `outbox_drain` sends it even without the task.
            logger.exception("Could not enqueue outbound email %s", outbound_id)

    transaction.on_commit(enqueue)


# --- sending -------------------------------------------------------------------------------------


def outbound_send(*, outbound_id: int, now: datetime | None = None) -> str:
    """Send one outbox row if it is queued and due; returns its state afterwards.

    "skipped" when another worker has it, it is not due yet, or it is already sent or failed.
    """
    due_by = now or timezone.now()
    claimed = (
        OutboundEmail.objects.filter(pk=outbound_id, state=State.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due_by))
        .update(state=State.SENDING, attempts=F("attempts") + 1, next_attempt_at=Now())
    )
    if not claimed:
        return "skipped"
    outbound = OutboundEmail.objects.select_related(
        "mailbox", "message", "conversation__customer", "conversation__team__calendar"
    ).get(pk=outbound_id)
    try:
        outbound_compose(outbound).send(fail_silently=False)
    except Exception as exc:
        return _attempt_failed(outbound, exc)
    _sent(outbound)
    return State.SENT


def _sent(outbound: OutboundEmail) -> None:
    _close(
        outbound,
        changes={
            "state": State.SENT,
            "sent_at": timezone.now(),
            "next_attempt_at": None,
            "last_error": "",
        },
        delivery_status=Message.DeliveryStatus.SENT,
        verb="email.sent",
        data=_event_data(outbound),
    )


def _close(
    outbound: OutboundEmail, *, changes: dict, delivery_status: str, verb: str, data: dict
) -> None:
    """Record the end of a row's life (sent or failed) once, with its message and event."""
    with transaction.atomic():
        # Queued too: the sweep may have put back an attempt that was only slow.
        done = OutboundEmail.objects.filter(
            pk=outbound.pk, state__in=[State.SENDING, State.QUEUED]
        ).update(**changes)
        if not done:
            return
        if outbound.kind == Kind.REPLY and outbound.message_id is not None:
            message_delivery_status_set(message_id=outbound.message_id, status=delivery_status)
        event_record(
            verb=verb, conversation=outbound.conversation, actor_name=_("Email"), data=data
        )


def backoff(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt: 1, 2, 4… minutes, at most an hour."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


class NothingToSend(Exception):
    """The row's content is gone: retrying cannot help."""


def is_permanent(exc: BaseException) -> bool:
    """A 5xx answer will not change on retry; anything else (4xx, network) may."""
    if isinstance(exc, NothingToSend):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def _attempt_failed(outbound: OutboundEmail, exc: BaseException) -> str:
    error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    permanent = is_permanent(exc)
    max_attempts = settings.EMAIL_SEND_MAX_ATTEMPTS
    if permanent or outbound.attempts >= max_attempts:
        logger.warning("Outbound email %s failed: %s", outbound.pk, error)
        _fail(outbound, error=error, permanent=permanent)
        return State.FAILED
    next_at = timezone.now() + backoff(outbound.attempts)
    logger.info(
        "Outbound email %s attempt %s failed, next at %s: %s",
        outbound.pk,
        outbound.attempts,
        next_at.isoformat(),
        error,
    )
    with transaction.atomic():
        requeued = OutboundEmail.objects.filter(pk=outbound.pk, state=State.SENDING).update(
            state=State.QUEUED, next_attempt_at=next_at, last_error=error
        )
        if requeued and outbound.kind == Kind.REPLY and outbound.message_id is not None:
            # The agent learns at once that the customer has not received it (the outbox keeps
            # trying; a later success marks the message sent).
            changed = Message.objects.filter(
                pk=outbound.message_id, delivery_status=Message.DeliveryStatus.QUEUED
            ).update(delivery_status=Message.DeliveryStatus.FAILED)
            if changed:
                event_record(
                    verb="email.attempt_failed",
                    conversation=outbound.conversation,
                    actor_name=_("Email"),
                    data={
                        **_event_data(outbound),
                        "error": failure_reason(error)[:500],
                        "next_attempt_at": next_at.isoformat(),
                    },
                )
        _enqueue_on_commit(outbound.pk, run_after=next_at)
    return State.QUEUED


def failure_reason(error: str) -> str:
    """The last error of a row in words for an agent ("the mail server refused: …")."""
    name, _sep, detail = error.partition(": ")
    if name.startswith("SMTP") and name not in ("SMTPServerDisconnected", "SMTPConnectError"):
        return _("the mail server refused: %(detail)s") % {"detail": detail or name}
    if name in (
        "ConnectionRefusedError",
        "SMTPServerDisconnected",
        "SMTPConnectError",
        "TimeoutError",
        "socket.gaierror",
        "gaierror",
        "OSError",
        "ConnectionResetError",
    ):
        return _("the mail server could not be reached: %(detail)s") % {"detail": detail or name}
    if name == "NothingToSend":
        return _("the reply was deleted before it was sent")
    return error


def _fail(outbound: OutboundEmail, *, error: str, permanent: bool) -> None:
    _close(
        outbound,
        changes={"state": State.FAILED, "next_attempt_at": None, "last_error": error},
        delivery_status=Message.DeliveryStatus.FAILED,
        verb="email.failed",
        data={
            **_event_data(outbound),
            "error": failure_reason(error)[:500],
            "permanent": permanent,
        },
    )


def _message_failed(message_id: int, conversation_id: int, *, reason: str) -> None:
    with transaction.atomic():
        message_delivery_status_set(message_id=message_id, status=Message.DeliveryStatus.FAILED)
        event_record(
            verb="email.failed",
            conversation=Conversation.objects.get(pk=conversation_id),
            actor_name=_("Email"),
            data={"message_id": message_id, "reason": reason},
        )


def _event_data(outbound: OutboundEmail) -> dict:
    return {
        "outbound_email_id": outbound.pk,
        "kind": outbound.kind,
        "message_id": outbound.message_id,
        "message_id_header": outbound.message_id_header,
        "to": outbound.to_address,
        "attempts": outbound.attempts,
    }


def outbox_requeue_stale(*, older_than: timedelta = STALE_AFTER) -> int:
    """Put back rows left "sending" by a worker that died; returns how many were re-queued.

    A row that has used all its attempts is marked failed instead (a message that kills the
    worker each time must not be retried forever).
    """
    cutoff = timezone.now() - older_than
    stale = list(
        OutboundEmail.objects.filter(state=State.SENDING, next_attempt_at__lt=cutoff)
        .select_related("conversation")
        .order_by("pk")
    )
    requeued = 0
    for outbound in stale:
        if outbound.attempts >= settings.EMAIL_SEND_MAX_ATTEMPTS:
            error = _("The sending worker stopped during every attempt.")
            _fail(outbound, error=error, permanent=False)
            continue
        requeued += OutboundEmail.objects.filter(
            pk=outbound.pk, state=State.SENDING, next_attempt_at__lt=cutoff
        ).update(state=State.QUEUED, next_attempt_at=timezone.now())
    if requeued:
        logger.warning("Re-queued %s outbound emails left sending", requeued)
    return requeued


def messages_unsent(*, older_than: timedelta = UNSENT_AFTER) -> QuerySet[Message]:
    """Outbound email messages still "queued" after `older_than` that have no outbox row: a
    reply (or notice) nobody will send unless the sweep queues it."""
    return Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        channel="email",
        delivery_status=Message.DeliveryStatus.QUEUED,
        created_at__lt=timezone.now() - older_than,
    ).exclude(Exists(OutboundEmail.objects.filter(message=OuterRef("pk"), kind=Kind.REPLY)))


def outbox_sweep_unsent(*, older_than: timedelta = UNSENT_AFTER, limit: int = 500) -> int:
    """Queue the messages of `messages_unsent`; those that cannot be (no address, an error) are
    marked failed with a timeline event. Returns how many were found."""
    unsent = list(messages_unsent(older_than=older_than).order_by("pk")[:limit])
    for message in unsent:
        logger.warning("Email message %s was queued without an outbox row", message.pk)
        try:
            with transaction.atomic():
                # Locks the message and re-checks for a row (idempotent); records "no_address".
                outbound = outbound_queue_reply(message=message)
                if outbound is not None and outbound.state == State.QUEUED:
                    _enqueue_on_commit(outbound.pk)
        except Exception:
            logger.exception("Could not queue the email for message %s", message.pk)
            _message_failed(message.pk, message.conversation_id, reason="queue_error")
    return len(unsent)


def outbox_drain(
    *, now: datetime | None = None, limit: int = 500, stale_after: timedelta = STALE_AFTER
) -> dict[str, int]:
    """Send every due row now (after the stale sweep and the sweep of queued messages without a
    row); returns counts by outcome."""
    counts = {"requeued": outbox_requeue_stale(older_than=stale_after)}
    unsent = outbox_sweep_unsent(limit=limit)
    if unsent:
        counts["unsent"] = unsent
    due_by = now or timezone.now()
    due = list(
        OutboundEmail.objects.filter(state=State.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due_by))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for outbound_id in due:
        outcome = outbound_send(outbound_id=outbound_id, now=due_by)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# --- composing -----------------------------------------------------------------------------------


def outbound_compose(outbound: OutboundEmail) -> EmailMultiAlternatives:
    """The email for one outbox row, the same on every attempt but for the Date header."""
    conversation = outbound.conversation
    mailbox = outbound.mailbox
    address = mailbox.address if mailbox else f"noreply@{settings.EMAIL_FROM_DOMAIN}"
    team_name = conversation.team.name if conversation.team else (mailbox.name if mailbox else "")
    headers: dict[str, str] = {"Message-ID": f"<{outbound.message_id_header}>"}
    inbound_ids = _inbound_message_ids(conversation)
    if outbound.kind == Kind.REPLY:
        if outbound.message is None:
            raise NothingToSend("the reply was deleted before it was sent")
        author = outbound.message.author_name
        name = f"{author} ({team_name})" if author and team_name else author or team_name
        text = outbound.message.text
        html = _html_document(linebreaks(text, autoescape=True))
        if inbound_ids:
            headers["In-Reply-To"] = f"<{inbound_ids[-1]}>"
    else:
        name = team_name or (mailbox.name if mailbox else "")
        rendered = acknowledgement.acknowledgement_render(conversation)
        text, html = rendered.text, rendered.html
        # RFC 3834 §5: automatic mail says so, and asks other systems not to answer it.
        headers["Auto-Submitted"] = "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"
        if inbound_ids:
            headers["In-Reply-To"] = f"<{inbound_ids[0]}>"
    if inbound_ids:
        headers["References"] = " ".join(f"<{ref}>" for ref in inbound_ids[-MAX_REFERENCES:])
    email = EmailMultiAlternatives(
        subject=reply_subject(conversation.subject, conversation.number),
        body=text,
        from_email=formataddr((name, address)) if name else address,
        to=[outbound.to_address],
        headers=headers,
    )
    email.attach_alternative(html, "text/html")
    if outbound.kind == Kind.REPLY and outbound.message is not None:
        # Files on the message go with it (e.g. the `.ics` of an appointment notice).
        for attachment in outbound.message.attachments.all():
            with default_storage.open(attachment.storage_key) as stored:
                email.attach(attachment.filename, stored.read(), attachment.content_type)
    return email


def reply_subject(subject: str, number: int) -> str:
    """ "Re: <subject> [#number]", without piling up prefixes or tags (RELIABILITY E01)."""
    tag = subject_tag(number)
    base = _REPLY_PREFIX.sub("", subject.replace(tag, " ")).strip()
    base = " ".join(base.split())
    return f"Re: {base} {tag}" if base else f"Re: {tag}"


def _html_document(body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def _inbound_message_ids(conversation: Conversation) -> list[str]:
    """The customer's Message-IDs on this conversation, oldest first (for In-Reply-To)."""
    ids = (
        Message.objects.filter(
            conversation=conversation,
            direction=Message.Direction.INBOUND,
            channel="email",
        )
        .exclude(external_id="")
        .exclude(external_id__startswith="sha256:")
        .order_by("created_at", "id")
        .values_list("external_id", flat=True)
    )
    # An id made unique per mailbox ("<id>#mailbox-2") is still the customer's <id>.
    return [ref.split("#mailbox-", 1)[0].strip("<>") for ref in ids]


def mailbox_for_conversation(conversation: Conversation) -> Mailbox | None:
    """The mailbox the customer last wrote to, else the team's first enabled mailbox."""
    inbound = (
        InboundEmail.objects.filter(message__conversation=conversation, mailbox__isnull=False)
        .select_related("mailbox")
        .order_by("-received_at", "-pk")
        .first()
    )
    if inbound is not None and inbound.mailbox is not None:
        return inbound.mailbox
    if conversation.team_id is None:
        return None
    return Mailbox.objects.filter(team_id=conversation.team_id, enabled=True).order_by("pk").first()


def _domain(mailbox: Mailbox | None) -> str:
    if mailbox is not None and "@" in mailbox.address:
        return mailbox.address.rsplit("@", 1)[1].lower()
    return str(settings.EMAIL_FROM_DOMAIN)


def _customer_address(conversation: Conversation) -> str:
    """The address the customer last wrote from, if it is theirs; else their first address."""
    addresses = list(
        Identity.objects.filter(customer_id=conversation.customer_id, kind=Identity.Kind.EMAIL)
        .order_by("created_at", "pk")
        .values_list("value", flat=True)
    )
    if not addresses:
        return ""
    last_from = _last_inbound_from(conversation)
    if last_from and last_from.lower() in {value.lower() for value in addresses}:
        return last_from
    return addresses[0]


def _last_inbound_from(conversation: Conversation) -> str:
    raw = (
        InboundEmail.objects.filter(message__conversation=conversation)
        .order_by("-received_at", "-pk")
        .values_list("raw", flat=True)
        .first()
    )
    if raw is None:
        return ""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(bytes(raw), headersonly=True)
        addresses = headers["From"].addresses if headers["From"] else ()
        return addresses[0].addr_spec if addresses else ""
    except Exception:  # a header we cannot read: fall back to the customer's identity
        return ""
