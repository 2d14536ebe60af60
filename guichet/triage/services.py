"""Writers of triage: the ingest hook (language, signals, intent, routing, assignment), agents'
corrections, routing rules, agent availability and the SLA at-risk sweep.

Every automatic decision is a `Prediction` row with its model version, confidence and reasons,
announced on the timeline by one `triage.decided` event; corrections are `TrainingExample` rows
for the next `triage_train`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guichet.accounts.models import Team, User
from guichet.accounts.permissions import conversation_visibility_q, is_supervisor
from guichet.conversations import sla
from guichet.conversations.content import clean_text
from guichet.conversations.models import (
    ACTIVE_STATUSES,
    Conversation,
    Event,
    Message,
    Priority,
)
from guichet.conversations.services import conversation_set_team, event_record
from guichet.conversations.types import InboundMessage, IngestResult
from guichet.core.exceptions import InvalidInput, NotAllowed
from guichet.core.services import rows_update
from guichet.triage import assignment, language, routing, signals
from guichet.triage.models import (
    ESCALATING_SIGNALS,
    Prediction,
    RoutingRule,
    SlaAlert,
    TeamAssignment,
    TrainingExample,
)

logger = logging.getLogger(__name__)

# A customer writing again within this time is adding to their message, not chasing an answer.
REPEAT_CONTACT_MIN_GAP = timedelta(minutes=5)
MAX_TEXT = 5000
NO_MODEL_VERSION = "none"


# --- the ingest hook -------------------------------------------------------------------------


def triage_inbound(inbound: InboundMessage, result: IngestResult) -> None:
    """Ingest hook: runs inside the ingest transaction. A failure here is logged and rolled back
    to its savepoint; it never loses the customer's message."""
    if not result.created:
        return
    try:
        with transaction.atomic():
            triage_message(
                conversation=result.conversation,
                message=result.message,
                conversation_created=result.conversation_created,
            )
    except Exception:
        logger.exception("Triage failed for message %s", result.message.pk)


def _intent_predict(text: str) -> Any:
    """The intent model's prediction, or None when no model is trained (or it failed)."""
    try:
        from guichet.triage.intent import predict
    except ImportError:
        return None
    batch = _INTENTS.get()
    if batch is not None and text in batch:
        return batch[text]
    try:
        return predict(text)
    except Exception:
        logger.exception("Intent prediction failed")
        return None


def _text_of(conversation: Conversation, message: Message, *, first: bool) -> str:
    text = f"{conversation.subject}\n{message.text}" if first else message.text
    return text.strip()[:MAX_TEXT]


