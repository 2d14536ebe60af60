"""Triage records: automatic decisions (`Prediction`), routing rules, team assignment settings,
training examples from agents' corrections, and SLA alerts already raised."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from guichet.accounts.models import Skill, Team
from guichet.conversations.models import Channel, Conversation, Message, Priority


class Signal(models.TextChoices):
    FRUSTRATION = "frustration", _("Frustration or anger")
    URGENCY = "urgency", _("Urgency")
    VULNERABILITY = "vulnerability", _("Vulnerability")
    PERSON_REQUEST = "person_request", _("Asks for a person")
    REPEAT_CONTACT = "repeat_contact", _("Wrote again before any answer")


# Signals that send a conversation straight to a person and stop automatic replies.
ESCALATING_SIGNALS = frozenset({Signal.VULNERABILITY, Signal.PERSON_REQUEST, Signal.REPEAT_CONTACT})


class Prediction(models.Model):
    """One automatic decision on a conversation, with its reasons; agents may correct it."""

    class Kind(models.TextChoices):
        LANGUAGE = "language", _("Language")
        INTENT = "intent", _("Intent")
        SIGNAL = "signal", _("Signal")
        ROUTING = "routing", _("Routing")
        ASSIGNMENT = "assignment", _("Assignment")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="predictions"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="predictions"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    model_version = models.CharField(_("model version"), max_length=100)
    label = models.CharField(_("label"), max_length=100, blank=True)
    confidence = models.FloatField(_("confidence"), default=0.0)
    abstained = models.BooleanField(_("abstained"), default=False)
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    corrected_label = models.CharField(_("corrected label"), max_length=100, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("corrected by"),
    )
    corrected_at = models.DateTimeField(_("corrected"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("prediction")
        verbose_name_plural = _("predictions")
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="prediction_conv"),
            models.Index(fields=["kind", "created_at"], name="prediction_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.label or '-'} ({self.confidence:.2f})"

    @property
    def is_corrected(self) -> bool:
        return self.corrected_at is not None


class TrainingExample(models.Model):
    """A labelled text for the next `triage_train`: agents' corrections and decisions.

    `task` is what the label is about: `intent` (the intent model reads these), `language`, or
    `signal:<name>` (label `yes`/`no`).
    """

    class Source(models.TextChoices):
        CORRECTION = "correction", _("Agent correction")
        DECISION = "decision", _("Agent decision after abstention")
        SEED = "seed", _("Seed set")

    task = models.CharField(_("task"), max_length=40, default="intent")
    text = models.TextField(_("text"))
    label = models.CharField(_("label"), max_length=100)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    language = models.CharField(_("language"), max_length=8, blank=True)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prediction = models.ForeignKey(
        Prediction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("training example")
        verbose_name_plural = _("training examples")
        indexes = [models.Index(fields=["task", "created_at"], name="example_task")]

    def __str__(self) -> str:
        return f"{self.task}:{self.label}"


class RoutingRule(models.Model):
    """If a new conversation matches every condition set here, it goes to `team`.

    Rules are tried by `position` (then id); the first match wins. Empty conditions match
    anything. No match: the conversation stays in the team its channel gave it.
    """

    position = models.PositiveIntegerField(_("position"), default=100)
    name = models.CharField(_("name"), max_length=120)
    enabled = models.BooleanField(_("enabled"), default=True)
    intent = models.CharField(
        _("intent"), max_length=100, blank=True, help_text=_("Empty: any intent.")
    )
    language = models.CharField(
        _("language"), max_length=8, blank=True, help_text=_("Empty: any language.")
    )
    channel = models.CharField(_("channel"), max_length=10, blank=True, choices=Channel.choices)
    signal = models.CharField(_("signal"), max_length=20, blank=True, choices=Signal.choices)
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="routing_rules", verbose_name=_("team")
    )
    skill = models.ForeignKey(
        Skill,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("skill required"),
    )
    priority = models.PositiveSmallIntegerField(
        _("raise priority to"), null=True, blank=True, choices=Priority.choices
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return self.name


class TeamAssignment(models.Model):
    """How a team's new conversations get an owner."""

    class Mode(models.TextChoices):
        BALANCED = "balanced", _("Balanced (fewest open conversations first)")
        ROUND_ROBIN = "round_robin", _("Round robin")
        MANUAL = "manual", _("Manual (agents take conversations)")

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, related_name="assignment", verbose_name=_("team")
    )
    mode = models.CharField(_("mode"), max_length=12, choices=Mode.choices, default=Mode.BALANCED)

    class Meta:
        verbose_name = _("team assignment")
        verbose_name_plural = _("team assignments")

    def __str__(self) -> str:
        return f"{self.team}: {self.mode}"


class SlaAlert(models.Model):
    """A due time already reported at risk (the sweep raises each one once)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="sla_alerts"
    )
    due_at = models.DateTimeField(_("due"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("SLA alert")
        verbose_name_plural = _("SLA alerts")
        constraints = [
            models.UniqueConstraint(fields=["conversation", "due_at"], name="sla_alert_unique")
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.due_at}"
