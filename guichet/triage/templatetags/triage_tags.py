"""Template helpers for triage's parts of the agent pages (timeline decisions, inbox badges)."""

from __future__ import annotations

from typing import Any

from django import template

from guichet.accounts.models import Team
from guichet.conversations.models import Event
from guichet.triage import language, selectors
from guichet.triage.models import Prediction, Signal

register = template.Library()


@register.simple_tag
def triage_predictions(event: Event) -> list[Prediction]:
    """The decisions a `triage.decided` event announced, in the order they were made."""
    ids = [pk for pk in (event.data or {}).get("predictions", []) if isinstance(pk, int)]
    if not ids or event.conversation_id is None:
        return []
    rows = Prediction.objects.filter(pk__in=ids, conversation_id=event.conversation_id)
    return list(rows.select_related("corrected_by").order_by("id"))


@register.simple_tag(takes_context=True)
def triage_choices(context: Any) -> dict[str, Any]:
    """Intents, languages and teams offered for corrections (computed once per page)."""
    cache = context.render_context
    if "triage_choices" not in cache:
        cache["triage_choices"] = {
            "intents": selectors.intent_labels(),
            "languages": ["fr", "en", *_other_languages()],
            "teams": list(Team.objects.order_by("name").values_list("slug", "name")),
        }
    return cache["triage_choices"]


def _other_languages() -> list[str]:
    codes = {"GERMAN": "de", "SPANISH": "es", "ITALIAN": "it", "PORTUGUESE": "pt"}
    codes |= {"DUTCH": "nl", "ARABIC": "ar"}
    return [codes[name] for name in language.LANGUAGES if name in codes]


@register.filter
def signal_label(value: str) -> str:
    try:
        return str(Signal(value).label)
    except ValueError:
        return value


@register.filter
def percent(value: float) -> str:
    return f"{round(float(value or 0) * 100)} %"
