"""The customer portal: sign in by email link, read and answer one's own conversations."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guichet.channels.webform import attachments, auth, ratelimit, selectors, spam
from guichet.channels.webform.forms import LinkRequestForm, ReplyForm
from guichet.channels.webform.hooks import portal_sections
from guichet.channels.webform.services import portal_reply
from guichet.channels.webform.views.common import (
    limited,
    limited_post,
    public_error,
    reach_a_person,
)
from guichet.conversations.models import Attachment, Conversation, Status
from guichet.core.clients import client_address
from guichet.core.exceptions import GuichetError

# Types a browser may execute or render as a document: always served as opaque bytes (F01).
_ACTIVE_MARKERS = ("html", "xml", "svg", "javascript", "ecmascript", "x-shockwave-flash")


def _language() -> str:
    return (translation.get_language() or settings.LANGUAGE_CODE)[:2]


def portal_user(request: HttpRequest) -> auth.PortalUser | None:
    return auth.portal_session_get(request.COOKIES.get(auth.SESSION_COOKIE))


def portal_login_required(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Run the view with `request.portal_user`, or send the visitor to the sign-in page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = portal_user(request)
        if user is None:
            response = redirect(reverse("webform:portal"))
            response.delete_cookie(auth.SESSION_COOKIE, path=auth.SESSION_COOKIE_PATH)
            return response
        request.portal_user = user  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapped


def _user(request: HttpRequest) -> auth.PortalUser:
    user: auth.PortalUser = request.portal_user  # type: ignore[attr-defined]
    return user


def _not_found(request: HttpRequest) -> HttpResponse:
    """The same answer for another customer's object and for one that does not exist."""
    return public_error(
        request,
        _("This page does not exist, or it is not yours."),
        status=404,
        back_url=reverse("webform:portal"),
        back_label=_("Back to your requests"),
    )


# --- signing in ----------------------------------------------------------------------------------


@require_http_methods(["GET"])
def portal(request: HttpRequest) -> HttpResponse:
    """Signed in: the customer's conversations. Otherwise: the sign-in form."""
    user = portal_user(request)
    if user is None:
        return render(request, "webform/portal_login.html", {"form": LinkRequestForm()})
    conversations = list(selectors.portal_conversations(customer=user.customer))
    return render(
        request,
        "webform/portal_home.html",
        {
            "conversations": conversations,
            "customer": user.customer,
            "address": user.address,
            "sections": portal_sections(user.customer),
        },
    )


@limited_post
@require_POST
def portal_link_request(request: HttpRequest) -> HttpResponse:
    """Ask for a sign-in link. Same page, whether or not the address is known (W07)."""
    form = LinkRequestForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "webform/portal_login.html",
            {
                "form": form,
                "problem": _("Please correct the field marked below."),
            },
            status=400,
        )
    email = form.cleaned_data["email"].strip().lower()
    limits = [
        ratelimit.Limit(
            ratelimit.FORM_IP,
            client_address(request.META),
            settings.PUBLIC_HOURLY_LIMIT_PER_IP,
        ),
        ratelimit.Limit(
            ratelimit.LINK_ADDRESS, email, settings.PORTAL_LINK_HOURLY_LIMIT_PER_ADDRESS
        ),
    ]
    hit = ratelimit.exceeded(limits)
    if hit is not None:
        return limited(request, hit)
    try:
        auth.portal_link_request(
            address=email, language=_language(), link_base=request.build_absolute_uri("/")
        )
    except GuichetError:
        return render(
            request,
            "webform/portal_login.html",
            {"form": form, "problem": _("Please correct the field marked below.")},
            status=400,
        )
    ratelimit.record(limits)
    return render(
        request,
        "webform/portal_link_sent.html",
        {"email": email, "minutes": settings.PORTAL_LINK_MINUTES},
    )


