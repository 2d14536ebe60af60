"""Pages: public booking and management by signed link (no account, no JavaScript), agents' pages.

Views parse input, call one service or selector, and render; service errors become 4xx pages.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guichet.accounts.models import Site, User
from guichet.accounts.permissions import conversation_visibility_q, customer_visibility_q
from guichet.channels.appointments import notifications, selectors, services
from guichet.channels.appointments.availability import Slot
from guichet.channels.appointments.models import Appointment, AppointmentType
from guichet.channels.webform import ratelimit  # the public pages share one rate limit
from guichet.channels.webform.ratelimit import Limit
from guichet.conversations.models import Conversation
from guichet.core.clients import client_address
from guichet.core.exceptions import Conflict, GuichetError, InvalidInput, NotAllowed
from guichet.customers.models import Customer, Identity

WEEK = 7


@dataclass
class Choice:
    value: str
    time: str
    with_advisor: bool


def _acting(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _status(error: GuichetError) -> int:
    if isinstance(error, TooMany):
        return 429
    return {Conflict: 409, NotAllowed: 403}.get(type(error), 400)


def _error(request: HttpRequest, error: GuichetError, template: str, context: dict) -> HttpResponse:
    status = _status(error)
    return render(request, template, {**context, "error": str(error)}, status=status)


def _int(raw: str | None) -> int:
    """A positive id from a query parameter, or 0 (which matches no row)."""
    try:
        return max(int(raw or 0), 0)
    except ValueError:
        return 0


# Dates outside these years are nobody's appointment; refusing them keeps the date arithmetic
# of the pages (a day before, a week after, a time zone away) clear of `date.min` and `date.max`.
FIRST_YEAR, LAST_YEAR = 2000, 2999


def _day(raw: str | None) -> date | None:
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return day if day is not None and FIRST_YEAR <= day.year <= LAST_YEAR else None


def _site_and_type(params: dict) -> tuple[Site, AppointmentType]:
    site = Site.objects.select_related("calendar").filter(pk=_int(params.get("site"))).first()
    kind = AppointmentType.objects.filter(pk=_int(params.get("type")), active=True).first()
    if site is None or kind is None:
        raise InvalidInput(_("Please choose a place and a kind of appointment."))
    return site, kind


def _parse_slot(raw: str | None) -> datetime:
    try:
        value = datetime.fromisoformat(raw or "")
    except ValueError:
        raise InvalidInput(_("Please choose a time.")) from None
    if value.tzinfo is None or not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise InvalidInput(_("Please choose a time."))
    return value.astimezone(UTC)


def _week(
    *,
    site: Site,
    kind: AppointmentType,
    start: date | None,
    customer: Customer | None = None,
) -> dict:
    """The slots of one week, grouped by local day, with links to the weeks around it."""
    zone = selectors.site_zone(site)
    today = timezone.localtime(timezone.now(), zone).date()
    first = max(start or today, today)
    first = min(first, today + timedelta(days=selectors.SEARCH_DAYS_MAX - WEEK))
    last = first + timedelta(days=WEEK - 1)
    slots: list[Slot] = selectors.slots_search(
        site=site, appointment_type=kind, first_day=first, last_day=last, customer=customer
    )
    days: OrderedDict[date, list[Choice]] = OrderedDict()
    for slot in slots:
        local = slot.starts_at.astimezone(zone)
        days.setdefault(local.date(), []).append(
            Choice(slot.starts_at.isoformat(), local.strftime("%H:%M"), slot.with_advisor)
        )
    next_free = None
    if not slots:
        next_free = selectors.next_free_day(site=site, appointment_type=kind, after=last)
    return {
        "days": list(days.items()),
        "first": first,
        "last": last,
        "previous_week": first - timedelta(days=WEEK) if first > today else None,
        "next_week": last + timedelta(days=1)
        if last + timedelta(days=1) < today + timedelta(days=selectors.SEARCH_DAYS_MAX)
        else None,
        "next_free": next_free,
        "in_person_types": [
            t
            for t in selectors.bookable_types(site=site)
            if t.mode == AppointmentType.Mode.IN_PERSON
        ],
    }


# --- public --------------------------------------------------------------------------------------


class TooMany(GuichetError):
    """Too many bookings or changes from one connection within an hour."""


def _throttled(request: HttpRequest) -> TooMany | None:
    """Count this public POST against the shared per-address hourly limit of public pages."""
    limit = ratelimit.Limit(
        "appointment-ip",
        client_address(request.META),
        settings.PUBLIC_HOURLY_LIMIT_PER_IP,
    )
    if ratelimit.exceeded([limit]):
        return TooMany(_("Too many requests from your connection. Please try again later."))
    ratelimit.record([limit])
    return None


def _address_limits(contact: services.Contact) -> list[Limit]:
    """Per email address and per phone number (W06): a script cannot fill the calendar with one
    person's details. Keys are stored hashed; unusable values are left to the service to refuse."""
    limits = []
    per_hour = settings.APPOINTMENT_HOURLY_LIMIT_PER_ADDRESS
    email = str(contact.email or "").strip().lower()[:254]
    if email:
        limits.append(Limit("appointment-email", email, per_hour))
    digits = "".join(ch for ch in str(contact.phone or "") if ch.isdigit())
    if digits:  # the last nine digits: "06 12…" and "+33 6 12…" are the same line
        limits.append(Limit("appointment-phone", digits[-9:], per_hour))
    return limits