def _repeat_contact(
    conversation: Conversation, message: Message, *, created: bool, batch: _Batch | None = None
) -> str:
    """Why this message is a repeat contact ("" when it is not)."""
    at = message.created_at
    if not created:
        messages = conversation.messages.exclude(pk=message.pk)
        last_answer = (
            messages.filter(direction=Message.Direction.OUTBOUND, author_kind="agent")
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        earlier = messages.filter(direction=Message.Direction.INBOUND)
        if last_answer is not None:
            earlier = earlier.filter(created_at__gt=last_answer)
        waiting_since = earlier.order_by("created_at").values_list("created_at", flat=True).first()
        if waiting_since is not None and at - waiting_since >= REPEAT_CONTACT_MIN_GAP:
            return f"unanswered since {waiting_since.isoformat(timespec='minutes')}"
    if batch is not None:
        other = batch.other_unanswered(conversation, at)
        return f"conversation #{other} unanswered" if other is not None else ""
    other = (
        Conversation.objects.filter(
            customer_id=conversation.customer_id, status__in=ACTIVE_STATUSES
        )
        .filter(Q(first_human_response_at__isnull=True) | Q(next_response_due__isnull=False))
        .exclude(pk=conversation.pk)
        .filter(last_message_at__lte=at - REPEAT_CONTACT_MIN_GAP)
        .order_by("created_at")
        .values_list("number", flat=True)
        .first()
    )
    if other is not None:
        return f"conversation #{other} unanswered"
    return ""


@dataclass(frozen=True)
class TriageOutcome:
    predictions: list[Prediction]
    escalated: bool
    needs_decision: bool
    assignment: Prediction | None


def triage_message(
    *,
    conversation: Conversation,
    message: Message,
    conversation_created: bool,
    batch: _Batch | None = None,
) -> TriageOutcome:
    """Read one inbound message and decide what automation may decide; record why.

    With `batch` (`triage_inbound_many`), the writes wait in it for `batch.flush()`.
    """
    started = time.perf_counter()
    created = conversation_created
    text = _text_of(conversation, message, first=created)
    fields: list[str] = []
    predictions: list[Prediction] = []

    def predict(kind: str, version: str, **values: Any) -> Prediction:
        row = Prediction(
            conversation=conversation, message=message, kind=kind, model_version=version, **values
        )
        predictions.append(row)
        return row

    # 1. language: routing and the language of automatic replies
    guess_code = ""
    if created or not conversation.language:
        guess = language.detect_language(text)
        guess_code = guess.code
        predict(
            Prediction.Kind.LANGUAGE,
            language.MODEL_VERSION,
            label=guess.code,
            confidence=guess.confidence,
            abstained=not guess.code,
            reasons=[f"{code} {value:.2f}" for code, value in guess.candidates]
            or ["too short to tell"],
        )
        if guess.code and not conversation.language:
            conversation.language = guess.code
            fields.append("language")

    # 2. signals
    found = {item.signal: item for item in signals.detect_signals(text)}
    for item in found.values():
        predict(
            Prediction.Kind.SIGNAL,
            signals.MODEL_VERSION,
            label=item.signal,
            confidence=1.0,
            reasons=[*item.reasons, *item.cues],
        )
    repeat = _repeat_contact(conversation, message, created=created, batch=batch)
    if repeat:
        predict(
            Prediction.Kind.SIGNAL,
            "repeat-contact-1",
            label="repeat_contact",
            confidence=1.0,
            reasons=[repeat],
        )
    names = frozenset(found) | ({"repeat_contact"} if repeat else frozenset())

    # 3. intent, with abstention: below the threshold a person decides
    intent: str | None = conversation.intent or None
    if created or (not conversation.intent and not conversation.needs_decision):
        result = _intent_predict(text)
        if result is None:
            predict(
                Prediction.Kind.INTENT,
                NO_MODEL_VERSION,
                abstained=True,
                reasons=["no intent model trained yet: a person decides"],
            )
            intent = None
        else:
            predict(
                Prediction.Kind.INTENT,
                str(getattr(result, "model_version", "") or "intent")[:100],
                label=(result.label or "")[:100],
                confidence=float(result.confidence),
                abstained=bool(result.abstained or not result.label),
                reasons=[str(reason)[:200] for reason in result.reasons][:10],
            )
            intent = None if (result.abstained or not result.label) else result.label[:100]
        if intent:
            conversation.intent = intent
            conversation.needs_decision = False
        else:
            conversation.needs_decision = True
        fields += ["intent", "needs_decision"]

    # 4. routing rules (new conversations only: an ongoing one stays where people put it)
    rule: RoutingRule | None = None
    if created:
        facts = routing.Facts(
            channel=conversation.channel,
            language=guess_code or conversation.language,
            intent=intent,
            signals=names,
        )
        rule = routing.rule_first_match(
            batch.rules
            if batch is not None
            else RoutingRule.objects.filter(enabled=True).select_related("team", "skill"),
            facts,
        )
        if rule is not None and rule.team_id != conversation.team_id:
            _move_to_team(conversation, rule.team)
            fields += ["team", "first_human_response_due", "resolution_due"]
        team = rule.team if rule else conversation.team
        predict(
            Prediction.Kind.ROUTING,
            "rules-1",
            label=team.slug if team else "",
            confidence=1.0,
            abstained=team is None,
            reasons=[f"rule: {rule.name}", *routing.rule_conditions(rule)]
            if rule
            else ["no rule matched: the channel's team"],
        )

    # 5. priority and escalation to a person
    escalated = bool(names & ESCALATING_SIGNALS)
    target = conversation.priority
    if escalated or names & {"urgency", "frustration"}:
        target = max(target, Priority.HIGH)
    if escalated and "urgency" in names:
        target = Priority.URGENT
    if rule is not None and rule.priority:
        target = max(target, rule.priority)
    if target != conversation.priority:
        (batch.event if batch is not None else event_record)(
            verb="priority.changed",
            conversation=conversation,
            actor_name=_("Triage"),
            data={"from": conversation.priority, "to": target, "reason": "triage"},
        )
        conversation.priority = target
        fields.append("priority")
    if escalated and not conversation.automatic_replies_stopped:
        conversation.automatic_replies_stopped = True
        fields.append("automatic_replies_stopped")

    if batch is not None:
        if fields:
            batch.save(conversation, fields)
        batch.predictions.extend(predictions)
    else:
        if fields:
            sla.refresh_due_at(conversation)
            conversation.save(update_fields=[*dict.fromkeys(fields), "due_at", "updated_at"])
        Prediction.objects.bulk_create(predictions)

    # 6. an owner: a person, straight away when escalated
    decision = None
    handled = False
    if batch is not None and conversation.assignee_id is None and (created or escalated):
        handled, decision = batch.no_owner(
            conversation,
            skill=rule.skill if rule else None,
            force=escalated,
            why="escalated" if escalated else "new",
        )
    if batch is not None and not handled and (created or escalated):
        batch.flush()  # assignment locks and reads rows: they must be written first
    if handled:
        pass
    elif conversation.assignee_id is None and (created or escalated):
        decision = assignment.conversation_auto_assign(
            conversation_id=conversation.pk,
            skill=rule.skill if rule else None,
            force=escalated,
            why="escalated" if escalated else "new",
        )
    elif escalated and conversation.assignee_id is not None:
        owner = User.objects.filter(pk=conversation.assignee_id).only("available").first()
        if owner is not None and not owner.available:
            decision = assignment.conversation_reassign(
                conversation_id=conversation.pk, from_agent_id=owner.pk, why="escalated"
            )
    if decision is not None:
        predictions.append(decision)
        if not decision.abstained:
            conversation.assignee_id = decision.conversation.assignee_id
    decided: dict[str, Any] = {
        "verb": "triage.decided",
        "conversation": conversation,
        "actor_name": _("Triage"),
        "data": {
            "message_id": message.pk,
            "predictions": [row.pk for row in predictions],
            "escalated": sorted(names & ESCALATING_SIGNALS),
            "needs_decision": conversation.needs_decision,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    }
    if batch is not None:
        batch.event(**decided)  # its predictions' ids are filled in by `flush`
        batch.decided.append((batch.events[-1], predictions))
    else:
        event_record(**decided)
    return TriageOutcome(predictions, escalated, conversation.needs_decision, decision)


def _move_to_team(conversation: Conversation, team: Team) -> None:
    """New conversation, new team: due times count from its creation in the new calendar."""
    conversation.team = team
    start = conversation.created_at or timezone.now()
    conversation.first_human_response_due = sla.first_human_response_due(team, start)
    conversation.resolution_due = sla.resolution_due(team, start)


# --- the ingest hook for a batch ---------------------------------------------------------------

# Intent predictions made for a whole batch at once, by text (see `triage_inbound_many`).
_INTENTS: ContextVar[dict[str, Any] | None] = ContextVar("triage_intents", default=None)


def _intent_predict_many(texts: list[str]) -> dict[str, Any]:
    """The active model's predictions for `texts`, embedded in one batch ({} without a model, or
    when `intent.predict` was replaced: `_intent_predict` then asks it per text)."""
    try:
        from guichet.triage import intent
        from guichet.triage.intent import parallel, store
    except ImportError:
        return {}
    if intent.predict is not store.predict or not texts:
        return {}
    try:
        found = store.active_model_and_path()
        if found is None:
            return {}
        path, model = found
        unique = list(dict.fromkeys(texts))
        # Spread over helper processes during a bulk import (`ingest_helpers`), else here.
        return dict(zip(unique, parallel.predict_many(path, model, unique), strict=True))
    except Exception:
        logger.exception("Batch intent prediction failed; predicting one message at a time")
        return {}


def triage_helpers_started(processes: int) -> AbstractContextManager[None]:
    """The triage hook's helper processes for a bulk import (`intent.parallel`), imported only
    then: the intent model's libraries cost every other process a second at start."""
    from guichet.triage.intent.parallel import helpers_started

    return helpers_started(processes)


class _Batch:
    """Triage's writes for a batch of messages, held back and written set-based by `flush`.

    Also the reads done once per batch: routing rules, teams' assignment modes, eligible agents,
    the senders' other active conversations. A message whose assignment needs agents' rows
    locked (someone could take it) is triaged one at a time, after a `flush`.
    """

    def __init__(self, results: list[IngestResult]) -> None:
        self.rules = list(RoutingRule.objects.filter(enabled=True).select_related("team", "skill"))
        self.predictions: list[Prediction] = []
        self.events: list[Event] = []
        self.decided: list[tuple[Event, list[Prediction]]] = []
        self.saves: dict[int, tuple[Conversation, set[str]]] = {}
        self._modes: dict[int, str] = {}
        self._eligible: dict[tuple[int, str, int | None], list[int]] = {}
        self._customers = {r.conversation.customer_id for r in results}
        self._others: dict[int, list[tuple[datetime, int, int, datetime | None]]] | None = None

    def event(self, **kwargs: Any) -> None:
        self.events.append(Event(**kwargs))

    def save(self, conversation: Conversation, fields: list[str]) -> None:
        sla.refresh_due_at(conversation)
        self.saves.setdefault(conversation.pk, (conversation, set()))[1].update(fields)

    def other_unanswered(self, conversation: Conversation, at: datetime) -> int | None:
        """`_repeat_contact`'s query, answered from one read for the batch's customers."""
        if self._others is None:
            self._others = {}
            for customer_id, created, pk, number, last in (
                Conversation.objects.filter(
                    customer_id__in=self._customers, status__in=ACTIVE_STATUSES
                )
                .filter(
                    Q(first_human_response_at__isnull=True) | Q(next_response_due__isnull=False)
                )
                .values_list("customer_id", "created_at", "pk", "number", "last_message_at")
            ):
                self._others.setdefault(customer_id, []).append((created, pk, number, last))
        found = [
            (created, pk, number)
            for created, pk, number, last in self._others.get(conversation.customer_id, [])
            if pk != conversation.pk and last is not None and last <= at - REPEAT_CONTACT_MIN_GAP
        ]
        return min(found)[2] if found else None

    def no_owner(
        self, conversation: Conversation, *, skill: Any, force: bool, why: str
    ) -> tuple[bool, Prediction | None]:
        """`assignment.conversation_auto_assign` when it needs no lock: (True, its decision) when
        nobody can take the conversation (or the team assigns by hand), else (False, None)."""
        team = conversation.team
        if not conversation.is_active or team is None:
            return True, None
        if team.pk not in self._modes:
            self._modes[team.pk] = assignment.team_mode(team)
        if self._modes[team.pk] == TeamAssignment.Mode.MANUAL and not force:
            return True, None
        customer = conversation._state.fields_cache.get("customer")
        if customer is None or customer.advisor_id is not None:
            return False, None
        key = (team.pk, (conversation.language or "").lower(), skill.pk if skill else None)
        if key not in self._eligible:
            self._eligible[key] = assignment.eligible_agent_ids(
                team, language=conversation.language, skill=skill
            )
        if self._eligible[key]:
            return False, None
        detail = "no available agent"
        if conversation.language:
            detail += f" speaking {conversation.language}"
        decision = Prediction(
            conversation=conversation,
            kind=Prediction.Kind.ASSIGNMENT,
            model_version=assignment.MODEL_VERSION,
            abstained=True,
            reasons=[f"why={why}", detail],
        )
        self.predictions.append(decision)
        return True, decision

    def flush(self) -> None:
        now = timezone.now()
        groups: dict[frozenset[str], list[Conversation]] = {}
        for conversation, fields in self.saves.values():
            conversation.updated_at = now
            groups.setdefault(frozenset(fields), []).append(conversation)
        for names, conversations in groups.items():
            rows_update(conversations, sorted({*names, "due_at", "updated_at"}))
        Prediction.objects.bulk_create(self.predictions)
        for event, predictions in self.decided:
            event.data["predictions"] = [row.pk for row in predictions]
        Event.objects.bulk_create(self.events)
        self.saves, self.predictions, self.events, self.decided = {}, [], [], []


def _snapshot(conversation: Conversation) -> tuple[dict[str, Any], dict[str, Any]]:
    values = {f.attname: getattr(conversation, f.attname) for f in Conversation._meta.fields}
    return values, dict(conversation._state.fields_cache)


def _restore(conversation: Conversation, saved: tuple[dict[str, Any], dict[str, Any]]) -> None:
    values, cache = saved
    for name, value in values.items():
        setattr(conversation, name, value)
    conversation._state.fields_cache = dict(cache)


def triage_inbound_many(items: Sequence[tuple[InboundMessage, IngestResult]]) -> None:
    """Ingest hook for a batch (`message_ingest_many`): the decisions `triage_inbound` makes for
    each message in turn, with the intent model run once for the batch and the writes made
    set-based (`_Batch`). Should anything fail, the batch's triage is rolled back and each
    message is triaged on its own, each failure logged and rolled back alone (never the mail)."""
    pairs = [(inbound, result) for inbound, result in items if result.created]
    if len(pairs) <= 1:
        for inbound, result in pairs:
            triage_inbound(inbound, result)
        return
    results = [result for _inbound, result in pairs]
    texts = [
        _text_of(r.conversation, r.message, first=r.conversation_created)
        for r in results
        if r.conversation_created or not (r.conversation.intent or r.conversation.needs_decision)
    ]
    token = _INTENTS.set(_intent_predict_many(texts))
    try:
        saved = [_snapshot(r.conversation) for r in results]
        try:
            with transaction.atomic():
                batch = _Batch(results)
                for result in results:
                    triage_message(
                        conversation=result.conversation,
                        message=result.message,
                        conversation_created=result.conversation_created,
                        batch=batch,
                    )
                batch.flush()
            return
        except Exception:
            logger.exception("Batch triage failed; triaging its messages one at a time")
        for result, state in zip(results, saved, strict=True):
            _restore(result.conversation, state)
        for result in results:
            try:
                with transaction.atomic():
                    triage_message(
                        conversation=result.conversation,
                        message=result.message,
                        conversation_created=result.conversation_created,
                    )
            except Exception:
                logger.exception("Triage failed for message %s", result.message.pk)
    finally:
        _INTENTS.reset(token)


# --- corrections -----------------------------------------------------------------------------


def _visible_prediction(actor: User, prediction_id: int) -> Prediction:
    found = (
        Prediction.objects.select_for_update(of=("self",))
        .select_related("conversation", "message")
        .filter(conversation_visibility_q(actor, prefix="conversation__"), pk=prediction_id)
        .first()
    )
    if found is None:
        raise NotAllowed(_("You cannot correct this decision."))
    return found


def _example_text(prediction: Prediction) -> str:
    conversation, message = prediction.conversation, prediction.message
    if message is None:
        return conversation.subject
    first = not conversation.messages.filter(
        direction=Message.Direction.INBOUND, created_at__lt=message.created_at
    ).exists()
    return _text_of(conversation, message, first=first)


@transaction.atomic
def prediction_correct(*, actor: User, prediction_id: int, label: str) -> Prediction:
    """An agent says what the right answer was. The correction is recorded on the prediction and
    as a training example; the conversation takes the corrected value."""
    prediction = _visible_prediction(actor, prediction_id)
    label = clean_text(label, 100).strip()
    conversation = Conversation.objects.select_for_update(of=("self",)).get(
        pk=prediction.conversation_id
    )
    kind = prediction.kind
    task = kind
    if kind == Prediction.Kind.INTENT:
        label = label.lower()
        if not label:
            raise InvalidInput(_("Choose or type the right intent."))
        conversation.intent = label
        conversation.needs_decision = False
        conversation.save(update_fields=["intent", "needs_decision", "updated_at"])
    elif kind == Prediction.Kind.LANGUAGE:
        label = label.lower()
        if not (2 <= len(label) <= 8 and label.replace("-", "").isalpha()):
            raise InvalidInput(_("Give a language code such as “fr” or “en”."))
        conversation.language = label
        conversation.save(update_fields=["language", "updated_at"])
    elif kind == Prediction.Kind.SIGNAL:
        if label not in ("yes", "no"):
            raise InvalidInput(_("Say whether the signal is right."))
        task = f"signal:{prediction.label}"
    elif kind == Prediction.Kind.ROUTING:
        team = Team.objects.filter(slug=label).first()
        if team is None:
            raise InvalidInput(_("Choose a team."))
        conversation_set_team(actor=actor, conversation=conversation, team=team)
    else:
        raise InvalidInput(_("Change the assignee with the Assign action."))
    previous = prediction.corrected_label or prediction.label
    prediction.corrected_label = label
    prediction.corrected_by = actor
    prediction.corrected_at = timezone.now()
    prediction.save(update_fields=["corrected_label", "corrected_by", "corrected_at"])
    if kind != Prediction.Kind.ROUTING:
        TrainingExample.objects.create(
            task=task,
            text=_example_text(prediction),
            label=label,
            source=(
                TrainingExample.Source.DECISION
                if prediction.abstained
                else TrainingExample.Source.CORRECTION
            ),
            language=conversation.language,
            conversation=conversation,
            prediction=prediction,
            created_by=actor,
        )
    event_record(
        verb="triage.corrected",
        conversation=conversation,
        actor=actor,
        data={"prediction_id": prediction.pk, "kind": kind, "from": previous, "to": label},
    )
    return prediction


# --- routing rules and team settings (supervisors) -------------------------------------------

RULE_FIELDS = ("name", "position", "enabled", "intent", "language", "channel", "signal")


def _require_supervisor(actor: User) -> None:
    if not is_supervisor(actor):
        raise NotAllowed(_("Only supervisors can change routing."))


@transaction.atomic
def routing_rule_save(
    *, actor: User, rule: RoutingRule | None, values: dict[str, Any]
) -> RoutingRule:
    """Create (rule=None) or change a routing rule from cleaned form values."""
    _require_supervisor(actor)
    target = rule or RoutingRule()
    for name in (*RULE_FIELDS, "team", "skill", "priority"):
        if name in values:
            setattr(target, name, values[name])
    target.intent = (target.intent or "").strip().lower()
    target.language = (target.language or "").strip().lower()
    if not target.name.strip():
        raise InvalidInput(_("Give the rule a name."))
    if target.team_id is None:
        raise InvalidInput(_("Choose a team."))
    target.save()
    return target


@transaction.atomic
def routing_rule_delete(*, actor: User, rule: RoutingRule) -> None:
    _require_supervisor(actor)
    RoutingRule.objects.filter(pk=rule.pk).delete()


@transaction.atomic
def routing_rule_move(*, actor: User, rule: RoutingRule, offset: int) -> None:
    """Move a rule up (-1) or down (+1); positions are renumbered 10, 20, 30…"""
    _require_supervisor(actor)
    rules = list(RoutingRule.objects.select_for_update().order_by("position", "id"))
    index = next((i for i, r in enumerate(rules) if r.pk == rule.pk), None)
    if index is None:
        raise InvalidInput(_("This rule no longer exists."))
    other = index + (1 if offset > 0 else -1)
    if 0 <= other < len(rules):
        rules[index], rules[other] = rules[other], rules[index]
    for position, item in enumerate(rules, start=1):
        if item.position != position * 10:
            RoutingRule.objects.filter(pk=item.pk).update(position=position * 10)


@transaction.atomic
def team_assignment_set(*, actor: User, team: Team, mode: str) -> TeamAssignment:
    _require_supervisor(actor)
    if mode not in TeamAssignment.Mode.values:
        raise InvalidInput(_("Unknown assignment mode."))
    setting, _created = TeamAssignment.objects.update_or_create(team=team, defaults={"mode": mode})
    return setting


# --- availability ------------------------------------------------------------------------------


def agent_availability_set(*, agent: User, available: bool) -> int:
    """Available agents get new conversations. Going unavailable hands the conversations where
    it is our move to available colleagues; returns how many moved."""
    User.objects.filter(pk=agent.pk).update(available=available)
    agent.available = available
    if available:
        return 0
    moved = 0
    for conversation_id in assignment.conversations_to_reassign(agent):
        decision = assignment.conversation_reassign(
            conversation_id=conversation_id, from_agent_id=agent.pk, why="offline"
        )
        moved += decision is not None and not decision.abstained
    return moved


# --- SLA at-risk sweep -----------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    at_risk: int
    reassigned: int
    notified: int


def _raise_one_step(priority: int) -> int:
    return min(int(priority) + 1, int(Priority.URGENT))


def _supervisors(team: Team | None) -> list[User]:
    if team is None:
        return []
    return list(
        User.objects.filter(
            Q(role__in=[User.Role.SUPERVISOR, User.Role.ADMIN]),
            teams=team,
            is_active=True,
        )
        .exclude(email="")
        .distinct()
    )


def _notify(supervisors: list[User], conversation: Conversation, due: datetime) -> None:
    for person in supervisors:
        with translation.override(person.preferred_language or settings.LANGUAGE_CODE):
            subject = _("Conversation #%(number)d is at risk") % {"number": conversation.number}
            body = _(
                "Conversation #%(number)d (%(subject)s) is due %(due)s and has not been answered "
                "yet. Its priority was raised."
            ) % {
                "number": conversation.number,
                "subject": conversation.subject,
                "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M"),
            }
        address = person.email

        def send(subject: str = subject, body: str = body, address: str = address) -> None:
            try:
                send_mail(subject, body, None, [address])
            except Exception:
                logger.exception("Could not notify %s", address)

        transaction.on_commit(send)


def sla_sweep(*, now: datetime | None = None) -> SweepResult:
    """Find conversations due within `SLA_AT_RISK_MINUTES` (or overdue) not reported yet: raise
    their priority one step, tell the team's supervisors (timeline event and email), and give
    them an available owner when they have none or theirs is away."""
    now = now or timezone.now()
    horizon = now + timedelta(minutes=settings.SLA_AT_RISK_MINUTES)
    ids = list(
        Conversation.objects.filter(
            status__in=ACTIVE_STATUSES, due_at__isnull=False, due_at__lte=horizon
        )
        .exclude(sla_alerts__due_at=F("due_at"))
        .order_by("due_at")
        .values_list("pk", flat=True)
    )
    at_risk = reassigned = notified = 0
    for pk in ids:
        try:
            outcome = _sweep_one(pk, horizon=horizon, now=now)
        except IntegrityError:  # another sweep reported it first
            continue
        if outcome is None:
            continue
        at_risk += 1
        reassigned += outcome[0]
        notified += outcome[1]
    return SweepResult(at_risk, reassigned, notified)


def _sweep_one(pk: int, *, horizon: datetime, now: datetime) -> tuple[int, int] | None:
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("team", "assignee")
            .filter(pk=pk, status__in=ACTIVE_STATUSES, due_at__lte=horizon)
            .first()
        )
        if conversation is None or conversation.due_at is None:
            return None
        due = conversation.due_at
        with transaction.atomic():
            SlaAlert.objects.create(conversation=conversation, due_at=due)
        previous = conversation.priority
        conversation.priority = _raise_one_step(previous)
        if conversation.priority != previous:
            conversation.save(update_fields=["priority", "updated_at"])
        supervisors = _supervisors(conversation.team)
        event_record(
            verb="sla.at_risk",
            conversation=conversation,
            actor_name=_("Triage"),
            data={
                "due": due.isoformat(),
                "overdue": due <= now,
                "from": previous,
                "to": conversation.priority,
                "notified": [person.pk for person in supervisors],
            },
        )
        _notify(supervisors, conversation, due)
        moved = 0
        owner = conversation.assignee
        if owner is None:
            decision = assignment.conversation_auto_assign(
                conversation_id=pk, force=True, why="at_risk"
            )
            moved = decision is not None and not decision.abstained
        elif not (owner.available and owner.is_active):
            moved = (
                assignment.conversation_reassign(
                    conversation_id=pk, from_agent_id=owner.pk, why="at_risk"
                )
                is not None
            )
        return int(moved), len(supervisors)
