"""The acknowledgement email: when it may be sent (no loops) and what it says.

Rules (RFC 3834, DESIGN promise 3, RELIABILITY E01/E02): never answer mail that is itself
automatic (`ParsedEmail.auto_submitted`), mail without a sender, mail from one of our own
addresses or domains, a conversation already acknowledged, or an address that already received
`EMAIL_AUTO_REPLY_HOURLY_CAP` acknowledgements within the hour. Two helpdesks that acknowledge
each other therefore stop after one acknowledgement each way at most.

What it says (promises 1 and 2): the conversation number, when a person will answer (the
first-human-response due time in the team's time zone) and how to reach a person sooner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dates import MONTHS, WEEKDAYS
from django.utils.translation import gettext as _

from guichet.accounts.models import Site, Team
from guichet.channels.email.models import Mailbox, OutboundEmail
from guichet.channels.email.parser import ParsedEmail
from guichet.conversations.models import Conversation
from guichet.core.models import Calendar

# Reasons an acknowledgement is not sent; recorded on the timeline event.
AUTO_SUBMITTED = "auto_submitted"
NO_SENDER = "no_sender"
OWN_ADDRESS = "own_address"
ALREADY_ACKNOWLEDGED = "already_acknowledged"
SENDER_CAP = "sender_cap"

EN_DASH = " \u2013 "  # between opening and closing times


def own_addresses_and_domains() -> tuple[set[str], set[str]]:
    """Our mailbox addresses and their domains (plus `EMAIL_FROM_DOMAIN`), lower-case."""
    addresses = {value.lower() for value in Mailbox.objects.values_list("address", flat=True)}
    domains = {address.rsplit("@", 1)[1] for address in addresses if "@" in address}
    domains.add(str(settings.EMAIL_FROM_DOMAIN).lower())
    return addresses, domains


def acknowledgement_refusal(
    *, parsed: ParsedEmail, conversation: Conversation, now: datetime
) -> str:
    """Why no acknowledgement may be sent for this mail ("" when one may).

    Call with the conversation row locked, so that two deliveries cannot both pass the
    once-per-conversation rule.
    """
    if parsed.auto_submitted:
        return f"{AUTO_SUBMITTED}:{parsed.auto_submitted}"
    sender = (parsed.from_address or "").strip().lower()
    if not sender or "@" not in sender:
        return NO_SENDER
    addresses, domains = own_addresses_and_domains()
    if sender in addresses or sender.rsplit("@", 1)[1] in domains:
        return OWN_ADDRESS
    acknowledgements = OutboundEmail.objects.filter(kind=OutboundEmail.Kind.ACKNOWLEDGEMENT)
    if acknowledgements.filter(conversation=conversation).exists():
        return ALREADY_ACKNOWLEDGED
    recent = acknowledgements.filter(
        to_address__iexact=sender, created_at__gte=now - timedelta(hours=1)
    ).count()
    if recent >= settings.EMAIL_AUTO_REPLY_HOURLY_CAP:
        return SENDER_CAP
    return ""


# --- content -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    language: str
    text: str
    html: str


@dataclass(frozen=True)
class Counter:
    name: str
    address: str
    phone: str
    hours: str


def acknowledgement_language(conversation: Conversation) -> str:
    """English when the customer wrote in English or prefers it; French otherwise."""
    for value in (conversation.language, conversation.customer.preferred_language):
        if value:
            return "en" if value.lower().startswith("en") else "fr"
    return "fr"


def acknowledgement_render(conversation: Conversation) -> Rendered:
    """The text and HTML bodies, in the customer's language."""
    language = acknowledgement_language(conversation)
    team = conversation.team
    with translation.override(language):
        context = {
            "language": language,
            "customer_name": conversation.customer.display_name,
            "number": str(conversation.number),
            "due": (
                format_due(conversation.first_human_response_due, _zone(team), language)
                if conversation.first_human_response_due
                else ""
            ),
            "phone": team.phone if team else "",
            "phone_hours": opening_hours(team.calendar, language) if team else "",
            "counters": _counters(team, language),
        }
        text = render_to_string("email_channel/acknowledgement.txt", context)
        html = render_to_string("email_channel/acknowledgement.html", context)
    return Rendered(language=language, text=text.strip() + "\n", html=html)


def _zone(team: Team | None) -> ZoneInfo:
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


def _counters(team: Team | None, language: str) -> list[Counter]:
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
