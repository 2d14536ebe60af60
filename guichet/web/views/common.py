"""Helpers shared by the views: turning service errors into answers a person can read."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.core.exceptions import Conflict, GuichetError, InvalidInput, NotAllowed

ERROR_STATUS: dict[type[GuichetError], int] = {InvalidInput: 400, NotAllowed: 403, Conflict: 409}


def acting_user(request: HttpRequest) -> User:
    """The signed-in agent (views using it are behind `login_required`)."""
    user = request.user
    assert isinstance(user, User)
    return user


def error_status(error: GuichetError) -> int:
    for kind, status in ERROR_STATUS.items():
        if isinstance(error, kind):
            return status
    return 400


def render_error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "web/error.html", {"message": message}, status=status)


def require_valid(form: forms.Form) -> None:
    """Raise `InvalidInput` with the form's first error when the form does not validate."""
    if form.is_valid():
        return
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        message = errors[0]
        if not label:
            raise InvalidInput(str(message))
        # Translators: a form field's label, then its first error.
        raise InvalidInput(_("%(label)s: %(message)s") % {"label": label, "message": message})
