"""How `manage.py serve` starts the web server: uvicorn serving `config.asgi`, so that pages and
WebSockets (live chat) share one origin.

With the in-memory channel layer (no `REDIS_URL`) a chat line reaches only the WebSockets of the
process that handled it, so one worker process is started; with Redis, as many as asked.
"""

from __future__ import annotations

import sys

from django.conf import settings

from guichet.core.conf import BASE_DIR


def shared_layer() -> bool:
    return "InMemory" not in settings.CHANNEL_LAYERS["default"]["BACKEND"]


def web_server_command(*, host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--app-dir",
        str(BASE_DIR),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers if shared_layer() else 1),
        "--timeout-graceful-shutdown",
        "10",
        "--log-level",
        "warning",
        "--no-server-header",
    ]
