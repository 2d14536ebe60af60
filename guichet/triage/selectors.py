"""Readers of triage, scoped by the acting user where they return conversations' data."""

from __future__ import annotations

from django.db.models import QuerySet

from guichet.accounts.models import Team, User
from guichet.accounts.permissions import conversation_visibility_q, is_supervisor
from guichet.conversations.models import Conversation
from guichet.triage.models import Prediction, RoutingRule, TeamAssignment, TrainingExample


def routing_rules(*, user: User) -> QuerySet[RoutingRule]:
    """All rules, in the order they are tried (supervisors only: others get none)."""
    if not is_supervisor(user):
        return RoutingRule.objects.none()
    return RoutingRule.objects.select_related("team", "skill").order_by("position", "id")


def team_assignments(*, user: User) -> list[tuple[Team, str]]:
    if not is_supervisor(user):
        return []
    modes = dict(TeamAssignment.objects.values_list("team_id", "mode"))
    return [(team, modes.get(team.pk, TeamAssignment.Mode.BALANCED)) for team in Team.objects.all()]


def predictions_for(*, user: User, conversation: Conversation) -> QuerySet[Prediction]:
    return Prediction.objects.filter(
        conversation_visibility_q(user, prefix="conversation__"), conversation=conversation
    ).select_related("corrected_by")


def intent_labels() -> list[str]:
    """Intents known so far: from rules, corrections and conversations, for the agents' list."""
    labels = set(RoutingRule.objects.exclude(intent="").values_list("intent", flat=True))
    labels |= set(
        TrainingExample.objects.filter(task="intent").values_list("label", flat=True).distinct()
    )
    labels |= set(
        Conversation.objects.exclude(intent="").values_list("intent", flat=True).distinct()[:500]
    )
    return sorted(labels)


def training_examples(*, task: str = "intent") -> QuerySet[TrainingExample]:
    """What `triage_train` reads: (text, label, source) rows, oldest first. Not user-scoped:
    training is an administrator's command."""
    return TrainingExample.objects.filter(task=task).order_by("created_at", "id")
