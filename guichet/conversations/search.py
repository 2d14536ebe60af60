"""Full-text search over conversations (message texts, internal notes, subjects) and customers.

One selector module, two backends chosen by the connection's vendor:

- PostgreSQL: stored generated tsvector columns (French with and without accents, weighted above
  English without accents) with GIN indexes, queried with `websearch_to_tsquery` the same three
  ways; a message matches when every term matches in one of them;
  customers by a trigram index on the accent-folded name.
- SQLite: FTS5 tables (Porter stemming, diacritics removed) kept in sync by triggers; customers by
  an FTS5 table over the name, matched by word prefix.

Customers are also found by identity: an email address or a phone number in any common format,
normalised as the application stores it, matched exactly.

The search columns and tables are created by the `0002_search` migrations of `customers` and
`conversations`; the models do not declare them. Raw SQL here only ever receives user input as
parameters; it returns ids, and rows are loaded through the ORM. Results are always scoped by the
permission policy in the same SQL, so a user with few teams still gets their matches when other
teams have many more.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connection, connections, transaction
from django.db.models import Case, IntegerField, Q, Value, When
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.accounts.permissions import conversation_visibility_q, customer_visibility_q
from guichet.conversations.models import Conversation, Message
from guichet.core.exceptions import InvalidInput
from guichet.customers.identities import normalise_email, normalise_phone
from guichet.customers.models import Customer, Identity

__all__ = ["search_conversations", "search_customers", "search_index_ensure"]

MAX_QUERY_CHARS = 200
MAX_TERMS = 12
MAX_LIMIT = 200
SUBJECT_BOOST = 2.0
SNIPPET_CHARS = 160
# Relevance is divided by (1 + age / RECENCY_DAYS): of two equally good matches, the more recent
# conversation comes first, and a year-old one needs twice the relevance to beat a fresh one.
RECENCY_DAYS = 365.0

_WORD = re.compile(r"[^\W_]+")
_SEGMENT = re.compile(r'"([^"]*)"?|([^\s"]+)')
# Words FTS5 would read as operators; typed bare, they are noise rather than search terms.
_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
# Typographic double quotes (“ ” „ « » and the fullwidth one) typed around a phrase.
_QUOTES = str.maketrans(dict.fromkeys("\u201c\u201d\u201e\u00ab\u00bb\uff02", '"'))


# --- query text --------------------------------------------------------------------------------


def _clean(query: str) -> str:
    """NFC, whitespace as spaces, control and format characters dropped, at most 200 characters."""
    raw = unicodedata.normalize("NFC", (query or "")[: MAX_QUERY_CHARS * 4])
    chars = []
    for char in raw:
        if char.isspace():
            chars.append(" ")
        elif unicodedata.category(char)[0] != "C":
            chars.append(char)
    return "".join(chars).translate(_QUOTES)[:MAX_QUERY_CHARS].strip()


def _terms(cleaned: str) -> list[str]:
    """Quoted phrases and bare words; every one must match (AND). Never empty of word characters."""
    terms: list[str] = []
    for match in _SEGMENT.finditer(cleaned):
        quoted, bare = match.group(1), match.group(2)
        if bare is not None and bare in _OPERATORS:
            continue
        text = " ".join((quoted if quoted is not None else bare).split())
        if _WORD.search(text):
            terms.append(text)
    return terms[:MAX_TERMS]


def _fts5_match(terms: list[str]) -> str:
    # Inside double quotes FTS5 reads everything as text to tokenise; a quote is doubled.
    return " AND ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _websearch(terms: list[str]) -> str:
    # Each term quoted: websearch_to_tsquery then reads "or" and "-" as words, not operators,
    # so both backends mean the same thing: all terms, phrases kept together.
    return " ".join(f'"{term}"' for term in terms)


def _clamp(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


# --- conversations -----------------------------------------------------------------------------

# The tsquery is written out where it is used (its text is a parameter each time) rather than
# computed once in a CTE: as a constant, the planner can estimate how many rows it matches and,
# for a user who sees few conversations, start from those instead of from every match.
_POSTGRESQL_TSQUERY = (
    "(websearch_to_tsquery('french', guichet_unaccent(%s))"
    " || websearch_to_tsquery('french', %s)"
    " || websearch_to_tsquery('english', guichet_unaccent(%s)))"
)
# Only the newest SEARCH_WINDOW matching messages (and subjects) the user may see are ranked:
# ranking every match of two frequent words read tens of thousands of search vectors (seconds
# at 100,000 conversations, bench/results-2026-11-21.txt). Recency is part of the score anyway;
# older matches are reached by adding a word.
#
# On PostgreSQL the search runs in two steps, because any plan that lists every match costs in
# proportion to the number of matches. First only the newest RECENT_SLICE messages are checked:
# when the words are frequent, that finds enough matches at a bounded cost. When it finds fewer
# than asked for, the words are rare enough for the GIN index to list all their matches cheaply,
# and the second step does that (ordered by `id + 0`, so that the planner takes the matches
# from the index instead of walking the primary key backwards over every message).
SEARCH_WINDOW = 1000
RECENT_SLICE = 10_000
SEARCH_TIMEOUT_MS = 3000

_POSTGRESQL_CONVERSATIONS = """
WITH recent AS (
    SELECT m.id FROM {messages} m
    WHERE m.search_vector @@ {tsquery} {visible_messages}
    ORDER BY m.id + 0 DESC LIMIT {window}
), recent_subjects AS (
    SELECT c.id FROM conversations_conversation c
    WHERE c.search_vector @@ {tsquery} {visible_subjects}
    ORDER BY c.id + 0 DESC LIMIT {window}
), hits AS (
    SELECT m.conversation_id AS conversation_id, ts_rank(m.search_vector, {tsquery}) AS rank,
           m.id AS message_id
    FROM recent r JOIN conversations_message m ON m.id = r.id
    UNION ALL
    SELECT c.id, {subject_boost} * ts_rank(c.search_vector, {tsquery}), NULL
    FROM recent_subjects r JOIN conversations_conversation c ON c.id = r.id
), best AS (
    SELECT DISTINCT ON (conversation_id) conversation_id, rank, message_id
    FROM hits
    ORDER BY conversation_id, rank DESC
)
SELECT b.conversation_id, b.message_id
FROM best b JOIN conversations_conversation c ON c.id = b.conversation_id
ORDER BY b.rank / (1 + EXTRACT(EPOCH FROM now() - COALESCE(c.last_message_at, c.created_at))
                   / (86400 * {recency_days})) DESC,
         c.id DESC
