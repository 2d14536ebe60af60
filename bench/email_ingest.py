#!/usr/bin/env python
"""Email ingest throughput: N messages through the SMTP server and through `import_mail`.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guichet_bench_email \\
        .venv/bin/python bench/email_ingest.py --n 10000 --helpdesk

The stream (bench/email_messages.py): real corpus messages (mimekit/SpamAssassin edge cases and the
SpamAssassin public corpus, read from their tar.gz; skipped when absent) and generated French and
English mail with PDF/PNG attachments, about 15% of it replies. Each path gets a mailbox of its
own (new addresses each run), and runs in two phases: first the originals and the corpus, then the
replies, written once the originals are ingested so that they answer the acknowledgement Guichet
sent (In-Reply-To its signed Message-ID), as a customer's mail client would.

* smtp: `manage.py smtp_server` as a subprocess on a free loopback port; --connections smtplib
  clients in threads. Rates: accepted (250 answered: stored and committed) and ingested (every
  stored row processed, polled in the database). Peak RSS: the server's VmHWM.
* import: the messages in a temporary Maildir, `manage.py import_mail DIR --mailbox ADDR` as a
  subprocess, timed from start to exit (Django start-up included). Peak RSS: its own VmHWM.
* --helpdesk: django-helpdesk 2.6.1 in its own virtual environment (bench/email_helpdesk.py),
  `get_email` on the same generated messages in a `local` mailbox folder.

No mail leaves the machine: corpus messages go only to our loopback server or a temporary
folder; acknowledgements stay in the outbox (TASKS_BACKEND=database, no worker runs; EMAIL_HOST
points at a closed loopback port for good measure).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import resource
import secrets
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.email_messages import DOMAIN, Mail, expected_keys, generate, render_reply  # noqa: E402

IMPORT_TARGET = 200.0  # messages/s through import_mail, PostgreSQL, 2 cores
HELPDESK_FACTOR = 10.0
SAFE_ENV = {"TASKS_BACKEND": "database", "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": "9"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/email_ingest.py",
        description="Ingest N messages (real corpus + generated French/English mail) through "
        "Guichet's SMTP server and import_mail on the configured database (DATABASE_URL, else "
        "SQLite in DATA_DIR); print messages/s, peak memory and counts. --helpdesk also "
        "measures django-helpdesk's get_email on the same generated mail.",
    )
    parser.add_argument("--n", type=int, default=10_000, help="messages per path (10000)")
    parser.add_argument("--paths", default="smtp,import", help="paths to measure (smtp,import)")
    parser.add_argument(
        "--helpdesk", action="store_true", help="also measure django-helpdesk 2.6.1 (own venv)"
    )
    parser.add_argument(
        "--helpdesk-n", type=int, default=2000, help="generated messages for django-helpdesk (2000)"
    )
    parser.add_argument(
        "--helpdesk-db",
        default="",
        help="django-helpdesk database URL: postgresql://... (default: PostgreSQL database "
        "helpdesk_bench on the same server when Guichet runs on PostgreSQL, else SQLite)",
    )
    parser.add_argument(
        "--connections", type=int, default=4, help="concurrent SMTP connections (4)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="import_mail --processes (helper processes for triage's intent model; default: "
        "import_mail's own, 0)",
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folders (printed) afterwards"
    )
    args = parser.parse_args(argv)
    args.path_set = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = set(args.path_set) - {"smtp", "import"}
    if unknown:
        parser.error(f"unknown path(s): {', '.join(sorted(unknown))}")
    if args.n < 1 or args.connections < 1 or args.helpdesk_n < 1:
        parser.error("--n, --connections and --helpdesk-n must be positive")
    return args


def setup_django() -> None:
    os.environ.update(SAFE_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def children_cpu_seconds() -> float:
    """User + system CPU of the waited-for child processes, and theirs (import_mail's helpers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class PathResult:
    path: str
    sent: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # SMTP answer -> count
    seconds: float = 0.0  # until everything is ingested
    phases: list[tuple[str, int, float]] = field(default_factory=list)
    accept_seconds: float = 0.0  # SMTP: until the last 250
    peak_rss_mb: float = 0.0
    helpers: int = 0  # import_mail's helper processes (triage), at most, per phase
    cpu_seconds: float = 0.0  # user + system of import_mail and its helpers (not PostgreSQL's)
    helper_peak_rss_mb: float = 0.0  # the largest helper's
    states: Counter = field(default_factory=Counter)
    rows: int = 0
    duplicates_counted: int = 0
    expected_rows: int = 0
    expected_duplicates: int = 0
    replies: int = 0
    replies_threaded: int = 0
    replies_to_ack: int = 0  # replies answering an acknowledgement (signed Message-ID)
    replies_to_ack_threaded: int = 0
    command_output: list[str] = field(default_factory=list)
    load_after: str = ""

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def lost(self) -> int:
        refused = sum(self.refused.values())
        return self.expected_rows - refused - self.rows


# --- mailboxes, phases ---------------------------------------------------------------------------


def make_mailbox(path: str, tag: str) -> Any:
    from guichet.channels.email.services import mailbox_create

    return mailbox_create(address=f"{path}-{tag}@{DOMAIN}", name=f"Bench {path}")


def render_replies(stream: list[Mail], mailbox: Any) -> list[Mail]:
    """Fill in each reply's bytes: answering Guichet's acknowledgement when there is one."""
    from guichet.channels.email.models import InboundEmail, OutboundEmail

    by_index = {m.index: m for m in stream}
    replies = [m for m in stream if m.kind == "reply"]
    wanted = {by_index[r.original].message_id for r in replies if r.original is not None}
    rows = (
        InboundEmail.objects.filter(mailbox=mailbox, message_id_header__in=wanted)
        .select_related("message")
        .only("message_id_header", "message__conversation_id")
    )
    conversation_of = {r.message_id_header: r.message.conversation_id for r in rows if r.message}
    acks: dict[int, str] = {}
    for conversation_id, number, header in OutboundEmail.objects.filter(
        conversation_id__in=set(conversation_of.values()), kind=OutboundEmail.Kind.ACKNOWLEDGEMENT
    ).values_list("conversation_id", "conversation__number", "message_id_header"):
        acks[conversation_id] = (number, header.strip("<>"))
    for reply in replies:
        original = by_index[reply.original]
        conversation = conversation_of.get(original.message_id)
        number, ack = acks.get(conversation, (None, ""))
        reply.answers_ack = bool(ack)
        reply.raw = render_reply(
            reply,
            original,
            mailbox.address,
            in_reply_to=ack or original.message_id,
            references=[original.message_id] + ([ack] if ack else []),
            number=number,
        )
    return replies


def tally(result: PathResult, stream: list[Mail], mailbox: Any) -> None:
    """Counts from the database, and whether every reply joined its original's conversation."""
    from django.db.models import Count, Sum

    from guichet.channels.email.models import InboundEmail

    rows = InboundEmail.objects.filter(mailbox=mailbox)
    result.states = Counter(dict(rows.values_list("state").annotate(c=Count("pk"))))
    result.rows = sum(result.states.values())
    result.duplicates_counted = rows.aggregate(d=Sum("duplicates"))["d"] or 0
    distinct, duplicates = expected_keys([m.raw for m in stream])
    result.expected_rows = distinct
    result.expected_duplicates = len(duplicates)
    by_index = {m.index: m for m in stream}
    replies = [m for m in stream if m.kind == "reply"]
    ids = {m.message_id for m in replies} | {by_index[m.original].message_id for m in replies}
    conversation = dict(
        rows.filter(message_id_header__in=ids, message__isnull=False).values_list(
            "message_id_header", "message__conversation_id"
        )
    )
    result.replies = len(replies)
    threaded = [
        r
        for r in replies
        if conversation.get(r.message_id) is not None
        and conversation.get(r.message_id) == conversation.get(by_index[r.original].message_id)
    ]
    result.replies_threaded = len(threaded)
    result.replies_to_ack = sum(1 for r in replies if r.answers_ack)
    result.replies_to_ack_threaded = sum(1 for r in threaded if r.answers_ack)


# --- import_mail ---------------------------------------------------------------------------------


def write_maildir(folder: Path, mails: list[Mail]) -> Path:
    for part in ("cur", "new", "tmp"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    for mail in mails:
        (folder / "new" / f"{mail.index:07d}.bench.{DOMAIN}").write_bytes(mail.raw)
    return folder


def import_command(
    folder: Path, mailbox: str, *, in_process: bool, processes: int | None = None
) -> tuple[str, float, list[float]]:
    """Run import_mail; returns (its summary line, peak RSS in MB of the process doing it, and
    of each of its helper processes)."""
    extra = {} if processes is None else {"processes": processes}
    if in_process:
        from django.core.management import call_command

        out = io.StringIO()
        call_command(
            "import_mail",
            str(folder),
            mailbox=mailbox,
            no_progress=True,
            stdout=out,
            stderr=out,
            **extra,
        )
        return out.getvalue().strip(), self_peak_mb(), []
    with tempfile.TemporaryDirectory() as scratch:
        status = Path(scratch) / "status"
        argv = ["manage.py", "import_mail", str(folder), "--mailbox", mailbox, "--no-progress"]
        if processes is not None:
            argv += ["--processes", str(processes)]
        command = peak_command(sys.executable, argv, status)
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **SAFE_ENV},
        )
        watch = ChildrenWatch(process.pid)
        watch.start()
        stdout, stderr = process.communicate()
        watch.stop()
        text = (stdout + stderr).strip()
        if process.returncode:
            raise RuntimeError(f"import_mail exited with {process.returncode}: {text[-2000:]}")
        return text, status_hwm_mb(status), list(watch.peaks.values())


