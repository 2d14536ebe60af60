"""Chat pages: the customer's chat (works without JavaScript), its JSON fallback for the widget,
the widget script, and the agent's chat console.

Without JavaScript the page is a form that posts a message and a transcript that refreshes itself
(`<noscript>` meta refresh) or by a link. With JavaScript, `chat.js` talks over the WebSocket and,
when that fails, over the two JSON endpoints here, authenticated by the visitor's signed token in
a header (so an embedded widget needs no third-party cookie).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from guichet.accounts.models import User
from guichet.channels.chat import links, push, selectors, services
from guichet.channels.chat.forms import ChatMessageForm, ConsoleReplyForm
from guichet.channels.chat.visitor import (
    COOKIE_NAME,
    MAX_AGE_SECONDS,
    visitor_from_token,
    visitor_id_new,
    visitor_token,
)
from guichet.channels.promise import format_due, team_zone
from guichet.conversations import sla
from guichet.conversations.models import Conversation, Message
from guichet.core.exceptions import Conflict, GuichetError, InvalidInput, NotAllowed

TOKEN_HEADER = "X-Chat-Token"  # noqa: S105 (a header name)
# The site's policy (guichet.web.middleware) with the framing rule of the embedded chat; the chat
# layer may not import the web layer, so the few directives are repeated here.
EMBED_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors {ancestors}",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def acting_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def error_status(error: GuichetError) -> int:
    return 403 if isinstance(error, NotAllowed) else 409 if isinstance(error, Conflict) else 400


def render_error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "web/error.html", {"message": message}, status=status)


# --- customer ------------------------------------------------------------------------------------


def _language(request: HttpRequest) -> str:
    wanted = request.GET.get("lang", "")[:2]
    return wanted if wanted in dict(settings.LANGUAGES) else translation.get_language() or "fr"


def _cookie_visitor(request: HttpRequest) -> str | None:
    return visitor_from_token(request.COOKIES.get(COOKIE_NAME))


def _header_visitor(request: HttpRequest) -> str | None:
    return visitor_from_token(request.headers.get(TOKEN_HEADER, ""))


def _status(conversation: Conversation | None, language: str) -> dict[str, Any]:
    """Whether a person can chat now and, if not, when one will answer."""
    team = conversation.team if conversation else selectors.chat_team()
    available = selectors.agents_available(team=team)
    due = ""
    if not available:
        due_at = (
            conversation.first_human_response_due
            if conversation and conversation.first_human_response_at is None
            else sla.first_human_response_due(team, timezone.now())
        )
        if due_at:
            due = format_due(due_at, team_zone(team), language)
    return {
        "available": available,
        "due": due,
        "phone": team.phone if team else "",
        "callback_url": links.callback_url(),
    }


def _embed_headers(response: HttpResponse) -> HttpResponse:
    """The embedded chat may be framed by Guichet itself and the listed sites (W03)."""
    ancestors = " ".join(["'self'", *settings.CHAT_WIDGET_ORIGINS])
    response["Content-Security-Policy"] = EMBED_POLICY.format(ancestors=ancestors)
    return response


def _page(
    request: HttpRequest, form: ChatMessageForm | None = None, status: int = 200
) -> HttpResponse:
    embed = request.GET.get("embed") == "1"
    language = _language(request)
    with translation.override(language):
        visitor_id = None if embed else _cookie_visitor(request)
        conversation = selectors.visitor_conversation(visitor_id=visitor_id)
        lines = selectors.chat_transcript(conversation=conversation) if conversation else []
        context = {
            "embed": embed,
            "conversation": conversation,
            "lines": lines,
            "form": form or ChatMessageForm(auto_id="chat-%s"),
            "token": visitor_token(visitor_id) if visitor_id else "",
            "language": language,
            **_status(conversation, language),
        }
        response = render(request, "chat/page.html", context, status=status)
    if embed:
        _embed_headers(response)
    return response


@require_GET
@xframe_options_exempt
def chat_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _too_fast(visitor_id: str) -> bool:
    since = timezone.now() - timedelta(minutes=1)
    return (
        Message.objects.filter(
            conversation__customer__identities__kind="chat",
            conversation__customer__identities__value=visitor_id,
            direction=Message.Direction.INBOUND,
            created_at__gte=since,
        ).count()
        >= settings.CHAT_MAX_MESSAGES_PER_MINUTE
    )


@require_POST
def chat_send(request: HttpRequest) -> HttpResponse:
    """The no-JavaScript path: post a message, then see the transcript (PRG)."""
    form = ChatMessageForm(request.POST, auto_id="chat-%s")
    if not form.is_valid():
        return _page(request, form, status=400)
    visitor_id = _cookie_visitor(request) or visitor_id_new()
    if _too_fast(visitor_id):
        form.add_error(None, _("You are sending messages too quickly. Wait a moment."))
        return _page(request, form, status=429)
    try:
        received = services.chat_message_receive(
            visitor_id=visitor_id,
            text=form.cleaned_data["text"],
            name=form.cleaned_data["name"],
            email=form.cleaned_data["email"],
            language=translation.get_language() or "",
        )
    except InvalidInput as error:
        form.add_error(None, str(error))
        return _page(request, form, status=400)
    push.lines_push_sync(received.conversation, received.lines)
    response = HttpResponseRedirect(reverse("chat_page"), status=303)
    response.set_cookie(
        COOKIE_NAME,
        visitor_token(visitor_id),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


def _json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@require_GET
def chat_api_messages(request: HttpRequest) -> JsonResponse:
    """Lines after `after` (ISO time) for the visitor of the token; the widget's polling."""
    language = _language(request)
    after: datetime | None = None
    raw_after = request.GET.get("after", "")
    if raw_after:
        try:
            after = datetime.fromisoformat(raw_after[:40])
        except ValueError:
            return _json_error(_("Unreadable time."), 400)
        if timezone.is_naive(after):
            return _json_error(_("Unreadable time."), 400)
    with translation.override(language):
        conversation = selectors.visitor_conversation(visitor_id=_header_visitor(request))
        lines = (
            selectors.chat_transcript(conversation=conversation, after=after)
            if conversation
            else []
        )
        status = _status(conversation, language)
        return JsonResponse(
            {"available": status["available"], "lines": [line.payload() for line in lines]}
        )