def book_start(request: HttpRequest) -> HttpResponse:
    """Step 1: where and what. Sites are listed only when someone is present there."""
    return render(
        request,
        "appointments/book_start.html",
        {
            "sites": selectors.bookable_sites(),
            "types": selectors.bookable_types(),
            "language": get_language(),
        },
    )


@require_http_methods(["GET", "POST"])
def book_slots(request: HttpRequest) -> HttpResponse:
    """Step 2: a week of free times and the contact details, in one form."""
    params = request.GET if request.method == "GET" else request.POST
    try:
        site, kind = _site_and_type(params)
    except InvalidInput as error:
        return _error(
            request,
            error,
            "appointments/book_start.html",
            {"sites": selectors.bookable_sites(), "types": selectors.bookable_types()},
        )
    context = {
        "site": site,
        "kind": kind,
        "kind_label": kind.label(get_language() or ""),
        "values": params,
        "week_query": urlencode({"site": site.pk, "type": kind.pk}),
        **_week(site=site, kind=kind, start=_day(params.get("week"))),
    }
    if request.method == "GET":
        return render(request, "appointments/book_slots.html", context)
    throttled = _throttled(request)
    if throttled is not None:
        return _error(request, throttled, "appointments/book_slots.html", context)
    contact = services.Contact(
        name=params.get("name", ""),
        email=params.get("email", ""),
        phone=params.get("phone", ""),
        language=get_language() or "",
    )
    address_limits = _address_limits(contact)
    if ratelimit.exceeded(address_limits) is not None:
        too_many = TooMany(
            _("Many appointments were booked with these details in the last hour. Please call us.")
        )
        return _error(request, too_many, "appointments/book_slots.html", context)
    try:
        appointment = services.appointment_book(
            appointment_type=kind,
            site=site,
            starts_at=_parse_slot(params.get("slot")),
            contact=contact,
        )
    except GuichetError as error:
        return _error(request, error, "appointments/book_slots.html", context)
    ratelimit.record(address_limits)
    return redirect("appointments:public_manage", notifications.manage_token(appointment))


def _by_token(token: str) -> Appointment:
    reference = notifications.token_reference(token)
    appointment = (
        Appointment.objects.select_related("type", "site__calendar", "agent")
        .filter(reference=reference)
        .first()
        if reference
        else None
    )
    if appointment is None:
        raise Http404(_("This link is not valid or has expired."))
    return appointment


@require_http_methods(["GET", "POST"])
def public_manage(request: HttpRequest, token: str) -> HttpResponse:
    """See, move or cancel an appointment through the signed link sent to the customer."""
    appointment = _by_token(token)
    context: dict = {"appointment": appointment, "token": token}

    def page(status: int = 200, error: str = "") -> HttpResponse:
        context["when"] = notifications.when_text(appointment)
        context["where"] = notifications.where_text(appointment)
        context["kind_label"] = appointment.type.label(get_language() or "")
        if appointment.status == Appointment.Status.BOOKED:
            context.update(
                _week(
                    site=appointment.site,
                    kind=appointment.type,
                    start=_day(request.GET.get("week") or request.POST.get("week")),
                )
            )
        context["error"] = error
        return render(request, "appointments/manage.html", context, status=status)

    if request.method == "GET":
        return page()
    throttled = _throttled(request)
    if throttled is not None:
        return page(429, str(throttled))
    action = request.POST.get("action")
    try:
        if action == "cancel":
            appointment = services.appointment_cancel(appointment=appointment)
            messages.success(request, _("Your appointment is cancelled."))
        elif action == "reschedule":
            appointment = services.appointment_reschedule(
                appointment=appointment, starts_at=_parse_slot(request.POST.get("slot"))
            )
            messages.success(request, _("Your appointment has been moved."))
        else:
            raise InvalidInput(_("Unknown action."))
    except GuichetError as error:
        return page(_status(error), str(error))
    return redirect("appointments:public_manage", token)


