"""SMS providers behind one interface: send a text, read an inbound webhook, read a receipt.

`SMS_ADAPTER` picks the adapter: `console` (development: texts go to the log), `http` (a generic
HTTP provider or gateway) or the dotted path of a class with the same methods (an extension for
a provider's own API registers the same way the built-ins do).

The webhook format both built-ins read is JSON signed with HMAC-SHA256 of the raw body, with the
shared secret `SMS_WEBHOOK_SECRET`, sent hex-encoded in `X-Guichet-Signature` (an optional
`sha256=` prefix is accepted):

- inbound SMS: `{"id": "<provider id>", "from": "+33612345678", "to": "+33700000000",
  "text": "..."}`
- delivery receipt: `{"id": "<provider id of the sent SMS>", "status": "delivered" | "sent" |
  "failed" | "undelivered" | "rejected" | "expired", "error": "..."}`

Outbound (`http`): POST `{"to", "from", "text", "reference"}` as JSON to `SMS_HTTP_SEND_URL` with
the `Authorization` header set to `SMS_HTTP_AUTH_HEADER` and `Idempotency-Key: <reference>`; the
provider answers 2xx with `{"id": "<provider id>"}`. A 4xx answer (but 408 and 429) is a
permanent refusal; 5xx, 408, 429 and network errors are retried by the outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from guichet.channels.sms.segments import split

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Guichet-Signature"
MAX_WEBHOOK_BYTES = 64 * 1024
MAX_INBOUND_TEXT = 10_000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
RECEIPT_STATUSES = {
    "delivered": "delivered",
    "sent": "sent",
    "accepted": "sent",
    "failed": "failed",
    "undelivered": "failed",
    "rejected": "failed",
    "expired": "failed",
}


@dataclass(frozen=True)
class InboundSms:
    provider_id: str
    sender: str
    recipient: str
    text: str


@dataclass(frozen=True)
class DeliveryReceipt:
    provider_id: str
    status: str  # "delivered", "sent" or "failed"
    error: str = ""


class WebhookRejected(Exception):
    """A webhook call that is not accepted; `status` is the HTTP answer (400, 401, 403, 413)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SendError(Exception):
    """The provider did not take the SMS. `permanent`: retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmsAdapter(Protocol):
    name: str

    def send(self, *, to: str, text: str, reference: str = "") -> str:
        """Hand one text to the provider; return the provider's id for it."""
        ...

    def parse_inbound(self, *, body: bytes, headers: Mapping[str, str]) -> InboundSms: ...

    def parse_receipt(self, *, body: bytes, headers: Mapping[str, str]) -> DeliveryReceipt: ...


def signature(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


class SignedJsonWebhooks:
    """Reading the signed JSON webhooks described in the module docstring."""

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        secret = str(settings.SMS_WEBHOOK_SECRET or "")
        if len(body) > MAX_WEBHOOK_BYTES:
            raise WebhookRejected(413, "body too large")
        given = _header(headers, SIGNATURE_HEADER).strip()
        if not given:
            raise WebhookRejected(401, "signature missing")
        if not secret:
            raise WebhookRejected(403, "webhooks are disabled: SMS_WEBHOOK_SECRET is not set")
        given = given.removeprefix("sha256=")
        if not hmac.compare_digest(
            given.encode(errors="replace"), signature(body, secret).encode()
        ):
            raise WebhookRejected(403, "bad signature")

    def _json(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        self.verify(body, headers)
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WebhookRejected(400, "body is not JSON") from None
        if not isinstance(data, dict):
            raise WebhookRejected(400, "body is not a JSON object")
        return data

    @staticmethod
    def _text(data: dict[str, Any], key: str, *, required: bool, limit: int) -> str:
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise WebhookRejected(400, f"{key} must be a string")
        if required and not value.strip():
            raise WebhookRejected(400, f"{key} is required")
        if len(value) > limit:
            raise WebhookRejected(400, f"{key} is too long")
        # JSON may carry lone surrogates and NUL, which no database column takes: U+FFFD instead.
        return _UNSTORABLE.sub("\ufffd", value)

    def parse_inbound(self, *, body: bytes, headers: Mapping[str, str]) -> InboundSms:
        data = self._json(body, headers)
        return InboundSms(
            provider_id=self._text(data, "id", required=True, limit=200).strip(),
            sender=self._text(data, "from", required=True, limit=100).strip(),
            recipient=self._text(data, "to", required=False, limit=100).strip(),
            text=self._text(data, "text", required=False, limit=MAX_INBOUND_TEXT),
        )

    def parse_receipt(self, *, body: bytes, headers: Mapping[str, str]) -> DeliveryReceipt:
        data = self._json(body, headers)
        raw_status = self._text(data, "status", required=True, limit=30).strip().lower()
        if raw_status not in RECEIPT_STATUSES:
            raise WebhookRejected(400, "unknown status")
        return DeliveryReceipt(
            provider_id=self._text(data, "id", required=True, limit=200).strip(),
            status=RECEIPT_STATUSES[raw_status],
            error=self._text(data, "error", required=False, limit=500),
        )


class ConsoleAdapter(SignedJsonWebhooks):
    """Development: each text is written to the log instead of being sent."""

    name = "console"

    def send(self, *, to: str, text: str, reference: str = "") -> str:
        parts = split(text)
        provider_id = f"console-{uuid.uuid4().hex}"
        logger.info(
            "SMS to %s (%s, %d part(s), id %s):\n%s", to, parts.encoding, parts.count,
            provider_id, text,
        )  # fmt: skip
        return provider_id


class HttpAdapter(SignedJsonWebhooks):
    """A generic HTTP provider or gateway (see the module docstring for the format)."""

    name = "http"

    def send(self, *, to: str, text: str, reference: str = "") -> str:
        url = str(settings.SMS_HTTP_SEND_URL or "")
        if not url:
            raise SendError("SMS_HTTP_SEND_URL is not set", permanent=True)
        payload = json.dumps(
            {"to": to, "from": settings.SMS_SENDER_ID, "text": text, "reference": reference}
        ).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if settings.SMS_HTTP_AUTH_HEADER:
            headers["Authorization"] = str(settings.SMS_HTTP_AUTH_HEADER)
        if reference:
            headers["Idempotency-Key"] = reference
        request = urllib.request.Request(url, data=payload, headers=headers, method="POST")  # noqa: S310 - the operator's URL
        try:
            with urllib.request.urlopen(request, timeout=settings.SMS_HTTP_TIMEOUT) as response:  # noqa: S310
                answer = response.read(MAX_WEBHOOK_BYTES)
        except urllib.error.HTTPError as exc:
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise SendError(f"provider answered HTTP {exc.code}", permanent=permanent) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SendError(f"provider unreachable: {exc}", permanent=False) from None
        try:
            provider_id = json.loads(answer.decode("utf-8"))["id"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            raise SendError("provider answer has no id", permanent=False) from None
        if not isinstance(provider_id, str | int) or not str(provider_id).strip():
            raise SendError("provider answer has no id", permanent=False)
        return str(provider_id).strip()[:200]


BUILT_IN = {"console": ConsoleAdapter, "http": HttpAdapter}


def adapter_get() -> SmsAdapter:
    """The adapter `SMS_ADAPTER` names (a new instance: adapters keep no state)."""
    name = str(settings.SMS_ADAPTER)
    cls: Any = BUILT_IN.get(name) or import_string(name)
    adapter: SmsAdapter = cls()
    return adapter
