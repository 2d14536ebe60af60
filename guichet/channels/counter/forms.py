"""Forms of the kiosk, the counter console and the metrics page."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TakeNumberForm(forms.Form):
    reason = forms.TypedChoiceField(label=_("Reason for your visit"), coerce=int, choices=())
    priority = forms.BooleanField(
        label=_("I need priority (disability, pregnancy, frailty)"), required=False
    )
    name = forms.CharField(label=_("Your name (optional)"), max_length=120, required=False)
    phone = forms.CharField(label=_("Your phone number (optional)"), max_length=32, required=False)

    def __init__(self, *args, reasons=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [(r.pk, r.label) for r in reasons]  # type: ignore[attr-defined]


class CallNextForm(forms.Form):
    desk = forms.CharField(label=_("Desk"), max_length=60)


class OpenConversationForm(forms.Form):
    identifier = forms.CharField(
        label=_("Email address or phone number"), max_length=254, required=False
    )
    name = forms.CharField(label=_("Name"), max_length=120, required=False)
    text = forms.CharField(
        label=_("What the visitor asked"), widget=forms.Textarea(attrs={"rows": 3})
    )


class LinkConversationForm(forms.Form):
    number = forms.IntegerField(label=_("Conversation number"), min_value=1)


class MetricsForm(forms.Form):
    site = forms.TypedChoiceField(label=_("Site"), coerce=int, choices=())
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [(s.pk, s.name) for s in sites]  # type: ignore[attr-defined]
        today = timezone.localdate()
        self.fields["start"].initial = today - timedelta(days=6)
        self.fields["end"].initial = today
