"""Sign-in with throttling (web.signin) and a `next` limited to internal paths."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from guichet.web.signin import ThrottledAuthenticationForm, is_throttled, remember_device


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
    form = ThrottledAuthenticationForm(
        request, data=request.POST if request.method == "POST" else None
    )
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        auth_login(request, user)
        response = redirect(next_url or settings.LOGIN_REDIRECT_URL)
        remember_device(request, response, user.get_username())
        return response
    return render(
        request,
        "web/login.html",
        {"form": form, "next": next_url},
        status=429 if request.method == "POST" and is_throttled(form) else 200,
    )
