"""Conversations, messages, attachments and the timeline of events."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from guichet.accounts.models import Team
from guichet.customers.models import Customer


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    WEBFORM = "webform", _("Web form")
    CHAT = "chat", _("Chat")
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    COUNTER = "counter", _("Counter")
    PAPER = "paper", _("Paper mail")


class Status(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    WAITING_CUSTOMER = "waiting_customer", _("Waiting on customer")
    WAITING_THIRD_PARTY = "waiting_third_party", _("Waiting on third party")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.WAITING_CUSTOMER, Status.WAITING_THIRD_PARTY)

# Allowed manual transitions; a new inbound message also reopens waiting and resolved ones.
TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {Status.OPEN, Status.WAITING_CUSTOMER, Status.WAITING_THIRD_PARTY, Status.RESOLVED},
    Status.OPEN: {Status.WAITING_CUSTOMER, Status.WAITING_THIRD_PARTY, Status.RESOLVED},
    Status.WAITING_CUSTOMER: {Status.OPEN, Status.WAITING_THIRD_PARTY, Status.RESOLVED},
    Status.WAITING_THIRD_PARTY: {Status.OPEN, Status.WAITING_CUSTOMER, Status.RESOLVED},
    Status.RESOLVED: {Status.OPEN, Status.CLOSED},
    Status.CLOSED: set(),
}


class Priority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    number = models.PositiveBigIntegerField(_("number"), unique=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="conversations", verbose_name=_("customer")
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        verbose_name=_("team"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
        verbose_name=_("assignee"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=8, blank=True)
    intent = models.CharField(_("intent"), max_length=100, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="conversations")

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)
    first_human_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_human_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    next_response_due = models.DateTimeField(_("next response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    # The earliest pending due time, kept up to date by the services: the inbox sorts on it.
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    # When the due-time clocks stopped because we wait on the customer (None: they run).
    sla_paused_at = models.DateTimeField(_("due times paused since"), null=True, blank=True)
    # Triage abstained on the intent: a person decides (DESIGN promise 6).
    needs_decision = models.BooleanField(_("needs a person to decide"), default=False)
    # Set when triage escalated to a person: no automatic reply may be sent any more (promise 3).
    automatic_replies_stopped = models.BooleanField(_("automatic replies stopped"), default=False)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            models.Index(fields=["team", "status", "due_at"], name="conv_team_status_due"),
            models.Index(fields=["assignee", "status", "due_at"], name="conv_assignee_status_due"),
            models.Index(fields=["status", "due_at"], name="conv_status_due"),
            models.Index(fields=["customer", "-created_at"], name="conv_customer_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def sla_at_risk(self) -> bool:
        """Due within `SLA_AT_RISK_MINUTES` and not overdue yet."""
        from datetime import timedelta

        from django.utils import timezone

        if self.due_at is None:
            return False
        now = timezone.now()
        return now <= self.due_at <= now + timedelta(minutes=settings.SLA_AT_RISK_MINUTES)


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")
        NOTE = "note", _("Internal note")

    class AuthorKind(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        AUTOMATION = "automation", _("Automation")

    class DeliveryStatus(models.TextChoices):
        NONE = "", _("Not applicable")
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    author_kind = models.CharField(max_length=12, choices=AuthorKind.choices)
    author_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_name = models.CharField(_("author"), max_length=200, blank=True)
    text = models.TextField(_("text"), blank=True)
    html = models.TextField(_("HTML"), blank=True)
    external_id = models.CharField(_("external id"), max_length=255, blank=True)
    source_ref = models.CharField(_("source"), max_length=255, blank=True)
    delivery_status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, blank=True, default=""
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="message_unique_external_id",
            )
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="msg_conv_created"),
            # Few rows (waiting for their channel): the sweeps of unsent replies read them often.
            models.Index(
                fields=["channel", "created_at"],
                condition=models.Q(delivery_status="queued"),
                name="msg_queued",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.pk}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    storage_key = models.CharField(max_length=100, unique=True)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    declared_content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class Event(models.Model):
    """One line of the timeline and audit trail: who did what, when, with what data."""

    conversation = models.ForeignKey(
        Conversation,
        verbose_name=_("conversation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("by (name)"), max_length=200, blank=True)
    verb = models.CharField(_("what"), max_length=50)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        indexes = [models.Index(fields=["conversation", "created_at"], name="event_conv_created")]

    def __str__(self) -> str:
        return f"{self.verb} {self.created_at}"
