"""Guichet's own 403, 404, 405 and 500 pages, translated, with the header and a way back.

They serve agents and customers alike (Django's handlers cover the public channel pages too): a
signed-in agent gets the agent frame, anyone else the public one, never the agent navigation. An
htmx request gets a fragment aimed at the page's live region instead of a whole page.
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _


def _is_agent(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active)


def _back_url(request: HttpRequest) -> str:
    """The page the visitor came from, when it is one of ours; else ""."""
    referer = request.META.get("HTTP_REFERER", "")
    try:
        host = request.get_host()
    except DisallowedHost:
        return ""
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={host}, require_https=request.is_secure()
    ):
        return referer
    return ""


def _told(exception: Exception | None) -> str:
    """The message a view gave its Http404/PermissionDenied, when it is one written for people.

    The resolver's 404 carries a dict of the URL patterns tried, and `get_object_or_404` an
    English sentence naming a model: neither is shown.
    """
    if exception is None or isinstance(exception, Resolver404) or not exception.args:
        return ""
    message = exception.args[0]
    if not isinstance(message, str) or "matches the given query" in message:
        return ""
    return message


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def error_fragment(message: str, status: int) -> HttpResponse:
    """For htmx: the message alone, swapped into the live region (app.js reads it on 4xx/5xx)."""
    response = HttpResponse(
        loader.render_to_string("web/_error.html", {"message": message}), status=status
    )
    response["HX-Retarget"] = "#live-error"
    response["HX-Reswap"] = "innerHTML"
    return response


def error_page(request: HttpRequest, *, status: int, title: str, message: str) -> HttpResponse:
    if _is_htmx(request):
        return error_fragment(message, status)
    agent = _is_agent(request)
    context = {
        "title": title,
        "message": message,
        "base_template": "web/base.html" if agent else "web/public_base.html",
        "public": not agent,
        "back_url": _back_url(request),
    }
    return render(request, "web/error.html", context, status=status)


def forbidden(request: HttpRequest, exception: PermissionDenied | None = None) -> HttpResponse:
    return error_page(
        request,
        status=403,
        title=_("Not allowed"),
        message=_told(exception) or _("You are not allowed to see this page or to do this."),
    )


def not_found(request: HttpRequest, exception: Http404 | None = None) -> HttpResponse:
    return error_page(
        request,
        status=404,
        title=_("Page not found"),
        message=_told(exception)
        or _("This page does not exist, or you may not see it. Check the address."),
    )


def method_not_allowed(request: HttpRequest) -> HttpResponse:
    return error_page(
        request,
        status=405,
        title=_("Not possible this way"),
        message=_("This address does not accept this kind of request. Go back and use the form."),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page: no database, no context processor (either may be what failed)."""
    message = _("Something went wrong on our side; nothing you did caused it. Try again shortly.")
    if _is_htmx(request):
        return error_fragment(message, 500)
    html = loader.render_to_string(
        "web/500.html", {"message": message, "back_url": _back_url(request) or "/"}
    )
    return HttpResponse(html, status=500)
