"""Start the web server (gunicorn, WSGI) and a task worker, and print where to log in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start Guichet: the web server and a background task worker, until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--workers", type=int, default=None, help="gunicorn workers")
        parser.add_argument("--no-worker", action="store_true", help="do not start a task worker")

    def handle(self, *args: Any, **options: Any) -> None:
        from guichet.core.conf import env

        workers = options["workers"] or env("WEB_WORKERS")
        address = f"{options['host']}:{options['port']}"
        python = sys.executable
        processes: list[subprocess.Popen[bytes]] = []
        if not settings.PRODUCTION:
            subprocess.run([python, "manage.py", "collectstatic", "--noinput", "-v", "0"], check=True)
        web = subprocess.Popen([
            python, "-m", "gunicorn", "config.wsgi:application", "--bind", address,
            "--workers", str(workers), "--access-logfile", "-", "--log-level", "warning",
        ])
        processes.append(web)
        if not options["no_worker"]:
            processes.append(subprocess.Popen([python, "manage.py", "db_worker"]))

        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Guichet is running at {url}"))
        self.stdout.write(self._login_hint())
        self.stdout.write("Press Ctrl-C to stop.\n")

        def stop(*_args: object) -> None:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while True:
            for process in processes:
                if process.poll() is not None:
                    self.stderr.write(f"A Guichet process exited (code {process.returncode}); stopping.")
                    stop()
            time.sleep(1)

    def _login_hint(self) -> str:
        from guichet.web.demo import DEMO_LOGINS, DEMO_PASSWORD

        from django.contrib.auth import get_user_model

        users = get_user_model().objects
        demo = [name for name, _role in DEMO_LOGINS if users.filter(username=name).exists()]
        if demo:
            others = ", ".join(demo[1:])
            return (f"Log in as “{demo[0]}” with password “{DEMO_PASSWORD}” "
                    f"(other demo logins, same password: {others}).")
        return "Log in with an account created by `python manage.py createsuperuser`."
