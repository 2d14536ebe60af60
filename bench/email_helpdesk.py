"""django-helpdesk 2.6.1's email import (`get_email`, `local` mailbox), for bench/email_ingest.py.

It is installed in a virtual environment of its own under the run's temporary folder (never a
dependency of Guichet): `python -m venv`, then `pip install django-helpdesk==2.6.1 pinax-teams
psycopg[binary]` (its teams mode is on by default and needs pinax-teams, see PEERS.md). A minimal
project is written next to it, configured per its installation docs, with a queue whose mailbox
type is `local` reading a folder of `.eml` files. Mail it would send goes to Django's dummy
backend. The same generated mail as Guichet's (no real corpus: it opens files as UTF-8 text and
one 8-bit Windows-1252 message stops its whole import, PEERS.md) runs in the same two phases:
originals, then replies whose In-Reply-To names the original (how it threads). Guichet's
import_mail is measured on the very same messages right after, for a like-for-like ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.email_messages import DOMAIN, Mail, generate, render_reply

HELPDESK_PACKAGES = ["django-helpdesk==2.6.1", "pinax-teams", "psycopg[binary]"]

SETTINGS_TEMPLATE = """\
import os
BASE_DIR = {base!r}
SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "account",
    "pinax.invitations",
    "pinax.teams",
    "rest_framework",
    "reversion",
    "helpdesk",
]
SITE_ID = 1
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "benchsite.urls"
TEMPLATES = [{{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {{"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]}},
}}]
DATABASES = {{"default": {database}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "Europe/Paris"
STATIC_URL = "/static/"
MEDIA_ROOT = os.path.join(BASE_DIR, "media")
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@{domain}"
LOGIN_URL = "/login/"
"""

URLS = """\
from django.urls import include, path
urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
"""

SETUP_QUEUE = """\
from helpdesk.models import Queue
Queue.objects.update_or_create(slug="bench", defaults=dict(
    title="Bench", email_address="helpdesk@{domain}", allow_email_submission=True,
    email_box_type="local", email_box_local_dir={folder!r}, email_box_interval=0,
    email_box_last_check=None))
"""

COUNTS = """\
import json
from helpdesk.models import FollowUp, Ticket
ids = json.load(open({pairs!r}))
threaded = 0
for reply, original in ids:
    r = FollowUp.objects.filter(message_id="<%s>" % reply).values_list("ticket_id", flat=True)
    o = FollowUp.objects.filter(message_id="<%s>" % original).values_list("ticket_id", flat=True)
    threaded += bool(r and o and r[0] == o[0])
print(json.dumps(dict(tickets=Ticket.objects.count(), followups=FollowUp.objects.count(),
    threaded=threaded)))
"""


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 1800) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode:
        raise RuntimeError(
            f"{' '.join(command[:4])}… exited with {done.returncode}: "
            f"{(done.stdout + done.stderr)[-3000:]}"
        )
    return done.stdout


def _database(vendor: str, explicit: str, root: Path) -> tuple[str, str]:
    """(settings literal, description). PostgreSQL helpdesk_bench (recreated) or SQLite."""
    from django.conf import settings

    if explicit or vendor == "postgresql":
        import psycopg

        if explicit:
            from urllib.parse import urlparse

            url = urlparse(explicit)
            host, port, user = url.hostname, url.port or 5432, url.username or "postgres"
            name = url.path.lstrip("/") or "helpdesk_bench"
            password = url.password or ""
        else:
            ours = settings.DATABASES["default"]
            host, port = ours["HOST"] or "127.0.0.1", int(ours["PORT"] or 5432)
            user, password, name = ours["USER"], ours.get("PASSWORD") or "", "helpdesk_bench"
        with psycopg.connect(
            host=host, port=port, user=user, password=password, dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        literal = repr(
            {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": name,
                "HOST": host,
                "PORT": port,
                "USER": user,
                "PASSWORD": password,
            }
        )
        return literal, f"PostgreSQL database {name} (recreated)"
    path = root / "helpdesk.sqlite3"
    literal = repr(
        {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"},
        }
    )
    return literal, f"SQLite {path} (WAL, synchronous=FULL, as Guichet's)"


def install(root: Path, out: Any) -> Path:
    venv = root / "venv"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            *HELPDESK_PACKAGES,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"pip install failed: {(done.stdout + done.stderr)[-3000:]}")
    versions = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True
    ).stdout
    wanted = {"django", "django-helpdesk", "pinax-teams", "psycopg"}
    listed = ", ".join(
        f"{p['name']} {p['version']}" for p in json.loads(versions) if p["name"].lower() in wanted
    )
    out.write(f"  installed in {time.perf_counter() - started:.0f} s: {listed}\n")
    return python


def run_get_email(python: Path, project: Path, env: dict[str, str]) -> tuple[float, float]:
    """Time one `get_email` run; (seconds, peak RSS MB: the process's own VmHWM)."""
    from bench.email_ingest import peak_command, status_hwm_mb

    status = project / "status.txt"
    command = peak_command(str(python), ["manage.py", "get_email", "--quiet"], status)
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"get_email failed: {(done.stdout + done.stderr)[-2000:]}")
    return seconds, status_hwm_mb(status)


def write_eml(folder: Path, mails: list[Mail]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for mail in mails:
        (folder / f"{mail.index:07d}.eml").write_bytes(mail.raw)


def run_helpdesk(args: Any, workdir: Path, tag: str, vendor: str, out: Any) -> float | None:
    """Measure django-helpdesk; returns its messages/s (None when it could not be measured)."""
    from bench.email_ingest import loadavg, report, run_import

    root = workdir / "helpdesk"
    project = root / "project"
    (project / "benchsite").mkdir(parents=True)
    out.write(f"\ndjango-helpdesk: installing {' '.join(HELPDESK_PACKAGES)} in {root}/venv\n")
    out.flush()
    try:
        python = install(root, out)
    except Exception as exc:
        out.write(f"  django-helpdesk could not be installed; Guichet measured alone.\n  {exc}\n")
        return None
    database, described = _database(vendor, args.helpdesk_db, root)
    folder = root / "maildir"
    folder.mkdir()
    (project / "benchsite" / "__init__.py").write_text("")
    (project / "benchsite" / "settings.py").write_text(
        SETTINGS_TEMPLATE.format(base=str(project), database=database, domain=DOMAIN)
    )
    (project / "benchsite" / "urls.py").write_text(URLS)
    (project / "manage.py").write_text(
        "import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'benchsite.settings')\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n"
    )
    dropped = ("DATABASE_URL", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PATH"] = f"{python.parent}:{env.get('PATH', '')}"
    _run([str(python), "manage.py", "migrate", "-v", "0"], project, env)
    _run(
        [
            str(python),
            "manage.py",
            "shell",
            "-c",
            SETUP_QUEUE.format(domain=DOMAIN, folder=str(folder)),
        ],
        project,
        env,
    )
    stream = generate(
        args.helpdesk_n, seed=args.seed + 1, to=f"helpdesk@{DOMAIN}", tag=f"hd{tag}", real=[]
    )
    by_index = {m.index: m for m in stream}
    originals = [m for m in stream if m.kind != "reply"]
    replies = [m for m in stream if m.kind == "reply"]
    for reply in replies:
        original = by_index[reply.original]
        reply.raw = render_reply(
            reply,
            original,
            f"helpdesk@{DOMAIN}",
            in_reply_to=original.message_id,
            references=[original.message_id],
        )
    out.write(
        f"  database: {described}; {len(originals)} new + {len(replies)} replies (generated "
        f"only), load average {loadavg()}\n"
    )
    out.flush()
    phases = []
    peak = 0.0
    for phase, mails in (("originals", originals), ("replies", replies)):
        write_eml(folder, mails)
        seconds, rss = run_get_email(python, project, env)
        phases.append((phase, len(mails), seconds))
        peak = max(peak, rss)
    left = len(list(folder.iterdir()))
    pairs = root / "pairs.json"
    pairs.write_text(json.dumps([[r.message_id, by_index[r.original].message_id] for r in replies]))
    counts = json.loads(
        _run(
            [str(python), "manage.py", "shell", "-c", COUNTS.format(pairs=str(pairs))], project, env
        )
        .strip()
        .splitlines()[-1]
    )
    total = sum(seconds for _p, _n, seconds in phases)
    rate = len(stream) / total
    out.write(
        f"\n[django-helpdesk get_email] {len(stream)} messages in {total:.1f} s: "
        f"{rate:.1f} messages/s\n"
    )
    for phase, count, seconds in phases:
        out.write(f"  phase {phase}: {count} in {seconds:.1f} s ({count / seconds:.1f}/s)\n")
    out.write(
        f"  peak RSS of the get_email process (its VmHWM): {peak:.0f} MB\n"
        f"  tickets {counts['tickets']}, follow-ups {counts['followups']}; files left "
        f"unprocessed in the folder: {left}\n"
        f"  replies joining their original's ticket: {counts['threaded']}/{len(replies)}\n"
        f"  load average after: {loadavg()}\n"
    )
    out.write("\nGuichet import_mail on the same generated messages (like for like):\n")
    out.flush()
    same = generate(
        args.helpdesk_n, seed=args.seed + 1, to=f"import-{tag}x@{DOMAIN}", tag=f"gx{tag}", real=[]
    )
    result = run_import(same, workdir / "same", f"{tag}x")
    result.path = "import (helpdesk's messages)"
    report(result, out)
    out.write(f"  ratio Guichet / django-helpdesk, same messages: {result.rate / rate:.1f}x\n")
    return rate
