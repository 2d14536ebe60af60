"""Helpers shared by the views: turning service errors into answers a person can read."""

from __future__ import annotations

import re

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.core.exceptions import Conflict, GuichetError, InvalidInput, NotAllowed
from guichet.web.views.errors import error_fragment

ERROR_STATUS: dict[type[GuichetError], int] = {InvalidInput: 400, NotAllowed: 403, Conflict: 409}

# The largest number a query string may carry (a page, a team, any id): PostgreSQL's `integer`.
# Beyond it a database refuses the value (a 500); no row or page is ever that far.
MAX_QUERY_INT = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")
# NUL and other control characters: PostgreSQL refuses them in a query (a 500, not an answer).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BadQuery(ValueError):
    """A query parameter outside its allowed values: a 400 with this message."""


def query_int(value: str, name: str) -> int:
    """A positive whole number from a query string, in ASCII digits; anything else → BadQuery.

    `int()` alone would take " 7", "1_000" or non-ASCII digits, of any size; "1e20" or a
    20-digit team id must be a clear 400, not a database error.
    """
    number = int(value) if _DIGITS.fullmatch(value) else 0
    if not 1 <= number <= MAX_QUERY_INT:
        raise BadQuery(_("“%(value)s” is not a valid %(name)s.") % {"value": value, "name": name})
    return number


def query_text(value: str, name: str) -> str:
    """A text from a query string, refused (BadQuery) when it holds a control character."""
    if _CONTROL.search(value):
        raise BadQuery(_("“%(name)s” contains a character that is not allowed.") % {"name": name})
    return value


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
    if getattr(request, "htmx", False):
        # Not a whole page swapped into a fragment: the message goes to the live region.
        return error_fragment(message, status)
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
