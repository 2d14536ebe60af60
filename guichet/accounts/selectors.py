"""Readers for agents and teams."""

from __future__ import annotations

from django.db.models import QuerySet

from guichet.accounts.models import Team, User
from guichet.accounts.permissions import is_admin, team_ids


def team_list_for(*, user: User) -> QuerySet[Team]:
    """Teams the user works in (all teams for an administrator)."""
    if is_admin(user):
        return Team.objects.all()
    return Team.objects.filter(id__in=team_ids(user))


def assignable_agents(*, user: User) -> QuerySet[User]:
    """Agents the user may hand a conversation to: members of the user's teams."""
    agents = User.objects.filter(is_active=True)
    if not is_admin(user):
        agents = agents.filter(teams__id__in=team_ids(user))
    return agents.distinct().order_by("first_name", "last_name", "username")