@csrf_exempt  # authenticated by the token header, which a cross-site form cannot send
@require_POST
def chat_api_send(request: HttpRequest) -> JsonResponse:
    language = _language(request)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _json_error(_("Unreadable message."), 400)
    if not isinstance(body, dict):
        return _json_error(_("Unreadable message."), 400)
    if TOKEN_HEADER.lower() not in {key.lower() for key in request.headers}:
        return _json_error(_("Unreadable message."), 400)
    visitor_id = _header_visitor(request) or visitor_id_new()
    if _too_fast(visitor_id):
        return _json_error(_("You are sending messages too quickly. Wait a moment."), 429)
    with translation.override(language):
        try:
            received = services.chat_message_receive(
                visitor_id=visitor_id,
                text=body.get("text", ""),
                name=body.get("name", "") or "",
                email=body.get("email", "") or "",
                language=language,
                client_id=str(body.get("id", ""))[:64],
            )
        except GuichetError as error:
            return _json_error(str(error), error_status(error))
        push.lines_push_sync(received.conversation, received.lines)
        return JsonResponse(
            {
                "token": visitor_token(visitor_id),
                "lines": [line.payload() for line in received.lines],
            }
        )


@require_GET
def widget_js(request: HttpRequest) -> HttpResponse:
    """The one script a site includes: a "Talk to a person" button that opens the chat."""
    labels = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            labels[code] = {
                "open": _("Talk to a person"),
                "close": _("Close the chat"),
                "title": _("Chat with a person"),
            }
    response = render(
        request,
        "chat/widget.js",
        {"labels": json.dumps(labels, ensure_ascii=False), "default": settings.LANGUAGE_CODE},
        content_type="text/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "public, max-age=300"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_GET
def widget_demo(request: HttpRequest) -> HttpResponse:
    """A page of Guichet's own that embeds the widget exactly as another site would."""
    return render(request, "chat/demo.html")


# --- agent console ------------------------------------------------------------------------------


@login_required
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    presence = services.presence_touch(user=user)
    conversations = selectors.console_conversations(user=user)
    selected = None
    lines: list[selectors.ChatLine] = []
    raw = request.GET.get("c", "")
    if raw:
        try:
            selected = selectors.console_conversation(user=user, number=int(raw))
        except (ValueError, Conversation.DoesNotExist):
            raise Http404(_("No such chat.")) from None
        lines = selectors.chat_transcript(conversation=selected)
    return render(
        request,
        "chat/console.html",
        {
            "conversations": conversations,
            "selected": selected,
            "lines": lines,
            "form": ConsoleReplyForm(auto_id="console-%s"),
            "presence": presence,
            "others_online": selectors.available_agents(team=None).exclude(pk=user.pk).count(),
        },
    )


@login_required
@require_POST
def console_reply(request: HttpRequest, number: int) -> HttpResponse:
    user = acting_user(request)
    form = ConsoleReplyForm(request.POST)
    if not form.is_valid():
        return render_error(request, _("A reply cannot be empty."), 400)
    try:
        services.chat_reply(actor=user, number=number, text=form.cleaned_data["text"])
    except GuichetError as error:
        return render_error(request, str(error), error_status(error))
    return HttpResponseRedirect(f"{reverse('chat_console')}?c={number}", status=303)


@login_required
@require_POST
def console_accepting(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    services.presence_touch(user=user, accepting=request.POST.get("accepting") == "1")
    return HttpResponseRedirect(reverse("chat_console"), status=303)
