"""Mailboxes, every raw message received (kept before it is acknowledged) and the outbox."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from guichet.accounts.models import Team
from guichet.conversations.models import Conversation, Message


class Mailbox(models.Model):
    """An address Guichet receives mail for, over SMTP/LMTP hand-over or by polling IMAP."""

    address = models.EmailField(_("address"), unique=True)
    name = models.CharField(_("display name"), max_length=120, blank=True)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mailboxes",
        verbose_name=_("team"),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    auto_acknowledge = models.BooleanField(_("send an acknowledgement"), default=True)
    # IMAP polling (optional). The password is write-only in the admin: never shown back.
    imap_host = models.CharField(_("IMAP host"), max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_ssl = models.BooleanField(_("IMAP over TLS"), default=True)
    imap_username = models.CharField(_("IMAP user name"), max_length=255, blank=True)
    imap_password = models.CharField(_("IMAP password"), max_length=255, blank=True)
    imap_folder = models.CharField(_("IMAP folder"), max_length=255, default="INBOX")
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_poll_at = models.DateTimeField(_("last poll"), null=True, blank=True)
    last_poll_error = models.TextField(_("last poll error"), blank=True)
    # One poller per mailbox: a poller takes the lease with one atomic UPDATE (both databases).
    poll_lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["address"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.address


class InboundEmail(models.Model):
    """One raw message as received, stored durably before it is acknowledged (RFC 5321 §6.1).

    Keyed on (mailbox, dedupe key): the Message-ID when present, else the SHA-256 of the raw
    bytes, so a re-poll, a restart or a second delivery creates nothing twice. A different body
    under a Message-ID already stored is another message: its key is `midb:` + the SHA-256 of
    the Message-ID and the body.
    """

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        INGESTED = "ingested", _("Ingested")
        QUARANTINED = "quarantined", _("Quarantined")
        # A delivery-status notification recorded on the outbound message it bounces.
        BOUNCE = "bounce", _("Delivery report")
        # Stored, deliberately not made a conversation (e.g. sent from our own address).
        IGNORED = "ignored", _("Ignored")

    class Source(models.TextChoices):
        SMTP = "smtp", _("SMTP/LMTP")
        IMAP = "imap", _("IMAP")
        IMPORT = "import", _("Import")

    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.PROTECT, related_name="inbound"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    dedupe_key = models.CharField(max_length=255)
    message_id_header = models.CharField(max_length=255, blank=True)
    # The raw bytes live in the database: its commit (WAL + synchronous=FULL on SQLite,
    # synchronous_commit on PostgreSQL) is what makes "stored" durable before we acknowledge.
    raw = models.BinaryField()
    raw_sha256 = models.CharField(max_length=64)
    # SHA-256 of the body: tells a re-delivery (same Message-ID, same body) from a different
    # message reusing a Message-ID (`services.body_digest`). Empty on rows stored before it.
    body_sha256 = models.CharField(max_length=64, blank=True, default="")
    raw_size = models.PositiveBigIntegerField()
    envelope_from = models.CharField(max_length=255, blank=True)
    envelope_to = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.RECEIVED)
    error = models.TextField(_("error"), blank=True)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Later deliveries of the same message (re-poll, MTA retry after a lost 250), skipped.
    duplicates = models.PositiveIntegerField(_("duplicates skipped"), default=0)

    class Meta:
        verbose_name = _("received email")
        verbose_name_plural = _("received emails")
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "dedupe_key"], name="inbound_email_unique_per_mailbox"
            ),
            # NULL never equals NULL in a unique index: mail without a mailbox needs its own.
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=models.Q(mailbox__isnull=True),
                name="inbound_email_unique_no_mailbox",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "received_at"], name="inbound_state_received"),
            # The duplicate-copy check of every ingest looks rows up by Message-ID
            # (bench/results-email-2026-11-22.txt: a full scan, 20 ms at 23,600 rows).
            models.Index(fields=["message_id_header"], name="inbound_message_id_header"),
        ]

    def __str__(self) -> str:
        return self.dedupe_key


class OutboundEmail(models.Model):
    """The outbox: one email to send, drained by the task worker with retries and backoff.

    The Message-ID is fixed when the row is created, so a retry sends the same Message-ID.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        REPLY = "reply", _("Reply")
        ACKNOWLEDGEMENT = "ack", _("Acknowledgement")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbound"
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="outbound_emails"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbound_emails"
    )
    message_id_header = models.CharField(max_length=255, unique=True)
    to_address = models.CharField(max_length=255)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing email")
        verbose_name_plural = _("outgoing emails")
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="outbound_state_next"),
            # The per-sender hourly cap on acknowledgements (addresses stored lower-cased).
            models.Index(
                fields=["kind", "to_address", "created_at"], name="outbound_kind_to_created"
            ),
        ]

    def __str__(self) -> str:
        return self.message_id_header
