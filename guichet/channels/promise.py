"""The human promise every automatic reply carries (DESIGN promises 1 and 2), for every channel.

When a person will answer (the first-human-response due time, in the team's time zone) and how to
reach a person sooner (the team's phone line and hours, the counters where its agents receive
people). Channels render these facts in their own format: an email, an SMS, a web page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.dates import MONTHS, WEEKDAYS
from django.utils.translation import gettext as _

from guichet.accounts.models import Site, Team
from guichet.conversations.models import Conversation
from guichet.core.models import Calendar

EN_DASH = " \u2013 "  # between opening and closing times


@dataclass(frozen=True)
class Counter:
    name: str
    address: str
    phone: str
    hours: str


def customer_language(conversation: Conversation) -> str:
    """English when the customer wrote in English or prefers it; French otherwise."""
    for value in (conversation.language, conversation.customer.preferred_language):
        if value:
            return "en" if value.lower().startswith("en") else "fr"
    return "fr"


def promise_context(conversation: Conversation, language: str) -> dict[str, Any]:
    """`language`, `due` (text, "" when none), `phone`, `phone_hours` and `counters`.

    Call under `translation.override(language)`.
    """
    team = conversation.team
    return {
        "language": language,
        "due": (
            format_due(conversation.first_human_response_due, team_zone(team), language)
            if conversation.first_human_response_due
            else ""
        ),
        "phone": team.phone if team else "",
        "phone_hours": opening_hours(team.calendar, language) if team else "",
        "counters": counters_for(team, language),
    }


def team_zone(team: Team | None) -> ZoneInfo:
    return ZoneInfo(team.calendar.time_zone if team else str(settings.TIME_ZONE))


def clock(value: time, language: str) -> str:
    """ "14 h 00" in French, "2:00 pm" in English."""
    if language == "fr":
        return f"{value.hour} h {value.minute:02d}"
    suffix = "am" if value.hour < 12 else "pm"
    return f"{value.hour % 12 or 12}:{value.minute:02d} {suffix}"


def format_due(due: datetime, zone: ZoneInfo, language: str) -> str:
    """ "lundi 23 novembre à 14 h 00" / "Monday 23 November at 2:00 pm"; call under the language."""
    local = timezone.localtime(due, zone)
    weekday = str(WEEKDAYS[local.weekday()])
    month = str(MONTHS[local.month])
    if language == "fr":
        weekday, month = weekday.lower(), month.lower()
    day = f"{weekday} {local.day} {month}"
    if local.year != timezone.localtime(timezone.now(), zone).year:
        day = f"{day} {local.year}"
    return _("%(day)s at %(time)s") % {"day": day, "time": clock(local.time(), language)}


def opening_hours(calendar: Calendar, language: str) -> str:
    """ "Monday to Friday, 9:00 am to 12:30 pm and…": days with the same hours are grouped."""
    by_day: dict[int, list[tuple[time, time]]] = {}
    for period in calendar.periods.all():
        by_day.setdefault(period.weekday, []).append((period.opens, period.closes))
    groups: list[tuple[list[int], list[tuple[time, time]]]] = []
    for weekday in sorted(by_day):
        intervals = sorted(by_day[weekday])
        if groups and groups[-1][1] == intervals and groups[-1][0][-1] == weekday - 1:
            groups[-1][0].append(weekday)
        else:
            groups.append(([weekday], intervals))
    parts = []
    for days, intervals in groups:
        first, last = str(WEEKDAYS[days[0]]), str(WEEKDAYS[days[-1]])
        if language == "fr":
            first, last = first.lower(), last.lower()
        span = (
            first
            if len(days) == 1
            else _("%(first)s to %(last)s")
            % {
                "first": first,
                "last": last,
            }
        )
        times = _(" and ").join(
            f"{clock(opens, language)}{EN_DASH}{clock(closes, language)}"
            for opens, closes in intervals
        )
        parts.append(f"{span}, {times}")
    return (" ; " if language == "fr" else "; ").join(parts)


def counters_for(team: Team | None, language: str) -> list[Counter]:
    """The sites where the team's agents receive people (the counter), with opening hours."""
    if team is None:
        return []
    sites = (
        Site.objects.filter(agents__teams=team)
        .distinct()
        .select_related("calendar")
        .prefetch_related("calendar__periods")
        .order_by("name")
    )
    return [
        Counter(
            name=site.name,
            address=" ".join(site.address.split()),
            phone=site.phone,
            hours=opening_hours(site.calendar, language),
        )
        for site in sites[:3]
    ]
