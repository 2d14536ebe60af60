"""Pages of the walk-in queue: the public kiosk and board, the agents' console and metrics.

Public pages need no login and no JavaScript; the board adds a small polling script. Agent pages
are behind login; each action is a POST that calls one service and redirects back (PRG).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guichet.accounts.models import Site, User
from guichet.accounts.permissions import is_supervisor
from guichet.channels.counter import selectors, services
from guichet.channels.counter.forms import (
    CallNextForm,
    LinkConversationForm,
    MetricsForm,
    OpenConversationForm,
    TakeNumberForm,
)
from guichet.channels.counter.models import Ticket
from guichet.core.exceptions import Conflict, GuichetError, InvalidInput, NotAllowed

_STATUS = {InvalidInput: 400, NotAllowed: 403, Conflict: 409}


def _status(error: GuichetError) -> int:
    return next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)


def _first_error(form) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return _("Check the form.")


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


# Public: kiosk and board -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def kiosk(request: HttpRequest, site_id: int) -> HttpResponse:
    site = get_object_or_404(Site, pk=site_id)
    reasons = list(selectors.reasons_for_site(site=site))
    form = TakeNumberForm(request.POST or None, reasons=reasons)
    status = 200
    error = ""
    if request.method == "POST" and "contact" in request.POST:
        try:
            ticket = services.ticket_check_in(
                site=site, contact=request.POST["contact"][:254], language=get_language() or ""
            )
        except GuichetError as exc:
            error, status = str(exc), _status(exc)
        else:
            return redirect("counter_ticket", token=ticket.token)
        form = TakeNumberForm(reasons=reasons)
    elif request.method == "POST":
        if form.is_valid():
            try:
                ticket = services.ticket_take(
                    site=site,
                    reason_id=form.cleaned_data["reason"],
                    priority=form.cleaned_data["priority"],
                    name=form.cleaned_data["name"],
                    phone=form.cleaned_data["phone"],
                    language=get_language() or "",
                )
            except GuichetError as exc:
                error, status = str(exc), _status(exc)
            else:
                return redirect("counter_ticket", token=ticket.token)
        else:
            error, status = _first_error(form), 400
    waiting = selectors.board_state(site=site)
    return render(
        request,
        "counter/kiosk.html",
        {
            "site": site,
            "reasons": reasons,
            "form": form,
            "error": error,
            "board": waiting,
            "appointments": services.appointments_enabled(),
        },
        status=status,
    )


@require_GET
def ticket_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        ticket = selectors.ticket_by_token(token=token)
    except Ticket.DoesNotExist:
        raise Http404(_("No such ticket.")) from None
    ahead = selectors.ticket_position(ticket=ticket)
    context = {
        "ticket": ticket,
        "site": ticket.site,
        "ahead": ahead,
        "estimate": selectors.wait_estimate_minutes(site=ticket.site, ahead=ahead),
    }
    response = render(request, "counter/ticket.html", context)
    response["Referrer-Policy"] = "no-referrer"  # the address is the visitor's key
    return response


@require_GET
def board(request: HttpRequest, site_id: int) -> HttpResponse:
    site = get_object_or_404(Site, pk=site_id)
    return render(
        request, "counter/board.html", {"site": site, "board": selectors.board_state(site=site)}
    )


@require_GET
def board_state(request: HttpRequest, site_id: int) -> JsonResponse:
    site = get_object_or_404(Site, pk=site_id)
    return JsonResponse(selectors.board_json(site=site))


# Agents: console ----------------------------------------------------------------------------


def _site_for(user: User, site_id: int | None) -> Site | None:
    sites = selectors.sites_for(user=user)
    if site_id is None:
        return sites.order_by("name").first()
    site = sites.filter(pk=site_id).first()
    if site is None:
        raise Http404(_("No such site among yours."))
    return site


@login_required
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    raw = request.GET.get("site")
    site = _site_for(user, int(raw) if raw and raw.isdigit() else None)
    return _console_render(request, site)


def _console_render(
    request: HttpRequest, site: Site | None, status: int = 200, error: str = "", **forms
) -> HttpResponse:
    user = _user(request)
    context: dict[str, Any] = {
        "sites": selectors.sites_for(user=user).order_by("name"),
        "site": site,
        "error": error,
        "is_supervisor": is_supervisor(user),
    }
    if site is not None:
        desk = request.session.get(f"counter_desk_{site.pk}", "")
        context.update(
            state=selectors.console_state(user=user, site=site),
            desks=services.desk_names(site),
            call_form=forms.get("call_form") or CallNextForm(initial={"desk": desk}),
            open_form=forms.get("open_form") or OpenConversationForm(auto_id="open_%s"),
            link_form=forms.get("link_form") or LinkConversationForm(auto_id="link_%s"),
        )
    return render(request, "counter/console.html", context, status=status)


def _back(site: Site) -> HttpResponse:
    return redirect(f"{_console_url()}?site={site.pk}")


def _console_url() -> str:
    from django.urls import reverse

    return reverse("counter_console")


@login_required
@require_POST
def call_next(request: HttpRequest, site_id: int) -> HttpResponse:
    user = _user(request)
    site = _site_for(user, site_id)
    assert site is not None
    form = CallNextForm(request.POST)
    if not form.is_valid():
        return _console_render(request, site, 400, _first_error(form), call_form=form)
    try:
        ticket = services.ticket_call_next(actor=user, site=site, desk=form.cleaned_data["desk"])
    except GuichetError as exc:
        return _console_render(request, site, _status(exc), str(exc), call_form=form)
    request.session[f"counter_desk_{site.pk}"] = form.cleaned_data["desk"]
    if ticket is None:
        messages.info(request, _("Nobody is waiting."))
    else:
        messages.success(
            request,
            _("%(code)s called to desk %(desk)s.") % {"code": ticket.code, "desk": ticket.desk},
        )
    return _back(site)


def _ticket_action(request: HttpRequest, ticket_id: int, action) -> HttpResponse:
    user = _user(request)
    ticket = get_object_or_404(Ticket.objects.select_related("site"), pk=ticket_id)
    if not services.site_may_serve(user, ticket.site):
        raise Http404(_("No such ticket."))
    try:
        notice = action(user, ticket)
    except GuichetError as exc:
        return _console_render(request, ticket.site, _status(exc), str(exc))
    if notice:
        messages.success(request, notice)
    return _back(ticket.site)


@login_required
@require_POST
def recall(request: HttpRequest, ticket_id: int) -> HttpResponse:
    def act(user: User, ticket: Ticket) -> str:
        ticket = services.ticket_recall(actor=user, ticket=ticket)
        return _("%(code)s called again.") % {"code": ticket.code}

    return _ticket_action(request, ticket_id, act)


@login_required
@require_POST
def finish(request: HttpRequest, ticket_id: int, outcome: str) -> HttpResponse:
    def act(user: User, ticket: Ticket) -> str:
        ticket = services.ticket_finish(actor=user, ticket=ticket, outcome=outcome)
        if outcome == Ticket.Status.SERVED:
            return _("%(code)s served.") % {"code": ticket.code}
        return _("%(code)s marked absent.") % {"code": ticket.code}

    return _ticket_action(request, ticket_id, act)


@login_required
@require_POST
def conversation_open(request: HttpRequest, ticket_id: int) -> HttpResponse:
    def act(user: User, ticket: Ticket) -> str:
        form = OpenConversationForm(request.POST)
        if not form.is_valid():
            raise InvalidInput(_first_error(form))
        conversation = services.ticket_conversation_open(
            actor=user, ticket=ticket, **form.cleaned_data
        )
        return _("Conversation #%(n)d opened.") % {"n": conversation.number}

    return _ticket_action(request, ticket_id, act)


@login_required
@require_POST
def conversation_link(request: HttpRequest, ticket_id: int) -> HttpResponse:
    def act(user: User, ticket: Ticket) -> str:
        form = LinkConversationForm(request.POST)
        if not form.is_valid():
            raise InvalidInput(_first_error(form))
        conversation = services.ticket_conversation_link(
            actor=user, ticket=ticket, number=form.cleaned_data["number"]
        )
        return _("Visit linked to conversation #%(n)d.") % {"n": conversation.number}

    return _ticket_action(request, ticket_id, act)


@login_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not is_supervisor(user):
        raise Http404(_("Counter metrics are for supervisors."))
    sites = list(selectors.sites_for(user=user).order_by("name"))
    form = MetricsForm(request.GET or None, sites=sites)
    rows, error, status, site = [], "", 200, None
    if request.GET:
        if form.is_valid():
            site = next(s for s in sites if s.pk == form.cleaned_data["site"])
            try:
                rows = selectors.counter_metrics(
                    user=user,
                    site=site,
                    start=form.cleaned_data["start"],
                    end=form.cleaned_data["end"],
                )
            except GuichetError as exc:
                error, status = str(exc), _status(exc)
        else:
            error, status = _first_error(form), 400
    elif sites:
        site = sites[0]
        today = timezone.localdate()
        rows = selectors.counter_metrics(
            user=user, site=site, start=today - timedelta(days=6), end=today
        )
    totals = {
        "taken": sum(r.taken for r in rows),
        "served": sum(r.served for r in rows),
        "absent": sum(r.absent for r in rows),
        "no_shows": sum(r.appointment_no_shows for r in rows),
    }
    return render(
        request,
        "counter/metrics.html",
        {"form": form, "rows": rows, "site": site, "error": error, "totals": totals},
        status=status,
    )
