"""URLs of triage (mounted at the site root: each path carries its own prefix)."""

from django.urls import URLPattern, URLResolver, path

from guichet.triage import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("triage/routing/", views.routing, name="triage_routing"),
    path("triage/routing/<int:pk>/", views.rule_edit, name="triage_rule_edit"),
    path("triage/routing/<int:pk>/action", views.rule_action, name="triage_rule_action"),
    path("triage/teams/<int:team_id>/mode", views.team_mode, name="triage_team_mode"),
    path(
        "triage/predictions/<int:pk>/correct",
        views.prediction_correct,
        name="triage_prediction_correct",
    ),
    path("triage/availability", views.availability, name="triage_availability"),
]
