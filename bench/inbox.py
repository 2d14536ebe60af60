#!/usr/bin/env python
"""Inbox, conversation and search pages under load, on whatever database DATABASE_URL names.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guichet_bench \\
        .venv/bin/python bench/inbox.py --n 100000 --reuse

1. fills the database with N realistic conversations (bulk inserts; see bench/fill.py), unless
   it already holds them;
2. counts the SQL queries of each page in-process (inbox at 10 and 50 rows per page);
3. starts gunicorn with the project's WSGI app (2 sync workers, as `manage.py serve`), logs in
   one session per concurrent client through the real login form, and sends at least --requests
   GETs per page and concurrency level from threads, timing each one;
4. prints a table: page x clients -> p50/p95/p99 ms, req/s, errors.

Server, database and load generator share the same machine: the figures include that contention.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

INBOX_P99_TARGET_MS = 150.0
SEARCH_P95_TARGET_MS = 200.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/inbox.py",
        description="Fill the configured database (DATABASE_URL, else SQLite in DATA_DIR) with N "
        "conversations and measure the inbox, conversation and search pages over HTTP "
        "(gunicorn, loopback) at several concurrency levels.",
    )
    parser.add_argument(
        "--n",
        type=int,
        default=100_000,
        help="conversations the database should hold (default 100000)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=200,
        help="requests per page and concurrency level (default 200)",
    )
    parser.add_argument(
        "--clients", default="1,8,32", help="comma-separated concurrency levels (default 1,8,32)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="do not fill when the database already holds >= N conversations",
    )
    parser.add_argument("--skip-fill", action="store_true", help="never fill; measure as is")
    parser.add_argument("--fill-only", action="store_true", help="fill, then stop")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--pages",
        default="inbox,conversation,search",
        help="pages to measure (default inbox,conversation,search)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the plan (EXPLAIN ANALYZE on PostgreSQL) of each page's slowest queries",
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        args.client_levels = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error("--clients takes integers separated by commas, e.g. 1,8,32")
    if not args.client_levels or min(args.client_levels) < 1 or args.n < 1 or args.requests < 1:
        parser.error("--n, --requests and --clients must be positive")
    args.page_set = {p.strip() for p in args.pages.split(",") if p.strip()}
    unknown = args.page_set - {"inbox", "conversation", "search"}
    if unknown:
        parser.error(f"unknown page(s): {', '.join(sorted(unknown))}")
    return args


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def database_description() -> str:
    from django.conf import settings
    from django.db import connection

    name = settings.DATABASES["default"]["NAME"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
            cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            size = cursor.fetchone()[0]
        return f"PostgreSQL {version}, database {name} ({size})"
    if connection.vendor == "sqlite":
        import sqlite3

        path = Path(str(name))
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
        return (
            f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL), {name} "
            f"({size / 1024 / 1024:.0f} MB)"
        )
    return f"{connection.vendor} {name}"


def search_index_present() -> bool:
    """The full-text search column (PostgreSQL) or FTS5 table (SQLite) exists."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_name = "
                "'conversations_message' AND column_name = 'search_vector'"
            )
            return cursor.fetchone() is not None
        if connection.vendor == "sqlite":
            return "conversations_message_fts" in connection.introspection.table_names(cursor)
    return False


def search_terms(seed: int, count: int = 8) -> list[str]:
    """Two-word searches: a fixed list plus adjacent word pairs drawn from the corpus."""
    from bench.corpus import SEARCH_PAIRS, load_corpus

    corpus = load_corpus()
    rng = random.Random(seed)
    drawn: list[str] = []
    word = re.compile(r"^[^\W\d_]{5,}$")
    for _ in range(2000):
        if len(drawn) >= count:
            break
        language = "fr" if rng.random() < 0.6 else "en"
        words = rng.choice(corpus.sentences(language)).split()
        for a, b in pairwise(words):
            a, b = a.strip(".,;:?!«»\"'()").lower(), b.strip(".,;:?!«»\"'()").lower()
            if word.match(a) and word.match(b) and f"{a} {b}" not in drawn:
                drawn.append(f"{a} {b}")
                break
    return SEARCH_PAIRS + drawn


