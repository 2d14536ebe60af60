"""Forms of the triage pages; they only validate, services write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from guichet.triage.models import RoutingRule, TeamAssignment


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = [
            "name",
            "position",
            "enabled",
            "intent",
            "language",
            "channel",
            "signal",
            "team",
            "skill",
            "priority",
        ]
        help_texts = {
            "position": _("Rules are tried from the lowest position; the first match wins."),
            "channel": _("Empty: any channel."),
            "signal": _("Empty: with or without signals."),
            "priority": _("Empty: keep the priority triage gave."),
        }


class TeamAssignmentForm(forms.Form):
    mode = forms.ChoiceField(label=_("Assignment"), choices=TeamAssignment.Mode.choices)


class CorrectionForm(forms.Form):
    label = forms.CharField(label=_("Right answer"), max_length=100)


class AvailabilityForm(forms.Form):
    available = forms.BooleanField(required=False)
