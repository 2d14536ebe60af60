"""Writers for shared base data."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence as CollectionSequence
from typing import Any

from django.db import connection
from django.db.models import Model

from guichet.core.models import Sequence

# `rows_update` writes up to this many groups of equal values (or a quarter of the rows, if
# more) as plain UPDATEs; beyond that, one CASE statement costs less than the round trips.
GROUPED_UPDATES_MAX = 12


def sequence_next_many(*, name: str, n: int, start: int = 1000) -> list[int]:
    """Allocate the next `n` numbers of a named sequence in one statement; call inside the
    caller's transaction. The first number ever allocated is `start + 1`.

    One `INSERT … ON CONFLICT DO UPDATE … RETURNING` (PostgreSQL, and SQLite ≥ 3.35): it creates
    the sequence on first use and takes its row lock (PostgreSQL) or the write lock (SQLite) until
    the caller commits, so concurrent callers get distinct, consecutive ranges; a unique
    constraint on the numbered column is the final guard.
    """
    if n < 1:
        return []
    table = connection.ops.quote_name(Sequence._meta.db_table)
    with connection.cursor() as cursor:
        # The table name is our model's, quoted; every value is a parameter.
        sql = (
            f"INSERT INTO {table} (name, value) VALUES (%s, %s) "  # noqa: S608
            f"ON CONFLICT (name) DO UPDATE SET value = {table}.value + %s RETURNING value"
        )
        cursor.execute(sql, [name, start + n, n])
        (last,) = cursor.fetchone()
    return list(range(int(last) - n + 1, int(last) + 1))


def sequence_next(*, name: str, start: int = 1000) -> int:
    """Allocate the next number of a named sequence (see `sequence_next_many`)."""
    return sequence_next_many(name=name, n=1, start=start)[0]


def rows_update(rows: CollectionSequence[Model], fields: Iterable[str]) -> None:
    """Write `fields` of saved `rows` (one model): `bulk_update`'s outcome, in plain statements.

    Rows whose new values are equal share one `UPDATE … SET … WHERE pk IN (…)`. Django's
    `bulk_update` writes one `CASE WHEN pk = … THEN …` per row and field instead, and for a
    batch of a hundred rows building that statement costs more than running it. When most rows
    have values of their own (or a value cannot be compared), `bulk_update` it is.
    """
    if not rows:
        return
    names = list(dict.fromkeys(fields))
    model = type(rows[0])
    attnames = [model._meta.get_field(name).attname for name in names]  # type: ignore[union-attr]
    groups: dict[tuple[Any, ...], list[Any]] = {}
    try:
        for row in rows:
            groups.setdefault(tuple(getattr(row, a) for a in attnames), []).append(row.pk)
    except TypeError:  # an unhashable value (a list, a dict)
        groups = {}
    if not groups or len(groups) > max(GROUPED_UPDATES_MAX, len(rows) // 4):
        model._default_manager.bulk_update(rows, names)
        return
    for values, pks in groups.items():
        model._default_manager.filter(pk__in=pks).update(**dict(zip(attnames, values, strict=True)))
