"""Search support for customers, and the accent-folding function shared by all search columns.

PostgreSQL: the `unaccent` and `pg_trgm` extensions (both "trusted" since PostgreSQL 13, so a
database owner may create them), an IMMUTABLE wrapper `guichet_unaccent(text)` usable in indexes
and generated columns, and a trigram GIN index on the accent-folded display name.
SQLite: an FTS5 table over the display name, kept in sync by triggers.
The reverse keeps the extensions: other objects may use them.
"""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE customers_customer_fts USING fts5(
        display_name, content='customers_customer', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3')""",
    """CREATE TRIGGER customers_customer_fts_ai AFTER INSERT ON customers_customer BEGIN
        INSERT INTO customers_customer_fts(rowid, display_name) VALUES (new.id, new.display_name);
    END""",
    """CREATE TRIGGER customers_customer_fts_ad AFTER DELETE ON customers_customer BEGIN
        INSERT INTO customers_customer_fts(customers_customer_fts, rowid, display_name)
        VALUES ('delete', old.id, old.display_name);
    END""",
    """CREATE TRIGGER customers_customer_fts_au AFTER UPDATE OF display_name ON customers_customer
    WHEN old.display_name IS NOT new.display_name BEGIN
        INSERT INTO customers_customer_fts(customers_customer_fts, rowid, display_name)
        VALUES ('delete', old.id, old.display_name);
        INSERT INTO customers_customer_fts(rowid, display_name) VALUES (new.id, new.display_name);
    END""",
    "INSERT INTO customers_customer_fts(customers_customer_fts) VALUES ('rebuild')",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS customers_customer_fts_au",
    "DROP TRIGGER IF EXISTS customers_customer_fts_ad",
    "DROP TRIGGER IF EXISTS customers_customer_fts_ai",
    "DROP TABLE IF EXISTS customers_customer_fts",
]

POSTGRESQL_INDEX = (
    "CREATE INDEX customers_customer_name_trgm ON customers_customer "
    "USING gin (guichet_unaccent(display_name) gin_trgm_ops)"
)
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS customers_customer_name_trgm",
    "DROP FUNCTION IF EXISTS guichet_unaccent(text)",
]


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement, params=None)
    elif vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent", params=None)
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
        with schema_editor.connection.cursor() as cursor:
            # The schema the extension lives in (usually public), already quoted if need be.
            cursor.execute(
                "SELECT extnamespace::regnamespace::text FROM pg_extension "
                "WHERE extname = 'unaccent'"
            )
            schema = cursor.fetchone()[0]
        # unaccent() is only STABLE (its dictionary could change); naming the dictionary and
        # schema explicitly makes the wrapper safe to declare IMMUTABLE, which indexes require.
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION guichet_unaccent(text) RETURNS text "
            "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT "
            f"AS $$ SELECT {schema}.unaccent('{schema}.unaccent'::regdictionary, $1) $$",
            params=None,
        )
        schema_editor.execute(POSTGRESQL_INDEX, params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
