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
        "Failed logins allowed per account and per client address within the lockout window.",
    ),
    Setting("LOGIN_LOCKOUT_SECONDS", "int", "900", "Length of the login-throttling window."),
    Setting(
        "ATTACHMENT_MAX_BYTES",
        "int",
        str(25 * 1024 * 1024),
        "Largest attachment stored; larger parts are set aside with a note.",
    ),
    Setting("INBOX_PAGE_SIZE", "int", "25", "Conversations per inbox page."),
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
