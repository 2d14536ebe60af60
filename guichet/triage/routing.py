"""Which team a new conversation goes to: the first enabled routing rule that matches.

Facts come from triage (intent unless it abstained, language, channel, signals). A rule's empty
condition matches anything; an intent condition never matches an abstention, so an uncertain
conversation falls through to the rules without intent, or stays in its channel's team (the
team's general queue) where a person decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from guichet.triage.models import RoutingRule


@dataclass(frozen=True)
class Facts:
    channel: str
    language: str = ""
    intent: str | None = None  # None: abstained
    signals: frozenset[str] = field(default_factory=frozenset)


def rule_matches(rule: RoutingRule, facts: Facts) -> bool:
    if not rule.enabled:
        return False
    if rule.intent and rule.intent != facts.intent:
        return False
    if rule.language and rule.language.lower() != (facts.language or "").lower():
        return False
    if rule.channel and rule.channel != facts.channel:
        return False
    return not (rule.signal and rule.signal not in facts.signals)


def rule_first_match(rules: Iterable[RoutingRule], facts: Facts) -> RoutingRule | None:
    """`rules` in their order (position, id)."""
    for rule in rules:
        if rule_matches(rule, facts):
            return rule
    return None


def rule_conditions(rule: RoutingRule) -> list[str]:
    """The rule's conditions as `name=value` strings, for the reasons of a routing decision."""
    conditions = [
        f"{name}={value}"
        for name, value in (
            ("intent", rule.intent),
            ("language", rule.language),
            ("channel", rule.channel),
            ("signal", rule.signal),
        )
        if value
    ]
    return conditions or ["any"]