LIMIT %s
"""

# FTS5's rank is bm25(): negative, lower is better; FTS5 walks matches in rowid order, so with
# ORDER BY rowid DESC and a LIMIT it computes bm25 only for the rows it returns. `message_id` is a
# bare column SQLite takes from the row holding the minimum. The unary `+` on the subject rowid
# keeps SQLite from turning the permission filter into one FTS lookup per visible conversation.
_SQLITE_CONVERSATIONS = """
WITH recent AS (
    SELECT m.conversation_id AS conversation_id, conversations_message_fts.rank AS rank,
           m.id AS message_id
    FROM conversations_message_fts
    JOIN conversations_message m ON m.id = conversations_message_fts.rowid
    WHERE conversations_message_fts MATCH %s {visible_messages}
    ORDER BY conversations_message_fts.rowid DESC LIMIT {window}
), recent_subjects AS (
    SELECT conversations_conversation_fts.rowid AS conversation_id,
           {subject_boost} * conversations_conversation_fts.rank AS rank, NULL AS message_id
    FROM conversations_conversation_fts
    WHERE conversations_conversation_fts MATCH %s {visible_subjects}
    ORDER BY conversations_conversation_fts.rowid DESC LIMIT {window}
), hits AS (
    SELECT * FROM recent UNION ALL SELECT * FROM recent_subjects
), best AS (
    SELECT conversation_id, MIN(rank) AS rank, message_id
    FROM hits
    GROUP BY conversation_id
)
SELECT b.conversation_id, b.message_id
FROM best b JOIN conversations_conversation c ON c.id = b.conversation_id
ORDER BY b.rank / (1 + (julianday('now') - julianday(COALESCE(c.last_message_at, c.created_at)))
                   / {recency_days}),
         c.id DESC
