"""Phone rows: calls agents logged, callback requests and the attempts made on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from guichet.conversations.models import Conversation, Message


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound call")
    OUTBOUND = "outbound", _("Outbound call")


class CallLog(models.Model):
    """A call an agent logged; its notes are the text of a message on channel "phone"."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="calls")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="call")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    number = models.CharField(_("number"), max_length=20, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")

    def __str__(self) -> str:
        return f"{self.direction} {self.number}"


class CallbackRequest(models.Model):
    """A customer asked to be called back. Agents take them in request order."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        IN_PROGRESS = "in_progress", _("Being called")
        DONE = "done", _("Reached")
        UNREACHABLE = "unreachable", _("Unreachable")
        CANCELLED = "cancelled", _("Cancelled")

    class Source(models.TextChoices):
        PAGE = "page", _("Callback page")
        WEBFORM = "webform", _("Web form")
        CHAT = "chat", _("Chat")
        SMS = "sms", _("SMS")
        IVR = "ivr", _("Voice menu")
        AGENT = "agent", _("Agent")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="callback_requests"
    )
    number = models.CharField(_("number"), max_length=20)
    name = models.CharField(_("name"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    language = models.CharField(_("language"), max_length=8, blank=True)
    preferred_from = models.DateTimeField(_("call from"), null=True, blank=True)
    preferred_until = models.DateTimeField(_("call until"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.WAITING
    )
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    taken_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("callback request")
        verbose_name_plural = _("callback requests")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"], name="callback_status_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~models.Q(external_id=""),
                name="callback_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.status})"


class CallbackAttempt(models.Model):
    class Outcome(models.TextChoices):
        REACHED = "reached", _("Reached")
        NO_ANSWER = "no_answer", _("No answer")
        VOICEMAIL = "voicemail", _("Voicemail, message left")
        BUSY = "busy", _("Busy")
        WRONG_NUMBER = "wrong_number", _("Wrong number")

    request = models.ForeignKey(
        CallbackRequest, on_delete=models.CASCADE, related_name="attempt_rows"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=14, choices=Outcome.choices)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("callback attempt")
        verbose_name_plural = _("callback attempts")

    def __str__(self) -> str:
        return self.outcome
