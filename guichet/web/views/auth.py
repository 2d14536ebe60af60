"""Sign-in with throttling (accounts.services) and a `next` limited to internal paths."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from guichet.accounts.services import (
    login_failure_record,
    login_is_throttled,
    login_success_record,
)


def safe_next(request: HttpRequest, candidate: str) -> str:
    """`candidate` if it is a path on this site, else ''."""
    if not candidate.startswith("/") or candidate.startswith("//"):
        return ""
    if not url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return candidate


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next") or "")
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    form = AuthenticationForm(request, data=request.POST if request.method == "POST" else None)
    status = 200
    throttled = ""
    if request.method == "POST":
        username = request.POST.get("username", "")
        address = request.META.get("REMOTE_ADDR", "")
        if login_is_throttled(username=username, address=address):
            # Even the right password is refused until the window has passed.
            minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
            throttled = ngettext(
                "Too many failed sign-in attempts. Wait %(minutes)d minute and try again.",
                "Too many failed sign-in attempts. Wait %(minutes)d minutes and try again.",
                minutes,
            ) % {"minutes": minutes}
            form = AuthenticationForm(request, initial={"username": username})
            status = 429
        elif form.is_valid():
            auth_login(request, form.get_user())
            login_success_record(username=username)
            return redirect(next_url or settings.LOGIN_REDIRECT_URL)
        else:
            login_failure_record(username=username, address=address)
    return render(
        request,
        "web/login.html",
        {"form": form, "next": next_url, "throttled": throttled},
        status=status,
    )