# --- agents --------------------------------------------------------------------------------------


@login_required
def agent_day(request: HttpRequest) -> HttpResponse:
    actor = _acting(request)
    zone = timezone.get_default_timezone()
    day = _day(request.GET.get("day")) or timezone.localtime(timezone.now(), zone).date()
    site = Site.objects.select_related("calendar").filter(pk=_int(request.GET.get("site"))).first()
    appointments = selectors.appointments_for_agent(actor=actor, day=day, site=site)
    return render(
        request,
        "appointments/agent_day.html",
        {
            "day": day,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "site": site,
            "appointments": appointments,
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def agent_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _acting(request)
    appointment = selectors.appointment_visible(actor=actor, pk=pk)
    if appointment is None:
        raise Http404
    try:
        services.appointment_attendance_set(
            appointment=appointment, actor=actor, attended=request.POST.get("attended") == "yes"
        )
    except GuichetError as error:
        messages.error(request, str(error))
    day = timezone.localtime(appointment.starts_at).date().isoformat()
    return redirect(f"{reverse('appointments:agent_day')}?{urlencode({'day': day})}")


@login_required
@require_http_methods(["GET", "POST"])
def agent_book(request: HttpRequest) -> HttpResponse:
    """Book for a caller, from their conversation or customer page; the named advisor first."""
    actor = _acting(request)
    params = request.GET if request.method == "GET" else request.POST
    conversation = (
        Conversation.objects.filter(
            conversation_visibility_q(actor), pk=_int(params.get("conversation"))
        )
        .select_related("customer__advisor")
        .first()
    )
    customer = (
        conversation.customer
        if conversation is not None
        else Customer.objects.filter(customer_visibility_q(actor), pk=_int(params.get("customer")))
        .select_related("advisor")
        .first()
    )
    identities = (
        dict(
            Identity.objects.filter(customer=customer)
            .order_by("-created_at")
            .values_list("kind", "value")
        )
        if customer is not None
        else {}
    )
    values = {
        "name": customer.display_name if customer else "",
        "email": identities.get("email", ""),
        "phone": identities.get("phone", ""),
        **params.dict(),
    }
    context: dict = {
        "conversation": conversation,
        "customer": customer,
        "values": values,
        "sites": Site.objects.order_by("name"),
        "types": selectors.bookable_types(),
    }
    site = kind = None
    if params.get("site") and params.get("type"):
        try:
            site, kind = _site_and_type(params)
        except InvalidInput as error:
            return _error(request, error, "appointments/agent_book.html", context)
        context.update(
            site=site,
            kind=kind,
            week_query=urlencode(
                {
                    key: str(params.get(key))
                    for key in ("site", "type", "conversation", "customer")
                    if params.get(key)
                }
            ),
            **_week(site=site, kind=kind, start=_day(params.get("week")), customer=customer),
        )
    if request.method == "GET" or site is None or kind is None:
        return render(request, "appointments/agent_book.html", context)
    try:
        appointment = services.appointment_book(
            appointment_type=kind,
            site=site,
            starts_at=_parse_slot(params.get("slot")),
            contact=services.Contact(
                name=params.get("name", ""),
                email=params.get("email", ""),
                phone=params.get("phone", ""),
                language=(customer.preferred_language if customer else "") or "",
            ),
            actor=actor,
            conversation=conversation,
            customer=customer if conversation is None else None,
        )
    except GuichetError as error:
        return _error(request, error, "appointments/agent_book.html", context)
    messages.success(
        request,
        _("Appointment booked with %(agent)s on %(when)s.")
        % {"agent": appointment.agent.display_name, "when": notifications.when_text(appointment)},
    )
    return redirect("conversation", appointment.conversation.number)
