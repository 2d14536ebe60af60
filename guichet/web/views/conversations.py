"""The conversation page and its actions; each action calls one service.

Every action is a plain POST that redirects back (PRG). An htmx request gets the updated
`#conversation` fragment instead. A service error is shown with its status (400/403/409) and the
text the agent typed is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from guichet.accounts.models import User
from guichet.accounts.permissions import can_assign_to_others
from guichet.accounts.selectors import assignable_agents, team_list_for
from guichet.channels import outbox
from guichet.conversations import selectors, services
from guichet.conversations.models import TRANSITIONS, Conversation, Status
from guichet.conversations.senders import no_route_reason, reply_routes
from guichet.core.exceptions import GuichetError
from guichet.web import forms
from guichet.web.views.common import acting_user, error_status, render_error, require_valid


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _get(user: User, number: int) -> Conversation:
    try:
        return selectors.conversation_get(user=user, number=number)
    except Conversation.DoesNotExist:
        raise Http404(_("No such conversation.")) from None


def _context(request: HttpRequest, conversation: Conversation, **bound: Any) -> dict[str, Any]:
    user = acting_user(request)
    tags = [tag.name for tag in conversation.tags.all()]
    status_choices = [
        (value, Status(value).label)
        for value in [conversation.status, *sorted(TRANSITIONS[conversation.status])]
    ]
    timeline = selectors.conversation_timeline(conversation=conversation)
    return {
        "conversation": conversation,
        "timeline": timeline,
        "failed_reply": selectors.failed_latest_reply(timeline),
        "reply_routes": reply_routes(conversation),
        "no_route_reason": no_route_reason(conversation.channel),
        "tags": tags,
        "status_choices": status_choices,
        "reply_form": bound.get("reply_form") or forms.ReplyForm(auto_id="reply_%s"),
        "note_form": bound.get("note_form") or forms.NoteForm(auto_id="note_%s"),
        "assign_form": forms.AssignForm(
            agents=assignable_agents(user=user),
            initial={"assignee": conversation.assignee_id},
            auto_id="assign_%s",
        ),
        "priority_form": forms.PriorityForm(
            initial={"priority": conversation.priority}, auto_id="priority_%s"
        ),
        "team_form": forms.TeamForm(
            teams=team_list_for(user=user),
            initial={"team": conversation.team_id},
            auto_id="team_%s",
        ),
        "tags_form": bound.get("tags_form")
        or forms.TagsForm(initial={"tags": ", ".join(tags)}, auto_id="tags_%s"),
        "snooze_form": bound.get("snooze_form") or forms.SnoozeForm(auto_id="snooze_%s"),
        "can_assign": can_assign_to_others(user) or conversation.assignee_id in (None, user.pk),
        "error": bound.get("error", ""),
    }


def _render(
    request: HttpRequest, conversation: Conversation, status: int = 200, **bound: Any
) -> HttpResponse:
    template = "web/_conversation.html" if _is_htmx(request) else "web/conversation.html"
    return render(request, template, _context(request, conversation, **bound), status=status)


@login_required
@require_GET
def conversation_page(request: HttpRequest, number: int) -> HttpResponse:
    return _render(request, _get(acting_user(request), number))


Action = Callable[[Conversation], str]


def _act(
    request: HttpRequest,
    number: int,
    action: Action,
    bound: Callable[[], dict[str, Any]] | None = None,
) -> HttpResponse:
    """Run one action on a visible conversation and answer for a browser or for htmx."""
    user = acting_user(request)
    conversation = _get(user, number)
    try:
        notice = action(conversation)
    except GuichetError as error:
        fresh = _get(user, number)
        extra = bound() if bound else {}
        return _render(request, fresh, status=error_status(error), error=str(error), **extra)
    try:
        fresh = selectors.conversation_get(user=user, number=number)
    except Conversation.DoesNotExist:
        # The action moved it out of this user's sight (another team): back to the inbox.
        messages.info(request, _("Conversation #%(n)d is no longer in your teams.") % {"n": number})
        return HttpResponseClientRedirect("/") if _is_htmx(request) else redirect("inbox")
    if notice:
        messages.success(request, notice)
    if _is_htmx(request):
        return _render(request, fresh)
    return redirect("conversation", number=fresh.number)


@login_required
@require_POST
def conversation_claim(request: HttpRequest, number: int) -> HttpResponse:
    def action(conversation: Conversation) -> str:
        services.conversation_claim(actor=acting_user(request), conversation=conversation)
        return _("You have taken this conversation.")

    return _act(request, number, action)


@login_required
@require_POST
def conversation_assign(request: HttpRequest, number: int) -> HttpResponse:
    user = acting_user(request)

    def action(conversation: Conversation) -> str:
        form = forms.AssignForm(request.POST, agents=assignable_agents(user=user))
        require_valid(form)
        assignee = form.cleaned_data["assignee"]
        services.conversation_assign(actor=user, conversation=conversation, assignee=assignee)
        if assignee is None:
            return _("Nobody is assigned now.")
        return _("Assigned to %(name)s.") % {"name": assignee.display_name}

    return _act(request, number, action)


@login_required
@require_POST
def conversation_status(request: HttpRequest, number: int) -> HttpResponse:
    def action(conversation: Conversation) -> str:
        form = forms.StatusForm(request.POST)
        require_valid(form)
        status = form.cleaned_data["status"]
        services.conversation_set_status(
            actor=acting_user(request), conversation=conversation, status=status
        )
        return _("Status: %(status)s.") % {"status": Status(status).label}

    return _act(request, number, action)


@login_required
@require_POST
def conversation_priority(request: HttpRequest, number: int) -> HttpResponse:
    def action(conversation: Conversation) -> str:
        form = forms.PriorityForm(request.POST)
        require_valid(form)
        services.conversation_set_priority(
            actor=acting_user(request),
            conversation=conversation,
            priority=form.cleaned_data["priority"],
        )
        return _("Priority changed.")

    return _act(request, number, action)


@login_required
@require_POST
def conversation_team(request: HttpRequest, number: int) -> HttpResponse:
    user = acting_user(request)

    def action(conversation: Conversation) -> str:
        form = forms.TeamForm(request.POST, teams=team_list_for(user=user))
        require_valid(form)
        team = form.cleaned_data["team"]
        services.conversation_set_team(actor=user, conversation=conversation, team=team)
        return _("Moved to the team %(name)s.") % {"name": team.name}

    return _act(request, number, action)


@login_required
@require_POST
def conversation_tags(request: HttpRequest, number: int) -> HttpResponse:
    form = forms.TagsForm(request.POST, auto_id="tags_%s")

    def action(conversation: Conversation) -> str:
        require_valid(form)
        services.conversation_set_tags(
            actor=acting_user(request), conversation=conversation, names=form.names()
        )
        return _("Tags saved.")

    return _act(request, number, action, bound=lambda: {"tags_form": form})


@login_required
@require_POST
def conversation_snooze(request: HttpRequest, number: int) -> HttpResponse:
    form = forms.SnoozeForm(request.POST, auto_id="snooze_%s")

    def action(conversation: Conversation) -> str:
        if request.POST.get("unsnooze"):
            services.conversation_snooze(
                actor=acting_user(request), conversation=conversation, until=None
            )
            return _("The conversation is back in the inbox.")
        require_valid(form)
        services.conversation_snooze(
            actor=acting_user(request), conversation=conversation, until=form.moment()
        )
        return _("Snoozed.")

    return _act(request, number, action, bound=lambda: {"snooze_form": form})


@login_required
@require_POST
def conversation_reply(request: HttpRequest, number: int) -> HttpResponse:
    form = forms.ReplyForm(request.POST, auto_id="reply_%s")

    def action(conversation: Conversation) -> str:
        require_valid(form)
        message = services.conversation_reply(
            actor=acting_user(request),
            conversation=conversation,
            text=form.cleaned_data["text"],
            channel=form.cleaned_data["channel"] or None,
        )
        if message.delivery_status == message.DeliveryStatus.FAILED:
            return _("Reply saved, but it could not be sent: see the timeline.")
        # Handed to its channel, not yet delivered: the timeline follows it to "sent".
        return _("Reply saved: it is being sent by %(channel)s.") % {
            "channel": message.get_channel_display()
        }

    return _act(request, number, action, bound=lambda: {"reply_form": form})


@login_required
@require_POST
def conversation_retry(request: HttpRequest, number: int, message_id: int) -> HttpResponse:
    """ "Retry now" on a reply whose delivery failed or is waiting for its next attempt."""

    def action(conversation: Conversation) -> str:
        outbox.message_retry_now(
            actor=acting_user(request), conversation=conversation, message_id=message_id
        )
        return _("Sending again now.")

    return _act(request, number, action)


@login_required
@require_POST
def conversation_note(request: HttpRequest, number: int) -> HttpResponse:
    form = forms.NoteForm(request.POST, auto_id="note_%s")

    def action(conversation: Conversation) -> str:
        require_valid(form)
        services.conversation_note_add(
            actor=acting_user(request), conversation=conversation, text=form.cleaned_data["text"]
        )
        return _("Note added.")

    return _act(request, number, action, bound=lambda: {"note_form": form})


@login_required
@require_http_methods(["GET", "POST"])
def conversation_new(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    teams = team_list_for(user=user)
    form = forms.ConversationNewForm(request.POST or None, teams=teams)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                conversation = services.conversation_open(
                    actor=user,
                    channel=data["channel"],
                    customer_kind=forms.identifier_kind(data["identifier"]),
                    customer_value=data["identifier"],
                    customer_name=data["name"],
                    subject=data["subject"],
                    text=data["text"],
                    team=data["team"],
                    priority=data["priority"],
                )
            except GuichetError as error:
                form.add_error(None, str(error))
                status = error_status(error)
            else:
                messages.success(
                    request, _("Conversation #%(n)d opened.") % {"n": conversation.number}
                )
                return redirect("conversation", number=conversation.number)
        else:
            status = 400
    if not teams:
        return render_error(request, _("You belong to no team yet; ask an administrator."), 403)
    return render(request, "web/conversation_new.html", {"form": form}, status=status)
