"""The customer page: identities, advisor, every conversation across channels, merge."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guichet.accounts.models import User
from guichet.accounts.permissions import can_merge_customers
from guichet.accounts.selectors import assignable_agents
from guichet.conversations import selectors, services
from guichet.core.exceptions import GuichetError
from guichet.customers.models import Customer
from guichet.web import forms
from guichet.web.views.common import acting_user, error_status, render_error, require_valid


def _get(user: User, pk: int) -> Customer:
    try:
        return selectors.customer_get(user=user, customer_id=pk)
    except Customer.DoesNotExist:
        raise Http404(_("No such customer.")) from None


def _advisor_choices(user: User, customer: Customer) -> Any:
    """Agents of the user's teams, plus the current advisor so that saving keeps them."""
    return User.objects.filter(
        Q(pk__in=assignable_agents(user=user).values("pk")) | Q(pk=customer.advisor_id)
    ).order_by("first_name", "last_name", "username")


def _render(
    request: HttpRequest, customer: Customer, status: int = 200, **extra: Any
) -> HttpResponse:
    user = acting_user(request)
    context = {
        "customer": customer,
        "identities": list(customer.identities.all()),
        "conversations": selectors.customer_conversations(user=user, customer=customer)[:200],
        "identity_form": extra.get("identity_form") or forms.IdentityForm(auto_id="identity_%s"),
        "edit_form": extra.get("edit_form")
        or forms.CustomerEditForm(
            agents=_advisor_choices(user, customer),
            language=customer.preferred_language,
            initial={
                "display_name": customer.display_name,
                "preferred_language": customer.preferred_language,
                "advisor": customer.advisor_id,
            },
            auto_id="edit_%s",
        ),
        "merge_form": (extra.get("merge_form") or forms.MergeForm(auto_id="merge_%s"))
        if can_merge_customers(user)
        else None,
        "error": extra.get("error", ""),
    }
    return render(request, "web/customer.html", context, status=status)


@login_required
@require_GET
def customer_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = acting_user(request)
    kept = selectors.customer_kept(user=user, customer_id=pk)
    if kept is not None:
        # The old address of a merged customer (a bookmark, a link in a note) leads on.
        messages.info(
            request,
            _("Customer %(old)d was merged into %(kept)s (customer %(number)d).")
            % {"old": pk, "kept": kept, "number": kept.pk},
        )
        return redirect("customer", pk=kept.pk)
    return _render(request, _get(user, pk))


@login_required
@require_POST
def customer_identity_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = acting_user(request)
    customer = _get(user, pk)
    form = forms.IdentityForm(request.POST, auto_id="identity_%s")
    try:
        require_valid(form)
        services.customer_identity_add(
            actor=user,
            customer=customer,
            kind=form.cleaned_data["kind"],
            value=form.cleaned_data["value"],
        )
    except GuichetError as error:
        return _render(
            request, customer, status=error_status(error), error=str(error), identity_form=form
        )
    messages.success(request, _("Identifier added."))
    return redirect("customer", pk=customer.pk)


@login_required
@require_POST
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = acting_user(request)
    customer = _get(user, pk)
    form = forms.CustomerEditForm(
        request.POST,
        agents=_advisor_choices(user, customer),
        language=customer.preferred_language,
        auto_id="edit_%s",
    )
    try:
        require_valid(form)
        data = form.cleaned_data
        changed = services.customer_edit(
            actor=user,
            customer=customer,
            display_name=data["display_name"],
            preferred_language=data["preferred_language"],
            advisor=data["advisor"],
        )
    except GuichetError as error:
        # The form as typed, its errors beside their fields: nothing the agent typed is lost.
        return _render(
            request, customer, status=error_status(error), error=str(error), edit_form=form
        )
    messages.success(request, _("Customer saved.") if changed else _("Nothing to change."))
    return redirect("customer", pk=customer.pk)


@login_required
@require_POST
def customer_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge another customer (a duplicate) into this one; supervisors only."""
    user = acting_user(request)
    customer = _get(user, pk)
    if not can_merge_customers(user):
        return render_error(request, _("Only supervisors can merge customers."), 403)
    form = forms.MergeForm(request.POST, auto_id="merge_%s")
    try:
        require_valid(form)
        other = _get(user, form.cleaned_data["other"])
        services.customer_merge(actor=user, source=other, target=customer)
    except GuichetError as error:
        return _render(
            request, customer, status=error_status(error), error=str(error), merge_form=form
        )
    messages.success(request, _("Customer %(source)s merged into this one.") % {"source": other})
    return redirect("customer", pk=customer.pk)
