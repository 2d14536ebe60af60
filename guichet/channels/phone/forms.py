"""Forms of the phone pages: the public callback request, the call log, a callback attempt."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guichet.channels.phone.models import CallbackAttempt, Direction
from guichet.conversations.content import clean_text
from guichet.core.exceptions import InvalidInput
from guichet.customers.identities import normalise_phone


class CallbackRequestForm(forms.Form):
    name = forms.CharField(label=_("Your name (optional)"), max_length=200, required=False)
    number = forms.CharField(
        label=_("Phone number to call"),
        max_length=40,
        help_text=_("For example 06 12 34 56 78 or +33 6 12 34 56 78."),
    )
    day = forms.DateField(
        label=_("Preferred day (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Leave empty to be called as soon as possible."),
    )
    from_time = forms.TimeField(
        label=_("Not before (optional)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    until_time = forms.TimeField(
        label=_("Not after (optional)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    note = forms.CharField(
        label=_("What is it about? (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    conversation = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)
    # A field people never see nor fill (hidden from view and from assistive technology).
    website = forms.CharField(required=False, max_length=200, label=_("Leave this field empty"))

    def __init__(self, *args, zone: str | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.zone = ZoneInfo(zone or str(settings.TIME_ZONE))
        for name, field in self.fields.items():
            described = []
            if field.help_text:
                described.append(f"id_{name}_help")
            if self.is_bound and name in self.errors:
                described.append(f"id_{name}_error")
                field.widget.attrs["aria-invalid"] = "true"
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)
        self.fields["number"].widget.attrs.update(
            {"autocomplete": "tel", "inputmode": "tel", "required": True}
        )
        self.fields["name"].widget.attrs["autocomplete"] = "name"
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})

    def _text(self, name: str) -> str:
        return clean_text(self.cleaned_data.get(name) or "").strip()

    def clean_number(self) -> str:
        raw = clean_text(self.cleaned_data["number"]).strip()
        try:
            return normalise_phone(raw)
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_name(self) -> str:
        return self._text("name")

    def clean_note(self) -> str:
        return self._text("note")

    def clean(self) -> dict:
        data = super().clean() or {}
        day: date | None = data.get("day")
        start: time | None = data.get("from_time")
        end: time | None = data.get("until_time")
        today = timezone.localtime(timezone.now(), self.zone).date()
        if day is None and (start or end):
            day = today
        if day is not None:
            if day < today:
                self.add_error("day", _("Choose today or a later day."))
            elif day > today + timedelta(days=30):
                self.add_error("day", _("Choose a day within the next 30 days."))
        if start and end and end <= start:
            self.add_error("until_time", _("Choose a time after the first one."))
        preferred_from = preferred_until = None
        if day is not None and not self.errors:
            preferred_from = datetime.combine(day, start or time(0, 0), self.zone)
            preferred_until = datetime.combine(day, end, self.zone) if end else None
            if preferred_until is not None and preferred_until <= timezone.now():
                self.add_error("until_time", _("This time has already passed today."))
            if start is None and day == today:
                preferred_from = None
        data["preferred_from"] = preferred_from
        data["preferred_until"] = preferred_until
        return data


class CallLogForm(forms.Form):
    direction = forms.ChoiceField(
        label=_("Call"), choices=Direction.choices, widget=forms.RadioSelect
    )
    minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=0, max_value=24 * 60)
    number = forms.CharField(label=_("Number (optional)"), max_length=40, required=False)
    notes = forms.CharField(
        label=_("Notes"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 5})
    )


class AttemptForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=CallbackAttempt.Outcome.choices)
    note = forms.CharField(
        label=_("Note (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