@require_http_methods(["GET", "POST"])
def portal_login(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a button to sign in (mail scanners fetch links; only a person presses it).
    POST: use the link once and open a portal session."""
    if request.method == "GET":
        if auth.link_find(token) is None:
            return _link_unusable(request)
        return render(request, "webform/portal_confirm.html", {"token": token})
    signed_in = auth.portal_link_redeem(token)
    if signed_in is None:
        return _link_unusable(request)
    response = redirect(reverse("webform:portal"))
    response.set_cookie(
        auth.SESSION_COOKIE,
        signed_in.token,
        max_age=settings.PORTAL_SESSION_HOURS * 3600,
        path=auth.SESSION_COOKIE_PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def _link_unusable(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "webform/portal_login.html",
        {
            "form": LinkRequestForm(),
            "problem": _(
                "This sign-in link cannot be used: it has expired or has been used already. "
                "Ask for a new one below."
            ),
        },
        status=400,
    )


@require_POST
def portal_logout(request: HttpRequest) -> HttpResponse:
    user = portal_user(request)
    if user is not None:
        auth.portal_logout(user.session_id)
    response = render(request, "webform/portal_logout.html", {})
    response.delete_cookie(auth.SESSION_COOKIE, path=auth.SESSION_COOKIE_PATH)
    return response


# --- conversations -------------------------------------------------------------------------------


def _conversation_page(
    request: HttpRequest,
    conversation: Conversation,
    form: ReplyForm,
    *,
    status: int = 200,
    problem: str = "",
) -> HttpResponse:
    return render(
        request,
        "webform/portal_conversation.html",
        {
            "conversation": conversation,
            "messages_shown": list(selectors.portal_messages(conversation=conversation)),
            "form": form,
            "problem": problem,
            "can_reply": conversation.status != Status.CLOSED,
            "attachment_help": attachments.limits_help(),
            **reach_a_person(conversation if conversation.status != Status.CLOSED else None),
        },
        status=status,
    )


@require_GET
@portal_login_required
def portal_conversation(request: HttpRequest, number: int) -> HttpResponse:
    try:
        conversation = selectors.portal_conversation_get(
            customer=_user(request).customer, number=number
        )
    except Conversation.DoesNotExist:
        return _not_found(request)
    return _conversation_page(request, conversation, ReplyForm())


@limited_post
@require_POST
@portal_login_required
def portal_conversation_reply(request: HttpRequest, number: int) -> HttpResponse:
    user = _user(request)
    try:
        conversation = selectors.portal_conversation_get(customer=user.customer, number=number)
    except Conversation.DoesNotExist:
        return _not_found(request)
    ip_limit = ratelimit.Limit(
        ratelimit.FORM_IP,
        client_address(request.META),
        settings.PUBLIC_HOURLY_LIMIT_PER_IP,
    )
    hit = ratelimit.exceeded([ip_limit])
    if hit is not None:
        return limited(request, hit)
    form = ReplyForm(request.POST)
    if conversation.status == Status.CLOSED:
        return _conversation_page(
            request,
            conversation,
            ReplyForm(),
            status=409,
            problem=_("This request is closed. To write to us again, use the contact form."),
        )
    if not form.is_valid():
        return _conversation_page(
            request,
            conversation,
            form,
            status=400,
            problem=_("Your message was not sent: please correct the field marked below."),
        )
    check = spam.token_check(form.cleaned_data["form_token"], now=None)
    if check.outcome in (spam.INVALID, spam.EXPIRED):
        form = ReplyForm(initial={"message": form.cleaned_data["message"]})
        return _conversation_page(
            request,
            conversation,
            form,
            status=400,
            problem=_("This form could not be checked. Please press “Send” again."),
        )
    try:
        files = attachments.attachments_read(request.FILES.getlist("attachments"))
    except attachments.AttachmentError as error:
        return _conversation_page(request, conversation, form, status=400, problem=str(error))
    try:
        portal_reply(
            customer_id=user.customer.pk,
            address=user.address,
            conversation=conversation,
            text=form.cleaned_data["message"],
            language=_language(),
            submission_id=check.submission_id,
            attachments=files,
        )
    except GuichetError as error:
        return _conversation_page(request, conversation, form, status=400, problem=str(error))
    ratelimit.record([ip_limit])
    return redirect(reverse("webform:portal_conversation", args=[conversation.number]) + "#sent")


@require_GET
@portal_login_required
def portal_attachment(request: HttpRequest, pk: int) -> HttpResponseBase:
    try:
        attachment = selectors.portal_attachment_get(
            customer=_user(request).customer, attachment_id=pk
        )
    except Attachment.DoesNotExist:
        return _not_found(request)
    try:
        handle = default_storage.open(attachment.storage_key, "rb")
    except FileNotFoundError:
        return _not_found(request)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type=_served_content_type(attachment.content_type),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


def _served_content_type(sniffed: str) -> str:
    kind = (sniffed or "").lower().split(";")[0].strip()
    if not kind or "/" not in kind or any(marker in kind for marker in _ACTIVE_MARKERS):
        return "application/octet-stream"
    return kind
