"""Start the web server (gunicorn, WSGI) and a task worker, and print where to log in.

`make run` ends with this command. It refuses a port already in use, prints the address only once
gunicorn accepts connections, and stops both processes on Ctrl-C or SIGTERM. If serve itself dies,
the kernel stops its children too (Linux), so no orphan keeps the port.
"""

from __future__ import annotations

import ctypes
import errno
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from guichet.core.conf import BASE_DIR, env

STARTUP_TIMEOUT_SECONDS = 60
DATABASE_TASKS_BACKEND = "django_tasks_db.DatabaseBackend"
GRACEFUL_SIGNAL = {
    "web server": signal.SIGTERM,
    "task worker": signal.SIGINT,
    "outbox sweep": signal.SIGINT,
    "mail poller": signal.SIGTERM,
}
# Mail work that must run all the time (issue 3): sending what is due in the outbox and putting
# back rows left "sending" by a worker that died, and polling the IMAP mailboxes (none: idle).
MAIL_PROCESSES = {
    "outbox sweep": ["outbox_drain", "--loop", "--interval", "30", "-v", "0"],
    "mail poller": ["mail_poll", "--loop", "-v", "0"],
}


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port (SO_REUSEADDR ignores TIME_WAIT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def accepts_connections(host: str, port: int) -> bool:
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)  # noqa: S104
    try:
        with socket.create_connection((target, port), timeout=0.5):
            return True
    except OSError:
        return False


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function asking Linux to SIGTERM the child when serve exits, if available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


class Command(BaseCommand):
    help = "Start Guichet: the web server (gunicorn) and a background task worker, until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument(
            "--port",
            type=int,
            default=None,
            help="port to listen on (default: the PORT setting, 8000)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="gunicorn worker processes (default: the WEB_WORKERS setting)",
        )
        parser.add_argument("--no-worker", action="store_true", help="do not start a task worker")
        parser.add_argument(
            "--no-mail",
            action="store_true",
            help="do not start the outbox sweep and the IMAP poller",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host: str = options["host"]
        port: int = options["port"] or env("PORT")
        workers: int = options["workers"] or env("WEB_WORKERS")
        if port_in_use(host, port):
            raise CommandError(
                f"Port {port} on {host} is already in use (is Guichet already running?). "
                f"Stop the other server or choose another port: make run PORT={port + 1}"
            )
        python = sys.executable
        manage = str(BASE_DIR / "manage.py")
        if not settings.PRODUCTION:
            # The manifest storage needs collected files even in development (DEBUG is off).
            subprocess.run(  # noqa: S603
                [python, manage, "collectstatic", "--noinput", "-v", "0"], check=True
            )

        preexec = _die_with_parent()
        processes: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def wait_all(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and any(p.poll() is None for p in processes.values()):
                time.sleep(0.1)

        def stop(code: int = 0, children_signalled: bool = False) -> None:
            nonlocal stopping
            stopping = True
            if children_signalled:
                # Ctrl-C reached the whole process group: give the children a moment to stop
                # by themselves before asking again (a second SIGINT forces the task worker).
                wait_all(3)
            for name, process in processes.items():
                if process.poll() is None:
                    # Graceful stop: gunicorn on SIGTERM, the task worker on SIGINT.
                    process.send_signal(GRACEFUL_SIGNAL.get(name, signal.SIGTERM))
            wait_all(15)
            for process in processes.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
            raise SystemExit(code)

        def on_signal(signum: int, _frame: object) -> None:
            if not stopping:
                self.stdout.write("\nStopping Guichet…")
                self.stdout.flush()
                stop(0, children_signalled=signum == signal.SIGINT)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

        # uvicorn serving config.asgi: pages and the chat's WebSockets on one origin.
        from guichet.channels.chat.server import web_server_command

        processes["web server"] = subprocess.Popen(  # noqa: S603
            web_server_command(host=host, port=port, workers=workers),
            preexec_fn=preexec,
        )
        if options["no_worker"]:
            pass
        elif settings.TASKS["default"]["BACKEND"] != DATABASE_TASKS_BACKEND:
            self.stdout.write("TASKS_BACKEND is not `database`: no task worker started.")
        else:
            processes["task worker"] = subprocess.Popen(  # noqa: S603
                [python, manage, "db_worker", "--queue-name", "*"],
                preexec_fn=preexec,
            )
        if not options["no_mail"]:
            for name, command in MAIL_PROCESSES.items():
                processes[name] = subprocess.Popen(  # noqa: S603
                    [python, manage, *command], preexec_fn=preexec
                )

        self._wait_until_listening(host, port, processes["web server"], stop)
        shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::1", "::") else host  # noqa: S104
        url = f"http://{shown_host}:{port}/"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Guichet is running at {url}"))
        self.stdout.write(self._login_hint())
        self.stdout.write("Press Ctrl-C to stop.\n")
        self.stdout.flush()

        while True:
            for name, process in processes.items():
                if process.poll() is not None and not stopping:
                    self.stderr.write(
                        f"The {name} exited (code {process.returncode}); stopping Guichet."
                    )
                    stop(1)
            time.sleep(0.5)

    def _wait_until_listening(
        self, host: str, port: int, web: subprocess.Popen[bytes], stop: Callable[[int], None]
    ) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not accepts_connections(host, port):
            if web.poll() is not None:
                self.stderr.write(f"The web server failed to start (code {web.returncode}).")
                stop(1)
            if time.monotonic() > deadline:
                self.stderr.write(
                    f"The web server did not listen on {host}:{port} within "
                    f"{STARTUP_TIMEOUT_SECONDS} seconds."
                )
                stop(1)
            time.sleep(0.1)

    def _login_hint(self) -> str:
        from django.contrib.auth import get_user_model

        from guichet.web.demo import DEMO_LOGINS, DEMO_PASSWORD

        users = get_user_model().objects
        present = set(
            users.filter(
                username__in=[name for name, _ in DEMO_LOGINS], is_active=True
            ).values_list("username", flat=True)
        )
        demo = [(name, role) for name, role in DEMO_LOGINS if name in present]
        if demo:
            first, first_role = demo[0]
            others = ", ".join(f"{name} ({role})" for name, role in demo[1:])
            hint = f"Log in as “{first}” ({first_role}) with password “{DEMO_PASSWORD}”"
            return hint + (f"; other demo logins, same password: {others}." if others else ".")
        return "Log in with an account created by `python manage.py createsuperuser`."