LIMIT %s
"""


def _visible_ids_sql(user: User) -> tuple[str, tuple[Any, ...]] | None:
    """`SELECT id …` of the conversations the user may see, compiled by the ORM from the
    permission policy with its parameters; "" when the user sees everything, None when nothing."""
    visible = Conversation.objects.filter(conversation_visibility_q(user)).values("id")
    if not visible.query.where:
        return "", ()
    try:
        sql, params = visible.query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, tuple(params)


def _conversation_hits(
    terms: list[str], visible_sql: str, visible_params: tuple[Any, ...], limit: int
) -> list[tuple[int, int | None]]:
    # The permission filter sits inside each branch, so the database can start from the
    # conversations the user sees when they are few. Only our own constants and the ORM's
    # compiled SQL are formatted in; user input goes in the parameters, listed here in the
    # order their placeholders appear.
    constants = {
        "subject_boost": SUBJECT_BOOST,
        "recency_days": RECENCY_DAYS,
        "window": SEARCH_WINDOW,
    }
    visible = visible_params if visible_sql else ()
    if connection.vendor == "postgresql":
        text = _websearch(terms)
        tsquery = (text, text, text)
        params = (*tsquery, *visible, *tsquery, *visible, *tsquery, *tsquery, limit)
        steps = (
            # Only our own integer constant is formatted in.
            f"(SELECT id, conversation_id, search_vector FROM conversations_message"  # noqa: S608
            f" ORDER BY id DESC LIMIT {RECENT_SLICE:d})",
            "conversations_message",
        )
        sqls = [
            _POSTGRESQL_CONVERSATIONS.format(
                messages=messages,
                tsquery=_POSTGRESQL_TSQUERY,
                visible_messages=f"AND m.conversation_id IN ({visible_sql})" if visible_sql else "",
                visible_subjects=f"AND c.id IN ({visible_sql})" if visible_sql else "",
                **constants,
            )
            for messages in steps
        ]

        def two_steps(cursor: Any) -> list[tuple[int, int | None]]:
            for sql in sqls:
                cursor.execute(sql, params)
                hits = cursor.fetchall()
                if len(hits) >= limit:
                    break
            return hits

        return _run_with_timeout(two_steps)
    if connection.vendor == "sqlite":
        match = _fts5_match(terms)
        sql = _SQLITE_CONVERSATIONS.format(
            visible_messages=f"AND m.conversation_id IN ({visible_sql})" if visible_sql else "",
            visible_subjects=(
                f"AND +conversations_conversation_fts.rowid IN ({visible_sql})"
                if visible_sql
                else ""
            ),
            **constants,
        )
        sqlite_params = (match, *visible, match, *visible, limit)

        def one_step(cursor: Any) -> list[tuple[int, int | None]]:
            cursor.execute(sql, sqlite_params)
            return cursor.fetchall()

        return _run_with_timeout(one_step)
    raise NotImplementedError(f"search is not available on {connection.vendor}")  # pragma: no cover


def _run_with_timeout(
    run: Callable[[Any], list[tuple[Any, ...]]],
) -> list[tuple[int, int | None]]:
    """Run the search; on PostgreSQL a search may not hold a web worker for more than 3 s."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            return [(int(row[0]), row[1]) for row in run(cursor)]
    try:
        # The savepoint's rollback on a timeout also undoes the local timeout setting.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'), "
                "set_config('statement_timeout', %s, true)",
                [str(SEARCH_TIMEOUT_MS)],
            )
            previous = cursor.fetchone()[0]
            rows = run(cursor)
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
    except OperationalError as error:
        if "statement timeout" not in str(error):
            raise
        raise InvalidInput(
            _("This search matches too much to answer quickly: add a word to narrow it.")
        ) from None
    return [(int(row[0]), row[1]) for row in rows]


def search_conversations(*, user: User, query: str, limit: int = 50) -> list[Conversation]:
    """Conversations the user may see whose messages (any direction, notes included) or subject
    match every term of `query`, best first, each with a plain-text `search_snippet`."""
    terms = _terms(_clean(query))
    if not terms:
        return []
    visible = _visible_ids_sql(user)
    if visible is None:
        return []
    hits = _conversation_hits(terms, *visible, limit=_clamp(limit))
    if not hits:
        return []
    rows = Conversation.objects.select_related("customer", "team", "assignee").in_bulk(
        [conversation_id for conversation_id, _message_id in hits]
    )
    message_ids = [message_id for _conversation_id, message_id in hits if message_id is not None]
    texts = dict(Message.objects.filter(pk__in=message_ids).values_list("id", "text"))
    words = [word for term in terms for word in _WORD.findall(term)]
    results = []
    for conversation_id, message_id in hits:
        conversation = rows.get(conversation_id)
        if conversation is None:  # deleted between the two queries
            continue
        source = texts.get(message_id, "") if message_id is not None else conversation.subject
        conversation.search_snippet = _snippet(source, words)  # type: ignore[attr-defined]
        results.append(conversation)
    return results


# --- snippets ----------------------------------------------------------------------------------


