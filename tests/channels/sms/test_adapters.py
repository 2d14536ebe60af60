"""The generic HTTP adapter against a real local HTTP server; the console adapter's log."""

from __future__ import annotations

import logging
import socket

import pytest

from guichet.channels.sms.adapters import ConsoleAdapter, HttpAdapter, SendError, adapter_get
from tests.channels.sms.provider import AUTH


def test_send_posts_json_with_the_auth_header_and_returns_the_provider_id(provider, settings):
    settings.SMS_SENDER_ID = "GUICHET"
    provider_id = HttpAdapter().send(to="+33612345678", text="Bonjour €", reference="ref-1")
    assert provider_id == "prov-1"
    [request] = provider.received
    assert request.path == "/send"
    assert request.headers["Authorization"] == AUTH
    assert request.headers["Idempotency-Key"] == "ref-1"
    assert request.body == {
        "to": "+33612345678",
        "from": "GUICHET",
        "text": "Bonjour €",
        "reference": "ref-1",
    }


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (401, True), (429, False), (500, False), (503, False)]
)
def test_refusals_are_permanent_for_4xx_but_temporary_for_5xx_and_429(provider, status, permanent):
    provider.script.append((status, b'{"error": "no"}'))
    with pytest.raises(SendError) as caught:
        HttpAdapter().send(to="+33612345678", text="x")
    assert caught.value.permanent is permanent
    assert str(status) in str(caught.value)


def test_an_answer_without_id_is_a_temporary_failure(provider):
    provider.script.append((200, b"not json"))
    with pytest.raises(SendError) as caught:
        HttpAdapter().send(to="+33612345678", text="x")
    assert not caught.value.permanent


def test_an_unreachable_provider_is_a_temporary_failure(settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.SMS_HTTP_SEND_URL = f"http://127.0.0.1:{port}/send"
    with pytest.raises(SendError) as caught:
        HttpAdapter().send(to="+33612345678", text="x")
    assert not caught.value.permanent


def test_no_url_is_a_permanent_failure(settings):
    settings.SMS_HTTP_SEND_URL = ""
    with pytest.raises(SendError) as caught:
        HttpAdapter().send(to="+33612345678", text="x")
    assert caught.value.permanent


def test_console_adapter_writes_the_text_to_the_log(caplog):
    with caplog.at_level(logging.INFO, logger="guichet.channels.sms.adapters"):
        provider_id = ConsoleAdapter().send(to="+33612345678", text="Bonjour")
    assert provider_id.startswith("console-")
    assert "+33612345678" in caplog.text
    assert "Bonjour" in caplog.text


def test_adapter_is_chosen_by_setting(settings):
    settings.SMS_ADAPTER = "console"
    assert isinstance(adapter_get(), ConsoleAdapter)
    settings.SMS_ADAPTER = "guichet.channels.sms.adapters.HttpAdapter"
    assert isinstance(adapter_get(), HttpAdapter)
