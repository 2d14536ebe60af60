"""Chat across two real web processes (uvicorn) sharing the database and the Redis channel layer:
a visitor on one process, the agent's console on the other."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from websockets.sync.client import connect

from guichet.accounts.models import User
from guichet.conversations.models import Conversation
from guichet.core.conf import BASE_DIR
from tests.channels.chat.test_consumers import receive_type, session_cookie

REDIS_URL = os.environ.get("CHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def _redis() -> Iterator[str]:
    """The Redis at 127.0.0.1:6379 (db 5) if one runs, else a private `redis-server`."""
    if _listening(6379):
        yield REDIS_URL
        return
    if not shutil.which("redis-server"):
        pytest.fail("Redis is needed: run scripts/system-deps.sh test (installs redis-server)")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = subprocess.Popen(  # noqa: S603
        [  # noqa: S607
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--fd",
            str(sock.fileno()),
            "--log-level",
            "warning",
            "--lifespan",
            "off",
        ],
        cwd=BASE_DIR,
        env=env,
        pass_fds=(sock.fileno(),),
    )
    sock.close()
    return process, port


@pytest.fixture
def two_servers(transactional_db: None) -> Iterator[list[int]]:
    with _redis() as redis_url:
        yield from _servers(redis_url)


def _servers(redis_url: str) -> Iterator[list[int]]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "SECRET_KEY": settings.SECRET_KEY,
        "LANGUAGE_CODE": "en",
        "TASKS_BACKEND": "immediate",
    }
    started = [_start(env), _start(env)]
    try:
        for process, port in started:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("a web process did not start") from None
                    time.sleep(0.1)
        yield [port for _process, port in started]
    finally:
        for process, _port in started:
            process.terminate()
        for process, _port in started:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def test_chat_between_two_web_processes(two_servers: list[int], team: Any, agent: User) -> None:
    port_a, port_b = two_servers
    origin_a, origin_b = f"http://localhost:{port_a}", f"http://localhost:{port_b}"
    cookie = session_cookie(agent)
    with connect(
        f"ws://localhost:{port_a}/ws/chat/console/",
        origin=origin_a,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
    ) as console:
        assert receive_type(console, "ready")
        with connect(f"ws://localhost:{port_b}/ws/chat/", origin=origin_b) as visitor:  # type: ignore[arg-type]
            visitor.send(json.dumps({"type": "hello", "language": "en"}))
            assert receive_type(visitor, "welcome")["available"] is True
            visitor.send(json.dumps({"type": "message", "text": "From process B", "id": "1"}))
            seen = receive_type(console, "line")
            assert seen["text"] == "From process B"
            console.send(
                json.dumps({"type": "reply", "number": seen["number"], "text": "From process A"})
            )
            frame = receive_type(visitor, "line")
            while frame["kind"] != "outbound":
                frame = receive_type(visitor, "line")
            assert frame["text"] == "From process A"
    conversation = Conversation.objects.get(number=seen["number"])
    assert [m.text for m in conversation.messages.all()] == ["From process B", "From process A"]