def _fold(text: str) -> tuple[str, list[int]]:
    """Lower-case text without diacritics, and for each folded character its original index."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for part in unicodedata.normalize("NFKD", char):
            if not unicodedata.combining(part):
                lowered = part.lower()
                folded.append(lowered)
                origin.extend([index] * len(lowered))
    return "".join(folded), origin


def _snippet(text: str, words: list[str], width: int = SNIPPET_CHARS) -> str:
    """A short excerpt around the first place a query word (or its stem-like prefix) occurs."""
    text = " ".join(text[:20_000].split())
    if len(text) <= width:
        return text
    folded, origin = _fold(text)
    position = -1
    for probes in (
        [w for w in map(_fold_word, words)],
        [w[: max(4, len(w) - 2)] for w in map(_fold_word, words)],
    ):
        found = [folded.find(probe) for probe in probes if probe]
        found = [index for index in found if index >= 0]
        if found:
            position = origin[min(found)]
            break
    start = 0 if position < 0 else max(0, position - width // 3)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < position else start
    end = start + width
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    return ("…" if start > 0 else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def _fold_word(word: str) -> str:
    return _fold(word)[0]


# --- customers ---------------------------------------------------------------------------------


def _identity_q(cleaned: str) -> Q:
    """Exact lookups on normalised identity values (the unique (kind, value) index)."""
    q = Q(kind__in=[Identity.Kind.CHAT, Identity.Kind.PORTAL], value=cleaned)
    if "@" in cleaned:
        with contextlib.suppress(InvalidInput):
            q |= Q(kind=Identity.Kind.EMAIL, value=normalise_email(cleaned))
    if sum(char.isdigit() for char in cleaned) >= 6:
        with contextlib.suppress(InvalidInput):
            q |= Q(kind=Identity.Kind.PHONE, value=normalise_phone(cleaned))
    return q


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name_ids_sql(cleaned: str) -> RawSQL | None:
    """Ids of customers whose name holds every word of the query, accents ignored."""
    words = _WORD.findall(cleaned)[:MAX_TERMS]
    if not words:
        return None
    if connection.vendor == "postgresql":
        # Substrings, served by the trigram index on guichet_unaccent(display_name).
        condition = " AND ".join(
            ["guichet_unaccent(display_name) ILIKE ('%%' || guichet_unaccent(%s) || '%%')"]
            * len(words)
        )
        # Only the constant condition is repeated into the SQL; the words are parameters.
        return RawSQL(  # noqa: S611
            f"SELECT id FROM customers_customer WHERE {condition}",  # noqa: S608
            [_like_escape(word) for word in words],
        )
    # Word prefixes: "dup" finds "Dupré".
    match = " AND ".join(f'"{word}"*' for word in words)
    return RawSQL(
        "SELECT rowid FROM customers_customer_fts WHERE customers_customer_fts MATCH %s", [match]
    )


def search_customers(*, user: User, query: str, limit: int = 20) -> list[Customer]:
    """Customers the user may see (merged ones excluded) found by identity (email address, phone
    number in any common format) or by name; identity matches first, then by name."""
    cleaned = _clean(query)
    if not cleaned or not _WORD.search(cleaned):
        return []
    identity_q = _identity_q(cleaned)
    identity_ids = list(
        Identity.objects.filter(identity_q).values_list("customer_id", flat=True)[:MAX_LIMIT]
    )
    condition = Q(pk__in=identity_ids)
    name_ids = _name_ids_sql(cleaned)
    if name_ids is not None:
        condition |= Q(pk__in=name_ids)
    visible = Customer.objects.filter(customer_visibility_q(user)).values("pk")
    return list(
        Customer.objects.filter(condition, merged_into__isnull=True, pk__in=visible)
        .annotate(
            identity_match=Case(
                When(pk__in=identity_ids, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("identity_match", "display_name", "id")[: _clamp(limit)]
    )


# --- index upkeep (SQLite) ---------------------------------------------------------------------

# The migrations that created the SQLite search tables and their triggers.
_SQLITE_SEARCH_MIGRATIONS = (
    "guichet.customers.migrations.0002_search",
    "guichet.conversations.migrations.0002_search",
)
_TRIGGER_NAME = re.compile(r"CREATE TRIGGER (\w+)")
_FTS_TABLE = re.compile(r"CREATE VIRTUAL TABLE (\w+)")


def search_index_ensure(*, using: str = "default") -> list[str]:
    """Recreate missing SQLite search triggers and rebuild the tables they feed.

    SQLite migrations that alter a model rebuild its table (create, copy, drop, rename), and
    dropping a table drops its triggers: without this the index would silently go stale. Run
    after every `migrate` (post_migrate). Returns the triggers it recreated.
    """
    db = connections[using]
    if db.vendor != "sqlite":
        return []
    with db.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        existing = {row[0] for row in cursor.fetchall()}
        recreated: list[str] = []
        for module_name in _SQLITE_SEARCH_MIGRATIONS:
            statements: list[str] = importlib.import_module(module_name).SQLITE_FORWARD
            tables = [m.group(1) for s in statements if (m := _FTS_TABLE.match(s))]
            if not all(table in existing for table in tables):
                continue  # that migration is not applied
            missing = [
                s
                for s in statements
                if (m := _TRIGGER_NAME.match(s)) and m.group(1) not in existing
            ]
            for statement in missing:
                cursor.execute(statement)
                recreated.append(_TRIGGER_NAME.match(statement).group(1))  # type: ignore[union-attr]
            if missing:
                for statement in statements:
                    if "'rebuild'" in statement:
                        cursor.execute(statement)
    return recreated


def on_post_migrate(*, using: str = "default", **kwargs: Any) -> None:
    search_index_ensure(using=using)
