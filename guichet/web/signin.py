"""Sign-in throttling shared by the agent sign-in page and the admin's: one rule for both.

The rule (counters in `accounts.services`, documented in docs/operations.md): failures are counted
per client and account, per client and per account, against the client address that
`core.clients.client_address` reads through the trusted proxies. A browser that signed in to an
account before carries a signed "known browser" cookie, and only its own failures can lock it out
of that account: others' typos, from the same office address or against the same account, cannot.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponseBase
from django.utils.crypto import salted_hmac
from django.utils.translation import ngettext

from guichet.accounts.services import (
    login_failure_record,
    login_success_record,
    login_throttle_wait,
)
from guichet.core.clients import client_address

KNOWN_COOKIE = "guichet_known"
KNOWN_MAX_AGE = 180 * 24 * 3600
KNOWN_MAX_ACCOUNTS = 10  # a shared desk computer: the last ten accounts signed in from it
_SALT = "guichet.web.signin"
THROTTLED = "throttled"  # the error code of a refused attempt


def _account_digest(username: str) -> str:
    # The cookie names no account: only keyed digests of the user names.
    return salted_hmac(_SALT, username.strip().lower(), algorithm="sha256").hexdigest()[:16]


def _read_cookie(request: HttpRequest) -> dict[str, Any]:
    raw = request.COOKIES.get(KNOWN_COOKIE, "")
    if not raw:
        return {}
    try:
        value = signing.loads(raw, salt=_SALT, max_age=KNOWN_MAX_AGE)
    except signing.BadSignature:
        return {}
    ok = (
        isinstance(value, dict)
        and isinstance(value.get("device"), str)
        and isinstance(value.get("accounts"), list)
    )
    return value if ok else {}


def known_device(request: HttpRequest, username: str) -> str:
    """This browser's id when it signed in to `username` before, else ''."""
    value = _read_cookie(request)
    if value and _account_digest(username) in value["accounts"]:
        return str(value["device"])[:32]
    return ""


def remember_device(request: HttpRequest, response: HttpResponseBase, username: str) -> None:
    """Mark this browser as known for `username` (after a successful sign-in)."""
    value = _read_cookie(request) or {"device": secrets.token_hex(16), "accounts": []}
    digest = _account_digest(username)
    accounts = [item for item in value["accounts"] if item != digest] + [digest]
    response.set_cookie(
        KNOWN_COOKIE,
        signing.dumps(
            {"device": value["device"], "accounts": accounts[-KNOWN_MAX_ACCOUNTS:]}, salt=_SALT
        ),
        max_age=KNOWN_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def throttled_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed sign-in attempts. Wait %(minutes)d minute and try again.",
        "Too many failed sign-in attempts. Wait %(minutes)d minutes and try again.",
        minutes,
    ) % {"minutes": minutes}


class ThrottledLoginMixin:
    """For an `AuthenticationForm`: refuse a throttled client before checking the password,
    count a wrong password, and forget the client's failures after a right one."""

    request: HttpRequest | None
    data: Any
    user_cache: Any

    def clean(self) -> dict[str, Any]:
        assert self.request is not None, "the sign-in forms need the request"
        username = str(self.data.get("username", "") or "")
        address = client_address(self.request.META)
        device = known_device(self.request, username)
        wait = login_throttle_wait(username=username, address=address, device=device)
        if wait:
            # Even the right password is refused (and not counted) until the wait is over.
            raise forms.ValidationError(throttled_message(wait), code=THROTTLED)
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            if username and self.data.get("password"):
                login_failure_record(username=username, address=address, device=device)
            raise
        if self.user_cache is not None:  # a blank field signs nobody in and counts nothing
            login_success_record(username=username, address=address, device=device)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


def is_throttled(form: forms.Form) -> bool:
    return form.has_error(NON_FIELD_ERRORS, THROTTLED)
