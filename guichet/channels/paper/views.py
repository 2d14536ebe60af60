"""Agent pages of paper mail: upload scans (one or a batch), follow their OCR, link senders."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guichet.accounts.models import User
from guichet.channels.paper import selectors, services
from guichet.channels.paper.models import PaperLetter
from guichet.core.exceptions import Conflict, GuichetError, InvalidInput, NotAllowed

_STATUS = {InvalidInput: 400, NotAllowed: 403, Conflict: 409}


class LinkSenderForm(forms.Form):
    identifier = forms.CharField(
        label=gettext_lazy("Customer's email address, phone number or customer number"),
        max_length=254,
    )


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _status(error: GuichetError) -> int:
    return next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)


@login_required
@require_http_methods(["GET", "POST"])
def letters(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    error, status = "", 200
    if request.method == "POST":
        uploads = [
            services.Upload(filename=f.name or "scan", content=f.read())
            for f in request.FILES.getlist("scans")
        ]
        try:
            stored = services.letters_upload(actor=user, uploads=uploads)
        except GuichetError as exc:
            error, status = str(exc), _status(exc)
        else:
            messages.success(
                request,
                _("%(n)d letter(s) received; OCR is reading them.") % {"n": len(stored)},
            )
            return redirect("paper_letters")
    rows = selectors.letters_visible(user=user)[:100]
    return render(
        request,
        "paper/letters.html",
        {"letters": rows, "error": error, "max_batch": services.MAX_BATCH},
        status=status,
    )


def _letter(user: User, letter_id: int) -> PaperLetter:
    try:
        return selectors.letter_get(user=user, letter_id=letter_id)
    except PaperLetter.DoesNotExist:
        raise Http404(_("No such letter.")) from None


@login_required
@require_GET
def letter_page(request: HttpRequest, letter_id: int) -> HttpResponse:
    letter = _letter(_user(request), letter_id)
    return render(request, "paper/letter_page.html", {"letter": letter, "form": LinkSenderForm()})


@login_required
@require_POST
def letter_link(request: HttpRequest, letter_id: int) -> HttpResponse:
    user = _user(request)
    letter = _letter(user, letter_id)
    form = LinkSenderForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(_("Give an email address, a phone number or a customer number."))
        conversation = services.letter_sender_link(
            actor=user, letter=letter, identifier=form.cleaned_data["identifier"]
        )
    except GuichetError as exc:
        context = {"letter": letter, "form": form, "error": str(exc)}
        return render(request, "paper/letter_page.html", context, status=_status(exc))
    messages.success(
        request,
        _("Letter linked to %(name)s.") % {"name": conversation.customer.display_name or "?"},
    )
    return redirect("paper_letter", letter_id=letter.pk)
