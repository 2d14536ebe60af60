"""Triage pages: routing rules and assignment modes (supervisors), corrections of automatic
decisions and availability (agents). Thin: parse, authorise, call one service, answer."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guichet.accounts.models import Team, User
from guichet.accounts.permissions import is_supervisor
from guichet.core.exceptions import GuichetError, InvalidInput, NotAllowed
from guichet.triage import selectors, services
from guichet.triage.forms import (
    AvailabilityForm,
    CorrectionForm,
    RoutingRuleForm,
    TeamAssignmentForm,
)
from guichet.triage.models import Prediction, RoutingRule, TeamAssignment

ERROR_STATUS = {InvalidInput: 400, NotAllowed: 403}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _status(error: GuichetError) -> int:
    return next((code for kind, code in ERROR_STATUS.items() if isinstance(error, kind)), 409)


def _supervisor(request: HttpRequest) -> User:
    user = _user(request)
    if not is_supervisor(user):
        raise NotAllowed(_("Only supervisors can change routing."))
    return user


def _routing_page(
    request: HttpRequest, form: RoutingRuleForm | None = None, status: int = 200, error: str = ""
) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "triage/routing.html",
        {
            "rules": selectors.routing_rules(user=user),
            "form": form or RoutingRuleForm(auto_id="rule_%s"),
            "teams": selectors.team_assignments(user=user),
            "modes": TeamAssignment.Mode.choices,
            "error": error,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def routing(request: HttpRequest) -> HttpResponse:
    """The rules in order, with a form to add one."""
    try:
        user = _supervisor(request)
    except NotAllowed as error:
        return render(request, "web/error.html", {"message": str(error)}, status=403)
    if request.method == "GET":
        return _routing_page(request)
    form = RoutingRuleForm(request.POST, auto_id="rule_%s")
    if not form.is_valid():
        return _routing_page(request, form, status=400)
    try:
        rule = services.routing_rule_save(actor=user, rule=None, values=form.cleaned_data)
    except GuichetError as error:
        return _routing_page(request, form, status=_status(error), error=str(error))
    messages.success(request, _("Rule “%(name)s” added.") % {"name": rule.name})
    return redirect("triage_routing")


def _rule(pk: int) -> RoutingRule:
    rule = RoutingRule.objects.filter(pk=pk).first()
    if rule is None:
        raise Http404(_("No such rule."))
    return rule


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        user = _supervisor(request)
    except NotAllowed as error:
        return render(request, "web/error.html", {"message": str(error)}, status=403)
    rule = _rule(pk)
    if request.method == "GET":
        form = RoutingRuleForm(instance=rule, auto_id="rule_%s")
        return render(request, "triage/rule_edit.html", {"rule": rule, "form": form})
    form = RoutingRuleForm(request.POST, instance=RoutingRule.objects.get(pk=pk), auto_id="rule_%s")
    if not form.is_valid():
        return render(request, "triage/rule_edit.html", {"rule": rule, "form": form}, status=400)
    try:
        services.routing_rule_save(actor=user, rule=rule, values=form.cleaned_data)
    except GuichetError as error:
        return render(
            request,
            "triage/rule_edit.html",
            {"rule": rule, "form": form, "error": str(error)},
            status=_status(error),
        )
    messages.success(request, _("Rule “%(name)s” saved.") % {"name": rule.name})
    return redirect("triage_routing")


@login_required
@require_POST
def rule_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Move up, move down or delete one rule."""
    try:
        user = _supervisor(request)
        rule = _rule(pk)
        action = request.POST.get("action", "")
        if action == "delete":
            services.routing_rule_delete(actor=user, rule=rule)
            messages.success(request, _("Rule “%(name)s” deleted.") % {"name": rule.name})
        elif action in ("up", "down"):
            services.routing_rule_move(actor=user, rule=rule, offset=-1 if action == "up" else 1)
        else:
            raise InvalidInput(_("Unknown action."))
    except GuichetError as error:
        return render(request, "web/error.html", {"message": str(error)}, status=_status(error))
    return redirect("triage_routing")


@login_required
@require_POST
def team_mode(request: HttpRequest, team_id: int) -> HttpResponse:
    form = TeamAssignmentForm(request.POST)
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise Http404(_("No such team."))
    try:
        user = _supervisor(request)
        if not form.is_valid():
            raise InvalidInput(_("Unknown assignment mode."))
        services.team_assignment_set(actor=user, team=team, mode=form.cleaned_data["mode"])
    except GuichetError as error:
        return render(request, "web/error.html", {"message": str(error)}, status=_status(error))
    messages.success(request, _("Assignment of %(team)s saved.") % {"team": team.name})
    return redirect("triage_routing")


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


@login_required
@require_POST
def prediction_correct(request: HttpRequest, pk: int) -> HttpResponse:
    """One click: the agent gives the right answer for one automatic decision."""
    user = _user(request)
    form = CorrectionForm(request.POST)
    prediction = Prediction.objects.filter(pk=pk).select_related("conversation").first()
    if prediction is None:
        raise Http404(_("No such decision."))
    try:
        if not form.is_valid():
            raise InvalidInput(_("Choose or type the right answer."))
        services.prediction_correct(actor=user, prediction_id=pk, label=form.cleaned_data["label"])
    except GuichetError as error:
        return render(request, "web/error.html", {"message": str(error)}, status=_status(error))
    messages.success(request, _("Thank you: the correction is recorded for the next training."))
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return _back(request, "inbox")


@login_required
@require_POST
def availability(request: HttpRequest) -> HttpResponse:
    """Switch oneself available (new conversations come) or away (ours go to colleagues)."""
    user = _user(request)
    form = AvailabilityForm(request.POST)
    available = bool(form.is_valid() and form.cleaned_data["available"])
    moved = services.agent_availability_set(agent=user, available=available)
    if available:
        messages.success(request, _("You are available: new conversations can come to you."))
    else:
        messages.success(
            request,
            _("You are away: no new conversations come to you (%(n)d handed to colleagues).")
            % {"n": moved},
        )
    return _back(request, "inbox")
