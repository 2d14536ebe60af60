"""Full-text search over message texts and conversation subjects (see conversations/search.py).

PostgreSQL: a stored generated tsvector column (French, weighted A, plus English; see _vector) on
messages and on conversations, each with a GIN index. Adding a stored column rewrites the table
once.
SQLite: FTS5 tables (Porter stemming over unicode61 without diacritics) with external content,
kept in sync by triggers. `guichet_unaccent` comes from customers 0002.
The models do not declare these columns; only raw SQL in conversations/search.py reads them.
"""

from django.db import migrations


def _vector(column: str) -> str:
    # Three parts: French without accents (any spelling matches), French as written (the
    # stemmer needs the accents to fold "bloquée" and "bloqué" together) and English.
    text = f"coalesce({column}, '')"
    folded = f"guichet_unaccent({text})"
    return (
        f"setweight(to_tsvector('french'::regconfig, {folded}), 'A') || "
        f"setweight(to_tsvector('french'::regconfig, {text}), 'A') || "
        f"to_tsvector('english'::regconfig, {folded})"
    )


POSTGRESQL_FORWARD = [
    "ALTER TABLE conversations_message ADD COLUMN search_vector tsvector "
    f"GENERATED ALWAYS AS ({_vector('text')}) STORED",
    "CREATE INDEX conversations_message_search ON conversations_message USING gin (search_vector)",
    "ALTER TABLE conversations_conversation ADD COLUMN search_vector tsvector "
    f"GENERATED ALWAYS AS ({_vector('subject')}) STORED",
    "CREATE INDEX conversations_conversation_search ON conversations_conversation "
    "USING gin (search_vector)",
]
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS conversations_conversation_search",
    "ALTER TABLE conversations_conversation DROP COLUMN IF EXISTS search_vector",
    "DROP INDEX IF EXISTS conversations_message_search",
    "ALTER TABLE conversations_message DROP COLUMN IF EXISTS search_vector",
]

TOKENIZER = "tokenize='porter unicode61 remove_diacritics 2'"
SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE conversations_message_fts USING fts5("
    f"text, content='conversations_message', content_rowid='id', {TOKENIZER})",
    """CREATE TRIGGER conversations_message_fts_ai AFTER INSERT ON conversations_message BEGIN
        INSERT INTO conversations_message_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER conversations_message_fts_ad AFTER DELETE ON conversations_message BEGIN
        INSERT INTO conversations_message_fts(conversations_message_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER conversations_message_fts_au AFTER UPDATE OF text ON conversations_message
    WHEN old.text IS NOT new.text BEGIN
        INSERT INTO conversations_message_fts(conversations_message_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
        INSERT INTO conversations_message_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    "CREATE VIRTUAL TABLE conversations_conversation_fts USING fts5("
    f"subject, content='conversations_conversation', content_rowid='id', {TOKENIZER})",
    """CREATE TRIGGER conversations_conversation_fts_ai AFTER INSERT ON conversations_conversation
    BEGIN
        INSERT INTO conversations_conversation_fts(rowid, subject) VALUES (new.id, new.subject);
    END""",
    """CREATE TRIGGER conversations_conversation_fts_ad AFTER DELETE ON conversations_conversation
    BEGIN
        INSERT INTO conversations_conversation_fts(conversations_conversation_fts, rowid, subject)
        VALUES ('delete', old.id, old.subject);
    END""",
    """CREATE TRIGGER conversations_conversation_fts_au
    AFTER UPDATE OF subject ON conversations_conversation
    WHEN old.subject IS NOT new.subject BEGIN
        INSERT INTO conversations_conversation_fts(conversations_conversation_fts, rowid, subject)
        VALUES ('delete', old.id, old.subject);
        INSERT INTO conversations_conversation_fts(rowid, subject) VALUES (new.id, new.subject);
    END""",
    "INSERT INTO conversations_message_fts(conversations_message_fts) VALUES ('rebuild')",
    "INSERT INTO conversations_conversation_fts(conversations_conversation_fts) VALUES ('rebuild')",
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}"
    for table in ("conversations_conversation", "conversations_message")
    for suffix in ("au", "ad", "ai")
] + [
    "DROP TABLE IF EXISTS conversations_conversation_fts",
    "DROP TABLE IF EXISTS conversations_message_fts",
]


def _run(statements_by_vendor):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0001_initial"),
        ("customers", "0002_search"),
    ]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
            elidable=False,
        )
    ]
