"""Forms of the chat page (no JavaScript) and the agent console."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class ChatMessageForm(forms.Form):
    name = forms.CharField(label=_("Your name (optional)"), max_length=200, required=False)
    email = forms.EmailField(
        label=_("Your email address (optional)"),
        max_length=254,
        required=False,
        help_text=_("So that we can answer you by email if you leave."),
    )
    text = forms.CharField(
        label=_("Your message"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=settings.CHAT_MESSAGE_MAX_CHARS,
        strip=True,
    )


class ConsoleReplyForm(forms.Form):
    text = forms.CharField(label=_("Your answer"), widget=forms.Textarea(attrs={"rows": 3}))
