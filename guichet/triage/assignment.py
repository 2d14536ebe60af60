"""Who owns a conversation: the named advisor first when available; otherwise the team's
available agents who have the skill and speak the language, under their capacity, balanced (the
fewest open conversations first) or in turn (round robin).

Exactly one owner under concurrency: the conversation row is locked, then the candidate agents'
rows in id order (so two assigners never deadlock and each sees the other's committed load), and
the owner is written only if the conversation still has none.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import Skill, Team, User
from guichet.conversations.models import ACTIVE_STATUSES, Conversation
from guichet.conversations.services import event_record
from guichet.triage.models import Prediction, TeamAssignment

MODEL_VERSION = "assignment-1"


@dataclass(frozen=True)
class Candidate:
    agent: User
    load: int  # open conversations held now


def team_mode(team: Team | None) -> str:
    if team is None:
        return TeamAssignment.Mode.MANUAL
    setting = TeamAssignment.objects.filter(team=team).values_list("mode", flat=True).first()
    return setting or TeamAssignment.Mode.BALANCED


def _with_load(agents: list[int]) -> list[Candidate]:
    """Lock the agents' rows (id order) and read their current load."""
    locked = list(User.objects.select_for_update().filter(pk__in=agents).order_by("pk"))
    loads = dict(
        User.objects.filter(pk__in=agents)
        .annotate(
            load=Count(
                "assigned_conversations",
                filter=Q(assigned_conversations__status__in=ACTIVE_STATUSES),
            )
        )
        .values_list("pk", "load")
    )
    return [Candidate(agent, loads.get(agent.pk, 0)) for agent in locked]


def eligible_agent_ids(
    team: Team, *, language: str, skill: Skill | None, exclude: tuple[int, ...] = ()
) -> list[int]:
    """Available, active members of `team` with the skill who speak `language` (if known)."""
    agents = User.objects.filter(is_active=True, available=True, teams=team).exclude(pk__in=exclude)
    if skill is not None:
        agents = agents.filter(skills=skill)
    language = (language or "").lower()
    return [
        pk
        for pk, languages in agents.values_list("pk", "languages").distinct()
        if not language or language in [str(code).lower() for code in (languages or [])]
    ]


def _pick(candidates: list[Candidate], mode: str) -> Candidate | None:
    open_ones = [c for c in candidates if c.load < c.agent.capacity]
    if not open_ones:
        return None
    never = timezone.now().replace(year=1970)

    def turn(c: Candidate) -> tuple:
        return (c.agent.last_assigned_at or never, c.agent.pk)

    if mode == TeamAssignment.Mode.ROUND_ROBIN:
        return min(open_ones, key=turn)
    return min(open_ones, key=lambda c: (c.load, *turn(c)))


def conversation_auto_assign(
    *,
    conversation_id: int,
    skill: Skill | None = None,
    exclude: tuple[int, ...] = (),
    force: bool = False,
    why: str = "new",
) -> Prediction | None:
    """Give an unassigned conversation an owner; returns the decision (abstained when nobody
    fits: it stays in the team's queue), or None when it has an owner already or the team
    assigns by hand.

    `force` assigns even when the team's mode is manual (a conversation escalated to a person).
    """
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("team", "customer")
            .filter(pk=conversation_id)
            .first()
        )
        if conversation is None or conversation.assignee_id is not None:
            return None
        if not conversation.is_active or conversation.team is None:
            return None
        mode = team_mode(conversation.team)
        if mode == TeamAssignment.Mode.MANUAL and not force:
            return None
        reasons: list[str] = [f"why={why}"]
        chosen: User | None = None
        advisor_id = conversation.customer.advisor_id
        if advisor_id is not None and advisor_id not in exclude:
            advisor = _with_load([advisor_id])
            if (
                advisor
                and advisor[0].agent.is_active
                and advisor[0].agent.available
                and advisor[0].load < advisor[0].agent.capacity
            ):
                chosen = advisor[0].agent
                reasons.append("named advisor")
                load = advisor[0].load
            else:
                reasons.append("named advisor unavailable")
        if chosen is None:
            ids = eligible_agent_ids(
                conversation.team,
                language=conversation.language,
                skill=skill,
                exclude=exclude,
            )
            candidates = _with_load(ids)
            if mode == TeamAssignment.Mode.MANUAL:
                mode = TeamAssignment.Mode.BALANCED
            picked = _pick(candidates, mode)
            if picked is None:
                return _no_owner(conversation, reasons, candidates, language=conversation.language)
            chosen, load = picked.agent, picked.load
            reasons.append(
                "round robin" if mode == TeamAssignment.Mode.ROUND_ROBIN else "fewest open"
            )
            reasons.append(f"candidates={len(candidates)}")
        reasons.append(f"load={load}/{chosen.capacity}")
        won = Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
            assignee=chosen, updated_at=timezone.now()
        )
        if not won:
            return None
        now = timezone.now()
        User.objects.filter(pk=chosen.pk).update(last_assigned_at=now)
        conversation.assignee = chosen
        event_record(
            verb="assigned",
            conversation=conversation,
            actor_name=_("Triage"),
            data={"to": chosen.pk, "to_name": chosen.display_name, "reason": "triage"},
        )
        return Prediction.objects.create(
            conversation=conversation,
            kind=Prediction.Kind.ASSIGNMENT,
            model_version=MODEL_VERSION,
            label=chosen.username,
            confidence=1.0,
            reasons=reasons,
        )


def _no_owner(
    conversation: Conversation, reasons: list[str], candidates: list[Candidate], *, language: str
) -> Prediction:
    """Nobody fits: the conversation waits in the team's queue; the decision says why."""
    detail = "all at capacity" if candidates else "no available agent"
    if language and not candidates:
        detail += f" speaking {language}"
    return Prediction.objects.create(
        conversation=conversation,
        kind=Prediction.Kind.ASSIGNMENT,
        model_version=MODEL_VERSION,
        abstained=True,
        reasons=[*reasons, detail],
    )


def conversations_to_reassign(agent: User) -> list[int]:
    """Active conversations of `agent` where it is our move (a due time is pending)."""
    return list(
        Conversation.objects.filter(
            assignee=agent, status__in=ACTIVE_STATUSES, due_at__isnull=False
        )
        .order_by("due_at")
        .values_list("pk", flat=True)
    )


def conversation_reassign(
    *, conversation_id: int, from_agent_id: int, why: str
) -> Prediction | None:
    """Take the conversation from `from_agent_id` (gone offline, or at risk) and give it to
    someone else available; it keeps its owner when nobody else fits."""
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .filter(pk=conversation_id, assignee_id=from_agent_id)
            .first()
        )
        if conversation is None:
            return None
        sid = transaction.savepoint()
        Conversation.objects.filter(pk=conversation_id).update(assignee=None)
        decision = conversation_auto_assign(
            conversation_id=conversation_id, exclude=(from_agent_id,), force=True, why=why
        )
        if decision is None or decision.abstained:
            transaction.savepoint_rollback(sid)
            return None
        transaction.savepoint_commit(sid)
        return decision
