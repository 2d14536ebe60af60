"""Writers for shared base data."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from guichet.core.models import Sequence


def sequence_next(*, name: str, start: int = 1000) -> int:
    """Allocate the next number of a named sequence; call inside the caller's transaction.

    The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite), so concurrent callers
    get distinct numbers; a unique constraint on the numbered column is the final guard.
    """
    with transaction.atomic():
        Sequence.objects.get_or_create(name=name, defaults={"value": start})
        Sequence.objects.filter(name=name).update(value=F("value") + 1)
        return Sequence.objects.values_list("value", flat=True).get(name=name)
