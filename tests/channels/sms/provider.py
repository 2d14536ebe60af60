"""A real HTTP server standing in for the SMS provider: loopback, port 0, recording requests.

Only the provider is simulated; Guichet's HTTP adapter, webhooks and outbox are the real code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from guichet.channels.sms.adapters import SIGNATURE_HEADER, signature

WEBHOOK_SECRET = "webhook-secret-for-tests"
AUTH = "Bearer provider-key-for-tests"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeProvider:
    """Answers each send with the next scripted (status, body), else 200 with a fresh id."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, bytes]] = field(default_factory=list)
    counter: int = 0

    def answer(self) -> tuple[int, bytes]:
        if self.script:
            return self.script.pop(0)
        self.counter += 1
        return 200, json.dumps({"id": f"prov-{self.counter}"}).encode()

    @property
    def texts(self) -> list[str]:
        return [r.body["text"] for r in self.received]


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            provider.received.append(
                Received(self.path, dict(self.headers.items()), json.loads(raw or b"{}"))
            )
            status, body = provider.answer()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def provider(settings: Any) -> Iterator[FakeProvider]:
    """A running provider, and the `http` adapter pointed at it."""
    fake = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/send"
    settings.SMS_ADAPTER = "http"
    settings.SMS_HTTP_SEND_URL = fake.url
    settings.SMS_HTTP_AUTH_HEADER = AUTH
    settings.SMS_HTTP_TIMEOUT = 5
    settings.SMS_WEBHOOK_SECRET = WEBHOOK_SECRET
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def signed_post(client: Client, path: str, payload: Any, *, secret: str = WEBHOOK_SECRET) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(
        path,
        data=body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: "sha256=" + signature(body, secret)},
    )
