"""A real ASGI server (uvicorn) in a thread of the test process, serving `config.asgi`.

Django's live server speaks WSGI only; the chat needs WebSockets. The server shares the test
database (use it with `transactional_db`) and the in-memory channel layer of this process.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn


class _NoSettings:
    """pytest-django's live-server hook toggles settings on the server object: nothing here."""

    def enable(self) -> None:
        pass

    def disable(self) -> None:
        pass


@dataclass(frozen=True)
class LiveAsgi:
    url: str
    host: str
    port: int
    _live_server_modified_settings: _NoSettings = field(default_factory=_NoSettings)

    @property
    def ws(self) -> str:
        return f"ws://{self.host}:{self.port}"


@contextmanager
def asgi_server() -> Iterator[LiveAsgi]:
    from config.asgi import application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        application, lifespan="off", log_level="warning", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the ASGI test server did not start")
        time.sleep(0.02)
    try:
        yield LiveAsgi(url=f"http://localhost:{port}", host="localhost", port=port)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        from guichet.channels.chat.db import connections_close

        connections_close()