class ChildrenWatch(threading.Thread):
    """Peak RSS (VmHWM, polled) of each process below `pid`: import_mail's helper processes.

    A helper's VmHWM is its own (exec starts a new address space); the last value read before it
    exits is its peak, give or take what it grew in the last poll interval."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peaks: dict[int, float] = {}
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            for child in descendants(self.pid):
                try:
                    command = Path(f"/proc/{child}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"spawn_main" not in command or b"resource_tracker" in command:
                    continue  # not a helper: multiprocessing's bookkeeping, a short-lived tool
                peak = vmhwm_mb(child)
                if peak:
                    self.peaks[child] = max(self.peaks.get(child, 0.0), peak)

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                kids = [int(k) for k in children.read_text().split()]
                found += kids
                todo += kids
    return found


def peak_command(python: str, argv: list[str], status: Path) -> list[str]:
    """Run a Django manage.py command that writes its own /proc/self/status at exit.

    VmHWM belongs to the process's own memory; wait4()'s ru_maxrss would not do: Linux carries
    the parent's high-water mark over fork and exec, so a big parent inflates it.
    """
    code = (
        "import atexit, runpy, sys\n"
        f"atexit.register(lambda: open({str(status)!r}, 'w').write("
        "open('/proc/self/status').read()))\n"
        f"sys.argv = {argv!r}\n"
        f"runpy.run_path({argv[0]!r}, run_name='__main__')\n"
    )
    return [python, "-c", code]


def status_hwm_mb(status: Path) -> float:
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_import(
    stream: list[Mail],
    workdir: Path,
    tag: str,
    *,
    in_process: bool = False,
    processes: int | None = None,
) -> PathResult:
    mailbox = make_mailbox("import", tag)
    result = PathResult("import")
    first = [m for m in stream if m.kind != "reply"]
    for phase in ("originals + corpus", "replies"):
        # Rendering the replies and writing the Maildir are not timed.
        mails = first if phase != "replies" else render_replies(stream, mailbox)
        folder = write_maildir(workdir / f"import-{len(result.phases)}", mails)
        phase_start = time.perf_counter()
        cpu_start = children_cpu_seconds()
        line, peak, helpers = import_command(
            folder, mailbox.address, in_process=in_process, processes=processes
        )
        result.phases.append((phase, len(mails), time.perf_counter() - phase_start))
        result.cpu_seconds += children_cpu_seconds() - cpu_start
        result.command_output.append(line)
        result.peak_rss_mb = max(result.peak_rss_mb, peak)
        result.helpers = max(result.helpers, len(helpers))
        result.helper_peak_rss_mb = max([result.helper_peak_rss_mb, *helpers])
        result.sent += len(mails)
    result.seconds = sum(seconds for _p, _n, seconds in result.phases)
    tally(result, stream, mailbox)
    result.load_after = loadavg()
    return result


# --- SMTP ----------------------------------------------------------------------------------------


def free_port() -> int:
    from bench.measure import free_port as port

    return port()


def envelope_sender(mail: Mail) -> str:
    if mail.sender:
        return parseaddr(mail.sender)[1]
    return f"corpus-sender@{DOMAIN}"


def send_all(port: int, to: str, mails: list[Mail], connections: int) -> Counter:
    """Send from `connections` threads, one SMTP session each; returns refused answers."""
    refused: Counter = Counter()
    lock = threading.Lock()

    def worker(chunk: list[Mail]) -> None:
        client: smtplib.SMTP | None = None
        for mail in chunk:
            for _attempt in range(3):
                try:
                    if client is None:
                        client = smtplib.SMTP("127.0.0.1", port, timeout=120)
                    # CRLF line ends on the wire, as an MTA hands mail over (RFC 5321 2.3.8).
                    data = re.sub(rb"\r?\n", b"\r\n", mail.raw)
                    client.sendmail(envelope_sender(mail), [to], data)
                    break
                except smtplib.SMTPResponseException as exc:
                    answer = f"{exc.smtp_code} {exc.smtp_error!r}"[:80]
                    with lock:
                        refused[answer] += 1
                    break
                except smtplib.SMTPRecipientsRefused as exc:
                    with lock:
                        refused[f"recipient refused {exc.recipients!r}"[:80]] += 1
                    break
                except (smtplib.SMTPServerDisconnected, OSError):
                    client = None
            else:
                with lock:
                    refused["connection failed 3 times"] += 1
        if client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()

    threads = [
        threading.Thread(target=worker, args=(mails[i::connections],)) for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return refused


def wait_processed(mailbox: Any, timeout: float = 3600) -> None:
    from django.db import close_old_connections

    from guichet.channels.email.models import InboundEmail

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        if not InboundEmail.objects.filter(
            mailbox=mailbox, state=InboundEmail.State.RECEIVED
        ).exists():
            return
        time.sleep(0.1)
    raise RuntimeError("SMTP server did not process everything in time")


def vmhwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_smtp(stream: list[Mail], tag: str, connections: int) -> PathResult:
    mailbox = make_mailbox("smtp", tag)
    result = PathResult("smtp")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "smtp_server", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **SAFE_ENV},
        text=True,
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        if "listening" not in line:
            raise RuntimeError(f"smtp_server did not start: {line!r}")
        first = [m for m in stream if m.kind != "reply"]
        accept = 0.0
        for phase in ("originals + corpus", "replies"):
            mails = first if phase != "replies" else render_replies(stream, mailbox)
            started = time.perf_counter()
            refused = send_all(port, mailbox.address, mails, connections)
            accept += time.perf_counter() - started
            wait_processed(mailbox)
            result.phases.append((phase, len(mails), time.perf_counter() - started))
            result.refused = dict(Counter(result.refused) + refused)
            result.sent += len(mails)
        result.accept_seconds = accept
        result.seconds = sum(seconds for _p, _n, seconds in result.phases)
        result.peak_rss_mb = vmhwm_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    tally(result, stream, mailbox)
    result.load_after = loadavg()
    return result


# --- report --------------------------------------------------------------------------------------


def database_description() -> str:
    from bench.inbox import database_description as describe

    return describe()


def intent_model_description() -> str:
    """The intent model triage will use (its cost is most of an imported message's CPU)."""
    import json

    from guichet.triage.intent import model_paths

    paths = model_paths()
    if not paths:
        return "none trained in DATA_DIR/models (triage's intent step abstains, costs nothing)"
    manifest = json.loads((paths[-1] / "manifest.json").read_text("utf-8"))
    examples = manifest.get("n_train", "?")
    return f"{paths[-1].name}, {manifest.get('model', '?')}; {examples} examples"


def describe_stream(stream: list[Mail]) -> str:
    kinds = Counter(m.kind for m in stream)
    attachments = sum(1 for m in stream if m.attachments)
    french = sum(1 for m in stream if m.kind != "corpus" and m.language == "fr")
    generated = kinds["new"] + kinds["reply"]
    size = sum(len(m.raw) for m in stream if m.raw)
    return (
        f"stream: {len(stream)} messages: {kinds['corpus']} real corpus, {kinds['new']} generated "
        f"new ({attachments} with PDF/PNG attachments), {kinds['reply']} generated replies; "
        f"{french}/{generated} generated in French; {size / 1024 / 1024:.1f} MB before replies"
    )


def report(result: PathResult, out: Any) -> None:
    refused = sum(result.refused.values())
    out.write(f"\n[{result.path}] {result.sent} messages in {result.seconds:.1f} s: ")
    out.write(f"{result.rate:.1f} messages/s ingested (start to last row processed)\n")
    for phase, count, seconds in result.phases:
        out.write(f"  phase {phase}: {count} in {seconds:.1f} s ({count / seconds:.1f}/s)\n")
    if result.cpu_seconds:
        out.write(
            f"  CPU of import_mail and its helpers (user + system, PostgreSQL's not counted): "
            f"{result.cpu_seconds:.1f} s, {1000 * result.cpu_seconds / result.sent:.1f} ms per "
            "message\n"
        )
    if result.path == "smtp" and result.accept_seconds:
        out.write(
            f"  accepted (250 after commit): {result.sent / result.accept_seconds:.1f} messages/s "
            f"over {result.accept_seconds:.1f} s\n"
        )
    if result.path.startswith("import"):
        out.write(
            "  import_mail runs without --acknowledge (its default: imported mail is history), so "
            "no acknowledgement is queued and replies answer the customer's own mail\n"
        )
        out.write("  peak RSS of the import_mail process (its VmHWM): ")
    else:
        out.write("  peak RSS of the smtp_server process (VmHWM): ")
    out.write(f"{result.peak_rss_mb:.0f} MB\n")
    if result.path.startswith("import"):
        together = result.peak_rss_mb + result.helpers * result.helper_peak_rss_mb
        out.write(
            f"  helper processes of import_mail (triage's intent model): {result.helpers}"
            + (
                f", peak RSS {result.helper_peak_rss_mb:.0f} MB each at most; together with "
                f"import_mail: {together:.0f} MB at most\n"
                if result.helpers
                else "\n"
            )
        )
    states = ", ".join(f"{k} {v}" for k, v in sorted(result.states.items()))
    out.write(f"  stored rows: {result.rows} ({states})\n")
    out.write(
        f"  duplicates skipped (counted on rows): {result.duplicates_counted}; true duplicates "
        f"in the stream (same Message-ID or bytes): {result.expected_duplicates}\n"
    )
    if refused:
        detail = "; ".join(f"{k}: {v}" for k, v in result.refused.items())
        out.write(f"  refused by the server: {refused} ({detail})\n")
    lost = result.lost
    out.write(
        f"  nothing lost: stored {result.rows} == sent {result.sent} - true duplicates "
        f"{result.expected_duplicates}"
        + (f" - refused {refused}" if refused else "")
        + f": {'yes' if lost == 0 else f'NO ({lost} missing)'}\n"
    )
    out.write(
        f"  replies joining their original's conversation: {result.replies_threaded}/"
        f"{result.replies} (answering our acknowledgement: {result.replies_to_ack_threaded}/"
        f"{result.replies_to_ack}; the others answer the customer's own mail, which was not "
        "acknowledged (e.g. triage handed it to a person) and by design does not thread)\n"
    )
    for line in result.command_output:
        summary = [part for part in line.splitlines() if " messages: " in part] or [""]
        out.write(f"  import_mail said: {summary[-1]}\n")
    out.write(f"  load average after: {result.load_after}\n")
    out.flush()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_django()
    from django.db import connection

    from bench.email_messages import load_real_corpus
    from bench.measure import machine

    out = sys.stdout
    out.write("Guichet benchmark: email ingest (SMTP server, import_mail)\n")
    for line in machine():
        out.write(line + "\n")
    out.write(f"database: {database_description()}\n")
    out.write(f"intent model: {intent_model_description()}\n")
    real = load_real_corpus()
    out.write(
        f"real corpus: {len(real)} messages found"
        + ("" if real else " (datasets absent: generated mail only)")
        + "\n"
    )
    tag = secrets.token_hex(3)
    workdir = Path(tempfile.mkdtemp(prefix="guichet-email-bench-"))
    results: dict[str, PathResult] = {}
    try:
        for path in args.path_set:
            stream = generate(
                args.n, seed=args.seed, to=f"{path}-{tag}@{DOMAIN}", tag=tag, real=real
            )
            if not results:
                out.write(describe_stream(stream) + f"; run tag {tag}\n")
                out.write(f"peak RSS of this script after generating: {self_peak_mb():.0f} MB\n")
            out.write(f"\n{path}: starting, load average {loadavg()}\n")
            out.flush()
            if path == "import":
                results[path] = run_import(stream, workdir, tag, processes=args.processes)
            else:
                results[path] = run_smtp(stream, tag, args.connections)
            report(results[path], out)
        helpdesk_rate = None
        if args.helpdesk:
            from bench.email_helpdesk import run_helpdesk

            try:
                helpdesk_rate = run_helpdesk(args, workdir, tag, connection.vendor, out)
            except Exception as exc:  # report it and keep Guichet's figures
                out.write(f"\ndjango-helpdesk could not be measured: {exc}\n")
        out.write(f"\nTargets (2 cores, PostgreSQL; this run: {connection.vendor}):\n")
        if "import" in results:
            rate = results["import"].rate
            out.write(
                f"  import_mail: {rate:.1f} messages/s (target >= {IMPORT_TARGET:.0f}): "
                f"{'met' if rate >= IMPORT_TARGET else 'MISSED'}\n"
            )
            if helpdesk_rate:
                factor = rate / helpdesk_rate
                out.write(
                    f"  vs django-helpdesk get_email {helpdesk_rate:.1f} messages/s: "
                    f"{factor:.1f}x (target >= {HELPDESK_FACTOR:.0f}x): "
                    f"{'met' if factor >= HELPDESK_FACTOR else 'MISSED'}\n"
                )
        out.write(f"load average at end: {loadavg()}\n")
    finally:
        if args.keep:
            out.write(f"kept: {workdir}\n")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(r.lost == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
