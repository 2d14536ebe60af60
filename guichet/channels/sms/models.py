"""SMS rows: the outbox (with delivery receipts) and the opt-out list, keyed on E.164 numbers."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from guichet.conversations.models import Conversation, Message


class SmsOptOut(models.Model):
    """A number that answered STOP: nothing is sent to it until it answers START."""

    number = models.CharField(_("number"), max_length=20, unique=True)
    keyword = models.CharField(_("keyword"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("SMS opt-out")
        verbose_name_plural = _("SMS opt-outs")

    def __str__(self) -> str:
        return self.number


class OutboundSms(models.Model):
    """The outbox: one text to send, drained by the task worker with retries and backoff."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        REPLY = "reply", _("Reply")
        ACKNOWLEDGEMENT = "ack", _("Acknowledgement")
        NOTICE = "notice", _("Notice")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="outbound_sms"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbound_sms"
    )
    to_number = models.CharField(max_length=20)
    text = models.TextField()
    encoding = models.CharField(max_length=5)
    parts = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing SMS")
        verbose_name_plural = _("outgoing SMS")
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="sms_state_next"),
            models.Index(fields=["provider_id"], name="sms_provider_id"),
            models.Index(fields=["to_number", "kind", "created_at"], name="sms_to_kind_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["message"],
                condition=models.Q(kind="reply"),
                name="sms_one_row_per_reply",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.to_number}"
