"""Security headers for every response (a strict CSP, no third-party origin, no caching of pages),
and an honest answer when the database is away while a change is being saved."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from guichet.web.views.errors import method_not_allowed

logger = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            # Agent pages hold personal data: never keep them in a cache (A07).
            response["Cache-Control"] = "no-store"
        return response


class MethodNotAllowedPageMiddleware:
    """Give the empty 405 of `require_POST` Guichet's page (Django has no handler405)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or response.streaming or response.content:
            return response
        if "text/html" not in request.headers.get("Accept", "") and not request.headers.get(
            "HX-Request"
        ):
            return response  # a webhook or a script: the bare 405 and its Allow header suffice
        page = method_not_allowed(request)
        if response.has_header("Allow"):
            page["Allow"] = response["Allow"]
        return page


class DatabaseUnavailableMiddleware:
    """A change that failed because the database is unreachable (restarting, failing over) is
    answered "not saved, try again" with a 503, a page or an htmx fragment, not a bare 500.

    Only for requests that change something: the person must know their work was not kept.
    The connection itself recovers on the next request (`CONN_HEALTH_CHECKS`).
    """

    UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
    RETRY_AFTER_SECONDS = 5

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.method not in self.UNSAFE_METHODS:
            return None
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning(
            "database unavailable, %s %s not saved: %s", request.method, request.path, exception
        )
        fragment = request.headers.get("HX-Request") == "true"
        # Rendered without the request: the page must not need the database (session, user).
        body = render_to_string(
            "web/_database_unavailable.html" if fragment else "web/database_unavailable.html"
        )
        response = HttpResponse(body, status=503)
        response["Retry-After"] = str(self.RETRY_AFTER_SECONDS)
        return response
