"""Admin for triage: routing rules (editable), decisions and examples (read mostly)."""

from __future__ import annotations

from django.contrib import admin

from guichet.triage.models import Prediction, RoutingRule, SlaAlert, TeamAssignment, TrainingExample


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = (
        "position", "name", "enabled", "intent", "language", "channel", "signal", "team", "skill",
        "priority",
    )  # fmt: skip
    list_display_links = ("name",)
    list_editable = ("position", "enabled")
    list_filter = ("enabled", "team", "channel", "signal")
    ordering = ("position", "id")


@admin.register(TeamAssignment)
class TeamAssignmentAdmin(admin.ModelAdmin):
    list_display = ("team", "mode")


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = (
        "conversation", "kind", "label", "confidence", "abstained", "model_version",
        "corrected_label", "created_at",
    )  # fmt: skip
    list_filter = ("kind", "abstained", "model_version")
    raw_id_fields = ("conversation", "message", "corrected_by")
    readonly_fields = ("created_at",)


@admin.register(TrainingExample)
class TrainingExampleAdmin(admin.ModelAdmin):
    list_display = ("task", "label", "source", "language", "created_by", "created_at")
    list_filter = ("task", "source", "language")
    search_fields = ("text", "label")
    raw_id_fields = ("conversation", "prediction", "created_by")


@admin.register(SlaAlert)
class SlaAlertAdmin(admin.ModelAdmin):
    list_display = ("conversation", "due_at", "created_at")
    raw_id_fields = ("conversation",)
