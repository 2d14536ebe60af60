"""Phone pages and endpoints.

Public: the callback request page (`callback/`, no JavaScript needed) and its status page.
Telephony system (token): caller lookup for a screen pop, callback requests from the voice menu.
Agents: log a call, work the callback queue.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guichet.accounts.models import User
from guichet.channels.phone import selectors, services
from guichet.channels.phone.forms import AttemptForm, CallbackRequestForm, CallLogForm
from guichet.channels.phone.models import CallbackRequest
from guichet.conversations.selectors import conversation_get, customer_get
from guichet.core.clients import client_address
from guichet.core.exceptions import GuichetError, InvalidInput, NotAllowed

MAX_API_BODY = 16 * 1024


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


# --- telephony system (token) --------------------------------------------------------------------


def _token_refusal(request: HttpRequest) -> JsonResponse | None:
    """None when the request carries the right token; else 401 (none given) or 403."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = JsonResponse({"error": "token missing"}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    expected = str(settings.PHONE_API_TOKEN or "")
    if not expected or not hmac.compare_digest(
        given.strip().encode(errors="replace"), expected.encode()
    ):
        return JsonResponse({"error": "token refused"}, status=403)
    return None


@require_GET
def caller_lookup(request: HttpRequest) -> JsonResponse:
    refusal = _token_refusal(request)
    if refusal is not None:
        return refusal
    number = request.GET.get("number", "")
    if not number.strip():
        return JsonResponse({"error": "number is required"}, status=400)
    try:
        found = selectors.caller_lookup(number=number)
    except InvalidInput as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(found)


