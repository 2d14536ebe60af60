"""The permission policy, in one place. Selectors filter with these; views never decide alone.

- An agent sees conversations of their teams and those assigned to them.
- A supervisor sees the conversations of their teams (and those assigned to them).
- An administrator sees everything.
A customer is visible to whoever can see one of their conversations or is their named advisor.
The Q objects use lookups by name so this module imports no higher layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q

if TYPE_CHECKING:
    from guichet.accounts.models import User


def is_admin(user: User) -> bool:
    return bool(user.is_active and (user.role == "admin" or user.is_superuser))


def is_supervisor(user: User) -> bool:
    return bool(user.is_active and (user.role in {"supervisor", "admin"} or user.is_superuser))


def _team_ids(user: User) -> list[int]:
    cached = getattr(user, "_guichet_team_ids", None)
    if cached is None:
        cached = list(user.teams.values_list("id", flat=True))
        user._guichet_team_ids = cached  # type: ignore[attr-defined]
    return cached


def team_ids(user: User) -> list[int]:
    """Ids of the teams the user belongs to (cached on the user object for the request)."""
    return _team_ids(user)


def conversation_visibility_q(user: User, prefix: str = "") -> Q:
    """A filter selecting the conversations `user` may see; `prefix` for related lookups."""
    if not user.is_active:
        return Q(pk__in=[])
    if is_admin(user):
        return Q()
    return Q(**{f"{prefix}team_id__in": _team_ids(user)}) | Q(**{f"{prefix}assignee_id": user.pk})


def customer_visibility_q(user: User) -> Q:
    """A filter selecting the customers `user` may see."""
    if not user.is_active:
        return Q(pk__in=[])
    if is_admin(user):
        return Q()
    return (
        Q(conversations__team_id__in=_team_ids(user))
        | Q(conversations__assignee_id=user.pk)
        | Q(advisor_id=user.pk)
    )


def can_assign_to_others(user: User) -> bool:
    return is_supervisor(user)


def can_merge_customers(user: User) -> bool:
    return is_supervisor(user)
