"""Every setting Guichet reads from the environment, declared once with a type, a default and help.

`config/settings.py` reads values through `env()`; `docs/settings.md` is checked against this list
by a test, so a setting cannot be added without its documentation. This module must not import
Django: the settings module imports it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent.parent


class ConfigurationError(RuntimeError):
    """A setting is missing or has a value that cannot be used."""


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (true/false), got {raw!r}")


def _list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _mode(raw: str) -> str:
    if raw not in {"development", "production"}:
        raise ValueError("expected 'development' or 'production'")
    return raw


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("expected a positive integer")
    return value


_PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": _positive_int,
    "bool": _bool,
    "list": _list,
    "mode": _mode,
}


@dataclass(frozen=True)
class Setting:
    name: str
    type: str
    default: str | None
    help: str
    secret: bool = False

    def __repr__(self) -> str:  # never print a secret's default
        return f"Setting({self.name!r}, {self.type})"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "GUICHET_MODE",
        "mode",
        "development",
        "`development` (local, plain HTTP allowed) or `production` (HTTPS, secrets required).",
    ),
    Setting(
        "SECRET_KEY",
        "str",
        None,
        "Django secret key. In development a random key is generated once and kept in "
        "`DATA_DIR/secret_key`; required in production.",
        secret=True,
    ),
    Setting("DEBUG", "bool", "false", "Django debug pages. Never in production."),
    Setting(
        "DATA_DIR",
        "str",
        str(BASE_DIR / "var"),
        "Folder for the SQLite database, uploaded files and the generated secret key.",
    ),
    Setting(
        "DATABASE_URL",
        "str",
        None,
        "Database URL: `sqlite:///path/to/file.sqlite3` (default: `DATA_DIR/guichet.sqlite3`) "
        "or `postgresql://user:password@host:5432/name`.",
        secret=True,
    ),
    Setting(
        "ALLOWED_HOSTS",
        "list",
        "localhost,127.0.0.1,[::1]",
        "Comma-separated host names this server answers to.",
    ),
    Setting(
        "CSRF_TRUSTED_ORIGINS",
        "list",
        "",
        "Comma-separated origins (`https://help.example.org`) allowed to POST, behind a proxy.",
    ),
    Setting(
        "TRUSTED_PROXIES",
        "list",
        "",
        "Comma-separated addresses or networks (`10.0.0.2`, `10.0.0.0/24`) of your reverse "
        "proxies. A request from one of them is counted against the client named in "
        "`X-Forwarded-For` (the right-most address that is not a proxy); empty: the connecting "
        "address is the client, and every throttle sees the proxy as one client.",
    ),
    Setting(
        "TIME_ZONE",
        "str",
        "Europe/Paris",
        "Default time zone for display and for new business-hours calendars.",
    ),
    Setting("LANGUAGE_CODE", "str", "fr", "Default language: `fr` or `en`."),
    Setting("PORT", "int", "8000", "Port `make run` serves on."),
    Setting(
        "WEB_WORKERS", "int", "2", "Number of gunicorn worker processes started by `make run`."
    ),
    Setting(
        "LOGIN_MAX_ATTEMPTS",
        "int",
        "5",
        "Failed sign-ins allowed for one account from one client within the lockout window "
        "(four times as many from one client across accounts); see docs/operations.md.",
    ),
    Setting("LOGIN_LOCKOUT_SECONDS", "int", "900", "Length of the login-throttling window."),
    Setting(
        "LOGIN_ACCOUNT_MAX_ATTEMPTS",
        "int",
        "50",
        "Failed sign-ins for one account, from all clients together, after which the account is "
        "locked for clients it has never been signed in from (known browsers still sign in).",
    ),
    Setting(
        "LOGIN_ACCOUNT_LOCKOUT_SECONDS",
        "int",
        "300",
        "Length of the account-wide lock window (short: it slows mass guessing without keeping "
        "the agent out for long).",
    ),
    Setting(
        "ATTACHMENT_MAX_BYTES",
        "int",
        str(25 * 1024 * 1024),
        "Largest attachment stored; larger parts are set aside with a note.",
    ),
    Setting("INBOX_PAGE_SIZE", "int", "25", "Conversations per inbox page."),
    Setting(
        "SLA_AT_RISK_MINUTES",
        "int",
        "30",
        "A conversation due within this many minutes is at risk: the sweep raises its priority "
        "and tells the team's supervisors.",
    ),
    Setting(
        "TASKS_BACKEND",
        "str",
        "database",
        "`database` (a worker process runs tasks) or `immediate` (run in the request; tests).",
    ),
    Setting("EMAIL_HOST", "str", "localhost", "SMTP server that sends Guichet's outgoing email."),
    Setting("EMAIL_PORT", "int", "25", "Port of the SMTP server for outgoing email."),
    Setting("EMAIL_HOST_USER", "str", "", "User name for the SMTP server (empty: no login)."),
    Setting(
        "EMAIL_HOST_PASSWORD",
        "str",
        "",
        "Password for the SMTP server.",
        secret=True,
    ),
    Setting(
        "EMAIL_USE_TLS", "bool", "false", "Use STARTTLS with the SMTP server for outgoing email."
    ),
    Setting("EMAIL_TIMEOUT", "int", "30", "Seconds before an SMTP connection attempt gives up."),
    Setting(
        "EMAIL_FROM_DOMAIN",
        "str",
        "localhost",
        "Domain of the sender address and Message-IDs of mail for a conversation that came "
        "through no mailbox (mail from a mailbox uses the mailbox's own domain).",
    ),
    Setting(
        "EMAIL_SEND_MAX_ATTEMPTS",
        "int",
        "8",
        "Attempts to send one email (with growing waits: 1, 2, 4… minutes, at most an hour) "
        "before it is marked failed.",
    ),
    Setting(
        "EMAIL_AUTO_REPLY_HOURLY_CAP",
        "int",
        "3",
        "Most automatic acknowledgements sent to one address in an hour, across conversations.",
    ),
    Setting(
        "ACKNOWLEDGEMENT_WINDOW_HOURS",
        "int",
        "24",
        "A conversation gets at most one automatic acknowledgement in this many hours, "
        "whatever the channel.",
    ),
    Setting(
        "WEBFORM_MIN_FILL_SECONDS",
        "int",
        "3",
        "The contact form is refused when sent sooner than this after it was shown (spam).",
    ),
    Setting("WEBFORM_MAX_ATTACHMENTS", "int", "5", "Most files attached to one form message."),
    Setting(
        "WEBFORM_ATTACHMENT_MAX_BYTES",
        "int",
        str(10 * 1024 * 1024),
        "Largest file accepted by the contact form and the portal.",
    ),
    Setting(
        "PUBLIC_HOURLY_LIMIT_PER_IP",
        "int",
        "60",
        "Contact-form messages, portal replies and sign-in link requests accepted from one "
        "client address in an hour.",
    ),
    Setting(
        "WEBFORM_HOURLY_LIMIT_PER_ADDRESS",
        "int",
        "5",
        "Contact-form messages accepted for one email address in an hour.",
    ),
    Setting(
        "PORTAL_LINK_HOURLY_LIMIT_PER_ADDRESS",
        "int",
        "5",
        "Portal sign-in links requested for one email address in an hour.",
    ),
    Setting("PORTAL_LINK_MINUTES", "int", "30", "How long a portal sign-in link stays valid."),
    Setting(
        "PORTAL_SESSION_HOURS", "int", "12", "How long a customer stays signed in to the portal."
    ),
    Setting(
        "APPOINTMENT_PUBLIC_URL",
        "str",
        "http://localhost:8000",
        "Address of the site as customers reach it; starts the links in appointment messages.",
    ),
    Setting(
        "APPOINTMENT_LINK_MAX_AGE_DAYS",
        "int",
        "120",
        "How long the link to move or cancel an appointment stays valid after it was sent.",
    ),
    Setting(
        "APPOINTMENT_HOURLY_LIMIT_PER_ADDRESS",
        "int",
        "5",
        "Appointments booked on the public pages for one email address or phone number in an hour.",
    ),
    Setting(
        "APPOINTMENT_REMINDER_HOURS",
        "int",
        "24",
        "How long before an appointment `appointments_remind` sends its one reminder.",
    ),
    Setting(
        "REDIS_URL",
        "str",
        None,
        "Redis for the realtime channel layer (live chat), e.g. `redis://127.0.0.1:6379/0`; "
        "needed to run more than one web process. Unset: an in-memory layer, one web process.",
        secret=True,
    ),
    Setting(
        "CHAT_PRESENCE_SECONDS",
        "int",
        "90",
        "An agent counts as available for chat this long after their chat console last "
        "signalled (it does so every 30 seconds while open).",
    ),
    Setting("CHAT_MESSAGE_MAX_CHARS", "int", "4000", "Longest chat message accepted."),
    Setting(
        "CHAT_MAX_MESSAGES_PER_MINUTE",
        "int",
        "30",
        "Chat messages accepted from one chat window in a minute.",
    ),
    Setting(
        "CHAT_WIDGET_ORIGINS",
        "list",
        "",
        "Comma-separated origins (`https://www.example.org`) of the sites that may embed the "
        "chat widget; empty: only Guichet's own pages.",
    ),
    Setting(
        "SMS_ADAPTER",
        "str",
        "console",
        "SMS provider adapter: `console` (development: texts go to the log), `http` (a generic "
        "HTTP provider) or the dotted path of an adapter class.",
    ),
    Setting("SMS_SENDER_ID", "str", "", "Sender number or name the SMS provider shows."),
    Setting(
        "SMS_HTTP_SEND_URL",
        "str",
        "",
        "Address the `http` SMS adapter POSTs outgoing texts to (JSON).",
    ),
    Setting(
        "SMS_HTTP_AUTH_HEADER",
        "str",
        "",
        "Value of the `Authorization` header sent with each outgoing text (`Bearer <key>`).",
        secret=True,
    ),
    Setting("SMS_HTTP_TIMEOUT", "int", "10", "Seconds before a call to the SMS provider gives up."),
    Setting(
        "SMS_WEBHOOK_SECRET",
        "str",
        "",
        "Shared secret of the HMAC-SHA256 signature of the SMS provider's webhooks (inbound "
        "texts, delivery receipts); empty: the webhooks refuse every call.",
        secret=True,
    ),
    Setting(
        "SMS_SEND_MAX_ATTEMPTS",
        "int",
        "6",
        "Attempts to send one SMS (with growing waits: 1, 2, 4… minutes, at most an hour) "
        "before it is marked failed.",
    ),
    Setting(
        "SMS_MAX_PARTS",
        "int",
        "6",
        "Longest SMS sent, in parts (153 GSM-7 or 67 UCS-2 characters each); a longer text is "
        "refused with a note.",
    ),
    Setting(
        "PHONE_API_TOKEN",
        "str",
        "",
        "Token the telephony system sends (`Authorization: Bearer <token>`) to look callers up "
        "and to file callback requests from the voice menu; empty: both refuse every call.",
        secret=True,
    ),
    Setting(
        "CALLBACK_MINUTES_PER_REQUEST",
        "int",
        "10",
        "Business minutes one callback request ahead adds to the waiting estimate shown to "
        "customers.",
    ),
    Setting(
        "CALLBACK_MAX_ATTEMPTS",
        "int",
        "3",
        "Unanswered calls after which a callback request is closed as unreachable.",
    ),
    Setting(
        "CALLBACK_HOURLY_LIMIT_PER_NUMBER",
        "int",
        "3",
        "Callback requests accepted for one phone number in an hour (public page).",
    ),
    Setting(
        "PAPER_OCR_TIMEOUT_SECONDS",
        "int",
        "120",
        "Longest time OCR may take for one scanned letter (all its pages) before it is marked "
        '"OCR failed" (the scan is kept).',
    ),
    Setting(
        "PAPER_OCR_MEMORY_MB",
        "int",
        "1024",
        "Memory cap (address space) of each OCR or PDF-rasterising process.",
    ),
    Setting("PAPER_OCR_MAX_PAGES", "int", "50", "Most pages read by OCR in one scanned letter."),
    Setting(
        "LETTER_SENDER_ADDRESS",
        "str",
        "Guichet;1 place de la Mairie;75001 Paris",
        "The organisation's address block printed on letters, lines separated by `;`.",
    ),
    Setting("LOG_LEVEL", "str", "INFO", "Logging level of Guichet's own loggers."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def env(name: str, environ: dict[str, str] | None = None) -> Any:
    """Return the typed value of a declared setting: environment, else default, else None."""
    setting = _BY_NAME[name]
    source = os.environ if environ is None else environ
    raw = source.get(name)
    if raw is None:
        raw = setting.default
    if raw is None:
        return None
    try:
        return _PARSERS[setting.type](raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: {exc}") from None


def development_secret_key(data_dir: Path) -> str:
    """Generate the secret key once for the embedded default and keep it beside the data."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
