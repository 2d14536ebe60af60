"""Forms of the agent interface: they parse and validate input; services do the work."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guichet.accounts.models import Team, User
from guichet.conversations.models import Channel, Priority, Status
from guichet.core.exceptions import InvalidInput
from guichet.customers.identities import normalise

MAX_TEXT = 100_000
MAX_TAG_CHARS = 50  # as conversations.services, which refuses longer tags too


def identifier_kind(value: str) -> str:
    """An email address contains '@'; anything else is read as a phone number."""
    return "email" if "@" in value else "phone"


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name


class ConversationNewForm(forms.Form):
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"), choices=Channel.choices, initial=Channel.PHONE
    )
    identifier = forms.CharField(
        label=gettext_lazy("Customer email or phone number"),
        max_length=254,
        help_text=gettext_lazy(
            "An address with “@” is read as an email, anything else as a phone "
            "number (national numbers are read as French)."
        ),
    )
    name = forms.CharField(label=gettext_lazy("Customer name"), max_length=200, required=False)
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=255, required=False)
    text = forms.CharField(
        label=gettext_lazy("What the customer asked"), widget=forms.Textarea, max_length=MAX_TEXT
    )
    team = forms.ModelChoiceField(label=gettext_lazy("Team"), queryset=Team.objects.none())
    priority = forms.TypedChoiceField(
        label=gettext_lazy("Priority"),
        choices=Priority.choices,
        coerce=int,
        initial=Priority.NORMAL,
    )

    def __init__(self, *args: Any, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["team"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = teams
        if len(teams) == 1:
            field.initial = teams[0].pk

    def clean_identifier(self) -> str:
        value = self.cleaned_data["identifier"].strip()
        try:
            normalise(identifier_kind(value), value)
        except InvalidInput as error:
            raise forms.ValidationError(str(error)) from None
        return value


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Reply to the customer"), widget=forms.Textarea, max_length=MAX_TEXT
    )
    # Which way the reply leaves; the service checks it is one of the conversation's routes.
    channel = forms.ChoiceField(
        label=gettext_lazy("Send by"), choices=Channel.choices, required=False
    )


class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Internal note"), widget=forms.Textarea, max_length=MAX_TEXT
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=Status.choices)


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(
        label=gettext_lazy("Priority"), choices=Priority.choices, coerce=int
    )


class TeamForm(forms.Form):
    team = forms.ModelChoiceField(label=gettext_lazy("Team"), queryset=Team.objects.none())

    def __init__(self, *args: Any, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["team"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = teams


class AssignForm(forms.Form):
    assignee = AgentChoiceField(
        label=gettext_lazy("Assignee"),
        queryset=User.objects.none(),
        required=False,
        empty_label=gettext_lazy("Nobody"),
    )

    def __init__(self, *args: Any, agents: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = agents


class TagsForm(forms.Form):
    tags = forms.CharField(
        label=gettext_lazy("Tags (separated by commas)"), max_length=1200, required=False
    )

    def clean_tags(self) -> str:
        value: str = self.cleaned_data["tags"]
        for name in value.split(","):
            if len(name.strip()) > MAX_TAG_CHARS:
                raise forms.ValidationError(
                    _("A tag has at most %(n)d characters: “%(tag)s” is too long.")
                    % {"n": MAX_TAG_CHARS, "tag": name.strip()}
                )
        return value

    def names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["tags"].split(",") if name.strip()]


SNOOZE_PRESETS = (
    ("1h", gettext_lazy("For 1 hour")),
    ("4h", gettext_lazy("For 4 hours")),
    ("tomorrow", gettext_lazy("Until tomorrow 9:00")),
    ("monday", gettext_lazy("Until Monday 9:00")),
)


class SnoozeForm(forms.Form):
    preset = forms.ChoiceField(label=gettext_lazy("Snooze"), choices=SNOOZE_PRESETS, required=False)
    until = forms.DateTimeField(
        label=gettext_lazy("Or until"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("until") and not data.get("preset"):
            raise forms.ValidationError(_("Choose how long to snooze."))
        return data

    def moment(self, now: datetime | None = None) -> datetime:
        """The chosen time; an explicit date wins over a preset."""
        if self.cleaned_data.get("until"):
            return self.cleaned_data["until"]
        now = timezone.localtime(now)
        preset = self.cleaned_data["preset"]
        if preset == "1h":
            return now + timedelta(hours=1)
        if preset == "4h":
            return now + timedelta(hours=4)
        days = 1 if preset == "tomorrow" else (7 - now.weekday()) or 7
        day = (now + timedelta(days=days)).date()
        return timezone.make_aware(datetime.combine(day, time(9, 0)))


class IdentityForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=[("email", gettext_lazy("Email")), ("phone", gettext_lazy("Phone"))],
    )
    value = forms.CharField(label=gettext_lazy("Email address or phone number"), max_length=254)


class CustomerEditForm(forms.Form):
    display_name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)
    preferred_language = forms.ChoiceField(
        label=gettext_lazy("Preferred language"),
        required=False,
        choices=[("", gettext_lazy("Not known")), ("fr", "Français"), ("en", "English")],
    )
    advisor = AgentChoiceField(
        label=gettext_lazy("Named advisor"),
        queryset=User.objects.none(),
        required=False,
        empty_label=gettext_lazy("None"),
    )

    def __init__(
        self, *args: Any, agents: QuerySet[User], language: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["advisor"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = agents
        languages = self.fields["preferred_language"]
        assert isinstance(languages, forms.ChoiceField)
        known = [("", _("Not known")), ("fr", "Français"), ("en", "English")]
        if language and language not in {code for code, _label in known}:
            languages.choices = [*known, (language, language)]


class MergeForm(forms.Form):
    other = forms.IntegerField(
        label=gettext_lazy("Number of the duplicate customer"), min_value=1, max_value=2**63 - 1
    )
