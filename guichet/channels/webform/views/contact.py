"""The contact form (works without JavaScript) and the page shown once a message is sent."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from guichet.channels.promise import promise_context
from guichet.channels.webform import attachments, ratelimit, spam
from guichet.channels.webform.forms import ContactForm
from guichet.channels.webform.services import Submission, webform_submit
from guichet.channels.webform.views.common import (
    booking_url,
    callback_url,
    chat_url,
    limited,
    limited_post,
    public_error,
    reach_a_person,
)
from guichet.conversations.models import Conversation
from guichet.conversations.types import InboundAttachment
from guichet.core.clients import client_address
from guichet.core.exceptions import GuichetError

_SENT_SALT = "guichet.channels.webform.sent"
SENT_MAX_AGE = 24 * 3600

TOKEN_MESSAGES = {
    spam.TOO_FAST: gettext_lazy(
        "Your message was sent very quickly after the page opened, as programs do. "
        "Please check it and press “Send” again."
    ),
    spam.EXPIRED: gettext_lazy("This page was open for a long time. Please press “Send” again."),
    spam.INVALID: gettext_lazy("This form could not be checked. Please press “Send” again."),
}


def _language() -> str:
    return (translation.get_language() or settings.LANGUAGE_CODE)[:2]


def _render_form(
    request: HttpRequest, form: ContactForm, *, status: int = 200, problem: str = ""
) -> HttpResponse:
    return render(
        request,
        "webform/contact.html",
        {
            "form": form,
            "problem": problem,
            "attachment_help": attachments.limits_help(),
            "max_attachments": settings.WEBFORM_MAX_ATTACHMENTS,
            **reach_a_person(),
        },
        status=status,
    )


def _fresh_token(form: ContactForm) -> None:
    """Give a re-shown form a new token (the person's text stays as they typed it)."""
    data = form.data.copy()  # type: ignore[attr-defined]  # a QueryDict
    data["form_token"] = spam.token_issue()
    form.data = data


def _check(request: HttpRequest, form: ContactForm) -> tuple[str, str, list[InboundAttachment]]:
    """(problem, submission id, files): the first problem found, in the order a person fixes."""
    if not form.is_valid():
        return _("Your message was not sent: please correct the fields marked below."), "", []
    if str(request.POST.get(spam.HONEYPOT_FIELD, "")).strip():
        return (
            _(
                "Your message was not sent: the field “Leave this field empty” was filled in, "
                "perhaps by a program that fills forms. Empty it and send again."
            ),
            "",
            [],
        )
    check = spam.token_check(form.cleaned_data["form_token"])
    if check.outcome != spam.OK:
        return str(TOKEN_MESSAGES[check.outcome]), "", []
    try:
        files = list(attachments.attachments_read(request.FILES.getlist("attachments")))
    except attachments.AttachmentError as error:
        form.add_error(None, str(error))
        return str(error), "", []
    return "", check.submission_id, files


@limited_post
@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _render_form(request, ContactForm())
    ip_limit = ratelimit.Limit(
        ratelimit.FORM_IP,
        client_address(request.META),
        settings.PUBLIC_HOURLY_LIMIT_PER_IP,
    )
    hit = ratelimit.exceeded([ip_limit])
    if hit is not None:
        return limited(request, hit)
    form = ContactForm(request.POST)
    problem, submission_id, files = _check(request, form)
    if problem:
        _fresh_token(form)
        return _render_form(request, form, status=400, problem=problem)

    email = form.cleaned_data["email"].strip().lower()
    address_limit = ratelimit.Limit(
        ratelimit.FORM_ADDRESS, email, settings.WEBFORM_HOURLY_LIMIT_PER_ADDRESS
    )
    hit = ratelimit.exceeded([address_limit])
    if hit is not None:
        return limited(request, hit)
    submission = Submission(
        name=form.cleaned_data["name"],
        email=email,
        subject=form.cleaned_data["subject"],
        text=form.cleaned_data["message"],
        language=_language(),
        submission_id=submission_id,
        attachments=tuple(files),
    )
    try:
        result = webform_submit(submission=submission)
    except GuichetError as error:
        _fresh_token(form)
        return _render_form(request, form, status=400, problem=str(error))
    if result.created:
        ratelimit.record([ip_limit, address_limit])
    signed = signing.dumps({"n": result.conversation.number}, salt=_SENT_SALT, compress=False)
    return redirect(reverse("webform:contact_sent", args=[signed]), permanent=False)


@require_GET
def contact_sent(request: HttpRequest, signed: str) -> HttpResponse:
    """What happens next: the number, when a person answers, how to reach one sooner."""
    try:
        number = int(signing.loads(signed, salt=_SENT_SALT, max_age=SENT_MAX_AGE)["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        number = 0
    conversation = (
        Conversation.objects.select_related("team__calendar").filter(number=number).first()
        if number
        else None
    )
    if conversation is None:
        return public_error(
            request,
            _("This page has expired. Your message, if you sent one, has reached us."),
            status=404,
        )
    language = _language()
    context = promise_context(conversation, language)
    return render(
        request,
        "webform/contact_sent.html",
        {
            "number": conversation.number,
            **context,
            "chat_url": chat_url(),
            "callback_url": callback_url(conversation),
            "booking_url": booking_url(),
        },
    )
