"""Readers of paper mail, scoped like conversations: an agent sees the letters of their teams."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from guichet.accounts.models import User
from guichet.accounts.permissions import is_admin, team_ids
from guichet.channels.paper.models import PaperLetter


def letters_visible(*, user: User) -> QuerySet[PaperLetter]:
    letters = PaperLetter.objects.select_related("conversation", "conversation__customer")
    if not user.is_active:
        return letters.none()
    if is_admin(user):
        return letters
    return letters.filter(Q(team_id__in=team_ids(user)) | Q(uploaded_by=user))


def letter_get(*, user: User, letter_id: int) -> PaperLetter:
    return letters_visible(user=user).get(pk=letter_id)
