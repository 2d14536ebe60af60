"""Helpers shared by the public views: body-size limit before CSRF, readable errors, promise."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guichet.accounts.models import Team
from guichet.channels.promise import opening_hours
from guichet.channels.webform.ratelimit import Limit
from guichet.conversations.models import Conversation

OVERHEAD = 1024 * 1024  # text fields and multipart headers around the files


def body_limit() -> int:
    return settings.WEBFORM_MAX_ATTACHMENTS * settings.WEBFORM_ATTACHMENT_MAX_BYTES + OVERHEAD


def _csrf_reject(request: HttpRequest) -> HttpResponse | None:
    return CsrfViewMiddleware(lambda _request: HttpResponse()).process_view(
        request, lambda _request: HttpResponse(), (), {}
    )


def limited_post(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Refuse an oversized POST with 413 before its body is read, then check CSRF.

    Django's CSRF middleware reads the whole body (files included) to find the token; the view is
    exempted from it and runs the same check itself once the size is known to be acceptable.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > body_limit():
                return too_large(request)
            rejected = _csrf_reject(request)
            if rejected is not None:
                return rejected
        return view(request, *args, **kwargs)

    wrapped.csrf_exempt = True  # type: ignore[attr-defined]
    return wrapped


def too_large(request: HttpRequest) -> HttpResponse:
    from django.template.defaultfilters import filesizeformat

    message = ngettext(
        "What you sent is too large. You can attach %(count)d file of %(size)s at most.",
        "What you sent is too large. You can attach %(count)d files of %(size)s each at most.",
        settings.WEBFORM_MAX_ATTACHMENTS,
    ) % {
        "count": settings.WEBFORM_MAX_ATTACHMENTS,
        "size": filesizeformat(settings.WEBFORM_ATTACHMENT_MAX_BYTES),
    }
    return public_error(request, message, status=413)


def reach_a_person(conversation: Conversation | None = None) -> dict[str, Any]:
    """How to reach a person without the form: the default team's phone line and its hours, live
    chat while an agent is available, a callback request (attached to `conversation` when given)
    and booking an appointment (DESIGN promise 1)."""
    links = {
        "chat_url": chat_url(),
        "callback_url": callback_url(conversation),
        "booking_url": booking_url(),
    }
    team = Team.objects.select_related("calendar").order_by("id").first()
    if team is None or not team.phone:
        return {"phone": "", "phone_hours": "", **links}
    language = translation.get_language() or "fr"
    return {
        "phone": team.phone,
        "phone_hours": opening_hours(team.calendar, language[:2]),
        **links,
    }


def callback_url(conversation: Conversation | None = None) -> str:
    """The phone channel's callback request page, "" when that channel is not installed.

    With a conversation, the link carries its signed reference, so the request joins it."""
    try:
        url = reverse("callback_request")
    except NoReverseMatch:
        return ""
    if conversation is None:
        return url
    try:
        # Channels may import each other; the phone channel may be absent from an installation.
        from guichet.channels.phone.services import conversation_ref
    except ImportError:
        return url
    return f"{url}?{urlencode({'conversation': conversation_ref(conversation)})}"


def chat_url() -> str:
    """The live chat page while an agent is there to answer, else "" (offer no empty chat)."""
    try:
        url = reverse("chat_page")
        from guichet.channels.chat.selectors import agents_available
    except (NoReverseMatch, ImportError):
        return ""
    return url if agents_available() else ""


def booking_url() -> str:
    """The appointment booking page when appointments can be booked, else ""."""
    try:
        url = reverse("appointments:book_start")
        from guichet.channels.appointments.selectors import bookable_types
    except (NoReverseMatch, ImportError):
        return ""
    return url if bookable_types() else ""


def public_error(
    request: HttpRequest, message: str, *, status: int, back_url: str = "", back_label: str = ""
) -> HttpResponse:
    return render(
        request,
        "webform/error.html",
        {"message": message, "back_url": back_url, "back_label": back_label, **reach_a_person()},
        status=status,
    )


def limited(request: HttpRequest, limit: Limit) -> HttpResponse:
    """429 with what to do instead: wait, or reach a person another way."""
    del limit  # every limit gives the same answer: which one was hit tells a stranger nothing
    response = public_error(
        request,
        _(
            "We have received many messages from you in a short time. Please wait an hour "
            "before sending another one."
        ),
        status=429,
    )
    response["Retry-After"] = "3600"
    return response