def build_pages(args: argparse.Namespace, agent: Any, supervisor: Any) -> list:
    from bench.measure import Page
    from guichet.conversations.selectors import visible_conversations

    pages = []
    if "inbox" in args.page_set:
        pages.append(Page("inbox /?view=teams (agent)", agent.username, ["/?view=teams"]))
        pages.append(Page("inbox /?view=all (supervisor)", supervisor.username, ["/?view=all"]))
    if "conversation" in args.page_set:
        numbers = list(
            visible_conversations(user=agent).order_by("?").values_list("number", flat=True)[:1000]
        )
        pages.append(
            Page(
                "conversation /c/<n>/ (agent)",
                agent.username,
                [f"/c/{n}/" for n in numbers] or ["/c/0/"],
            )
        )
    if "search" in args.page_set:
        terms = search_terms(args.seed)
        pages.append(
            Page(
                "search two words (agent)",
                agent.username,
                [f"/search/?q={quote_plus(t)}" for t in terms],
            )
        )
    return pages


def query_profile(pages: list, users: dict[str, Any], explain: bool) -> list[str]:
    """SQL queries of each page, in-process through the test client (constant per page?)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    lines = ["SQL queries per page (in-process, django.test.Client; time is SQL time only):"]
    plans: list[str] = []
    cases: list[tuple[str, str, str, int | None]] = []
    for page in pages:
        if page.name.startswith("inbox"):
            for rows in (10, 50):
                cases.append((f"{page.name}, {rows} rows", page.username, page.paths[0], rows))
        else:
            cases.append((page.name, page.username, page.paths[0], None))
    for label, username, path, size in cases:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(users[username])
        overrides: dict[str, Any] = {"INBOX_PAGE_SIZE": size} if size else {}
        try:
            with override_settings(**overrides):
                client.get(path)  # warm caches (templates, translations)
                with CaptureQueriesContext(connection) as captured:
                    response = client.get(path)
        except Exception as exc:
            lines.append(f"  {label:<44} {path}: {type(exc).__name__}: {exc}"[:160])
            continue
        timed = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
        total = sum(t for t, _sql in timed)
        slowest = max(timed, default=(0.0, ""))
        lines.append(
            f"  {label:<44} HTTP {response.status_code}  {len(timed):>3} queries  "
            f"{total:>7.1f} ms SQL  slowest {slowest[0]:>6.1f} ms"
        )
        if explain:
            for ms, sql in sorted(timed, reverse=True)[:2]:
                plans.append(f"--- {label}: {ms:.1f} ms\n{sql}\n{_plan(sql)}")
    if plans:
        lines.append("")
        lines.append("Plans of the slowest queries:")
        lines.extend(plans)
    return lines


def _plan(sql: str) -> str:
    from django.db import connection

    if sql.startswith("DECLARE "):  # a server-side cursor (QuerySet.iterator())
        sql = sql.split(" FOR ", 1)[1]
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS) "
        if connection.vendor == "postgresql"
        else "EXPLAIN QUERY PLAN "
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(prefix + sql)
            return "\n".join("  " + " | ".join(str(c) for c in row) for row in cursor.fetchall())
    except Exception as exc:
        return f"  (no plan: {exc})"


def measure(args: argparse.Namespace, pages: list, out: Any) -> list:
    from bench.fill import PASSWORD
    from bench.measure import free_port, gunicorn, per_path, run, sessions, table

    levels = args.client_levels
    port = args.port or free_port()
    results = []
    out.write(
        f"\nHTTP: gunicorn config.wsgi:application, {args.workers} sync workers, "
        f"127.0.0.1:{port}; one logged-in session per client; httpx clients in threads; "
        f"{args.requests} requests per row after one warm-up request per client.\n"
    )
    out.flush()
    with gunicorn(port, workers=args.workers) as base:
        usernames = sorted({p.username for p in pages})
        cookies = sessions(base, usernames, PASSWORD, max(levels))
        for page in pages:
            for clients in levels:
                result = run(
                    base,
                    page,
                    cookies[page.username],
                    clients=clients,
                    requests=max(args.requests, clients),
                )
                results.append(result)
                out.write(table([result]).splitlines()[-1] + "\n")
                out.flush()
    out.write("\n" + table(results) + "\n")
    for result in results:
        if result.page.startswith("search") and result.clients == levels[0]:
            out.write(f"\nsearch, median per query with {result.clients} client(s):\n")
            out.write(per_path(result) + "\n")
    return results


def verdict(results: list, out: Any) -> None:
    def find(prefix: str, clients: int) -> Any:
        return next(
            (r for r in results if r.page.startswith(prefix) and r.clients == clients), None
        )

    from django.db import connection

    out.write(
        "\nTargets (set for PostgreSQL at 100,000 conversations on 2 cores; this run: "
        f"{connection.vendor}):\n"
    )
    inbox = find("inbox /?view=teams", 1)
    if inbox is not None:
        ok = inbox.p99 <= INBOX_P99_TARGET_MS and not inbox.errors
        out.write(
            f"  inbox p99 with 1 client: {inbox.p99:.1f} ms (target <= "
            f"{INBOX_P99_TARGET_MS:.0f} ms): {'met' if ok else 'MISSED'}\n"
        )
    for clients in (1, 8, 32):
        search = find("search", clients)
        if search is not None:
            ok = search.p95 <= SEARCH_P95_TARGET_MS and not search.errors
            out.write(
                f"  search p95 with {clients} client(s): {search.p95:.1f} ms (target <= "
                f"{SEARCH_P95_TARGET_MS:.0f} ms): {'met' if ok else 'MISSED'}\n"
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _setup_django()
    from bench.fill import AGENT_USERNAME, PASSWORD, SUPERVISOR_USERNAME, fill, reference_data
    from bench.measure import machine
    from guichet.accounts.models import User
    from guichet.conversations.models import Conversation, Message

    out = sys.stdout
    out.write("Guichet benchmark: inbox, conversation and search pages\n")
    for line in machine():
        out.write(line + "\n")
    out.write(
        "note: server (gunicorn), database and load generator share these cores with "
        "whatever else runs on the machine (load average above).\n"
    )
    out.write(f"database: {database_description()}\n")
    out.write(f"N requested: {args.n}\n")
    out.flush()

    existing = Conversation.objects.count()
    if args.skip_fill:
        out.write(f"fill: skipped (--skip-fill); {existing} conversations present\n")
    elif args.reuse and existing >= args.n:
        out.write(f"fill: skipped (--reuse, {existing} conversations >= {args.n})\n")
    else:
        fill(args.n, seed=args.seed, progress=not args.no_progress, out=out)
    reference_data()
    if args.fill_only:
        return 0

    search_ready = search_index_present()
    conversations = Conversation.objects.count()
    active = Conversation.objects.exclude(status__in=["resolved", "closed"]).count()
    out.write(
        f"data: {conversations} conversations ({active} active), "
        f"{Message.objects.count()} messages; {database_description()}\n"
    )
    if not search_ready:
        out.write("note: no full-text search column or table found in this database yet.\n")
    out.write(
        f"logins: {AGENT_USERNAME} (one team) and {SUPERVISOR_USERNAME} (all teams), "
        f"password {PASSWORD!r}\n\n"
    )
    out.flush()

    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=REPO, check=True
    )
    users = {
        u.username: u
        for u in User.objects.filter(username__in=[AGENT_USERNAME, SUPERVISOR_USERNAME])
    }
    pages = build_pages(args, users[AGENT_USERNAME], users[SUPERVISOR_USERNAME])
    for line in query_profile(pages, users, args.explain):
        out.write(line + "\n")
    out.flush()
    started = time.perf_counter()
    results = measure(args, pages, out)
    out.write(f"\nmeasured in {time.perf_counter() - started:.0f} s\n")
    verdict(results, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