def _api_data(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_API_BODY:
        raise InvalidInput("body too large")
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InvalidInput("body is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidInput("body is not a JSON object")
        return data
    return request.POST.dict()


def _api_text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key) or ""
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string")
    if len(value) > limit:
        raise InvalidInput(f"{key} is too long")
    return value


def _api_time(data: dict[str, Any], key: str) -> datetime | None:
    raw = _api_text(data, key, 40).strip()
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InvalidInput(f"{key} must be an ISO 8601 date-time with a UTC offset")
    return value


@csrf_exempt  # called by the telephony system with its token
@require_POST
def ivr_callback(request: HttpRequest) -> JsonResponse:
    """The voice menu files a callback request: `number`, optional `call_id` (makes a repeated
    call idempotent), `language`, `from`/`until` (ISO 8601), `team` (id)."""
    refusal = _token_refusal(request)
    if refusal is not None:
        return refusal
    try:
        data = _api_data(request)
        team = data.get("team")
        if team is not None and (isinstance(team, bool) or not isinstance(team, int)):
            raise InvalidInput("team must be an integer")
        callback = services.callback_request_from_contact(
            number=_api_text(data, "number", 100),
            source=CallbackRequest.Source.IVR,
            language=_api_text(data, "language", 8),
            preferred_from=_api_time(data, "from"),
            preferred_until=_api_time(data, "until"),
            external_id=("ivr:" + _api_text(data, "call_id", 190).strip())
            if data.get("call_id")
            else "",
            team_id=team,
        )
    except services.TooManyRequests as exc:
        return JsonResponse({"error": str(exc)}, status=429)
    except InvalidInput as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    place = services.callback_place(callback)
    return JsonResponse(
        {
            "callback": callback.pk,
            "conversation": callback.conversation.number,
            "status": callback.status,
            "position": place.position if place else None,
            "estimate": place.estimate.isoformat() if place and place.estimate else None,
        }
    )


# --- public callback page ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def callback_request(request: HttpRequest) -> HttpResponse:
    from guichet.channels.webform import ratelimit  # the public pages share one rate limit

    reference = request.GET.get("conversation", "")[:500]
    if request.method == "GET":
        form = CallbackRequestForm(initial={"conversation": reference})
        return _callback_page(request, form, reference)
    form = CallbackRequestForm(request.POST)
    if not form.is_valid():
        return _callback_page(request, form, reference, status=400)
    if form.cleaned_data["website"]:
        return _callback_page(request, form, reference, status=400, error=_("Please try again."))
    limit = ratelimit.Limit(
        "callback-ip",
        client_address(request.META),
        settings.PUBLIC_HOURLY_LIMIT_PER_IP,
    )
    if ratelimit.exceeded([limit]):
        return _callback_page(
            request,
            form,
            reference,
            status=429,
            error=_("Too many requests from your connection. Please try again later."),
        )
    data = form.cleaned_data
    try:
        callback = services.callback_request_from_contact(
            number=data["number"],
            name=data["name"],
            source=CallbackRequest.Source.PAGE,
            language=translation.get_language() or "",
            preferred_from=data["preferred_from"],
            preferred_until=data["preferred_until"],
            note=data["note"],
            conversation_reference=data["conversation"],
        )
    except services.TooManyRequests as exc:
        return _callback_page(request, form, reference, status=429, error=str(exc))
    except InvalidInput as exc:
        return _callback_page(request, form, reference, status=400, error=str(exc))
    ratelimit.record([limit])
    return redirect("callback_status", ref=services.status_ref(callback))


def _callback_page(
    request: HttpRequest,
    form: CallbackRequestForm,
    reference: str,
    *,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    attached = services.conversation_from_ref(reference) if reference else None
    return render(
        request,
        "phone/callback_request.html",
        {
            "form": form,
            "error": error,
            "attached": attached is not None,
            "reference_expired": bool(reference) and attached is None,
        },
        status=status,
    )


@require_GET
def callback_status(request: HttpRequest, ref: str) -> HttpResponse:
    callback = services.request_from_status_ref(ref)
    if callback is None:
        raise Http404
    place = services.callback_place(callback)
    language = translation.get_language() or "fr"
    return render(
        request,
        "phone/callback_status.html",
        {
            "callback": callback,
            "number": callback.conversation.number,
            "place": place,
            "when": services.estimate_text(callback, place, language) if place else "",
            "phone": callback.conversation.team.phone if callback.conversation.team else "",
        },
    )


# --- agents --------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def call_log(request: HttpRequest) -> HttpResponse:
    """Log a call on `?conversation=<number>` or `?customer=<id>`."""
    user = _user(request)
    conversation = customer = None
    try:
        if request.GET.get("conversation"):
            conversation = conversation_get(user=user, number=int(request.GET["conversation"]))
        elif request.GET.get("customer"):
            customer = customer_get(user=user, customer_id=int(request.GET["customer"]))
        else:
            raise Http404
    except (ValueError, ObjectDoesNotExist):
        raise Http404 from None
    form = CallLogForm(request.POST or None, initial={"direction": "inbound", "minutes": 0})
    error = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                call = services.call_log_record(
                    actor=user,
                    direction=form.cleaned_data["direction"],
                    duration_seconds=form.cleaned_data["minutes"] * 60,
                    notes=form.cleaned_data["notes"],
                    number=form.cleaned_data["number"],
                    conversation=conversation,
                    customer=customer,
                )
            except GuichetError as exc:
                error = str(exc)
            else:
                return redirect("conversation", number=call.conversation.number)
        else:
            error = _("Please correct the fields below.")
    return render(
        request,
        "phone/call_log.html",
        {"form": form, "conversation": conversation, "customer": customer, "error": error},
        status=400 if error else 200,
    )


@login_required
@require_GET
def callback_queue(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    rows = list(selectors.callback_queue(user=user))
    current = next(
        (
            r
            for r in rows
            if r.status == CallbackRequest.Status.IN_PROGRESS and r.taken_by_id == user.pk
        ),
        None,
    )
    return render(
        request,
        "phone/callback_queue.html",
        {
            "rows": rows,
            "current": current,
            "attempt_form": AttemptForm(),
            "empty_taken": request.GET.get("empty") == "1",
        },
    )


@login_required
@require_POST
def callback_take(request: HttpRequest) -> HttpResponse:
    taken = services.callback_take_next(actor=_user(request))
    if taken is None:
        return redirect(reverse("callback_queue") + "?empty=1")
    return redirect("callback_queue")


@login_required
@require_POST
def callback_attempt(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    callback = selectors.callback_get(user=user, pk=pk)
    if callback is None:
        raise Http404
    form = AttemptForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(_("Choose the outcome of the call."))
        services.callback_attempt_record(
            actor=user,
            request=callback,
            outcome=form.cleaned_data["outcome"],
            note=form.cleaned_data["note"],
        )
    except GuichetError as exc:
        status = 403 if isinstance(exc, NotAllowed) else 400
        return render(request, "web/error.html", {"message": str(exc)}, status=status)
    return redirect("callback_queue")


@login_required
@require_POST
def callback_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    callback = selectors.callback_get(user=user, pk=pk)
    if callback is None:
        raise Http404
    try:
        services.callback_cancel(actor=user, request=callback)
    except GuichetError as exc:
        status = 403 if isinstance(exc, NotAllowed) else 400
        return render(request, "web/error.html", {"message": str(exc)}, status=status)
    return redirect("callback_queue")
