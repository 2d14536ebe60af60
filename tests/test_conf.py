"""Settings come from the environment, are typed, fail loudly and keep secrets out of reprs."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from guichet.core.conf import BASE_DIR, SETTINGS, ConfigurationError, development_secret_key, env


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("INBOX_PAGE_SIZE", "abc"),
        ("INBOX_PAGE_SIZE", "0"),
        ("GUICHET_MODE", "prod"),
        ("DEBUG", "maybe"),
        ("PORT", "-1"),
    ],
)
def test_bad_value_names_the_setting(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        env(name, {name: raw})


def test_typed_values_and_defaults() -> None:
    assert env("INBOX_PAGE_SIZE", {}) == 25
    assert env("INBOX_PAGE_SIZE", {"INBOX_PAGE_SIZE": "50"}) == 50
    assert env("DEBUG", {"DEBUG": "yes"}) is True
    assert env("ALLOWED_HOSTS", {"ALLOWED_HOSTS": "a.example, b.example ,"}) == [
        "a.example",
        "b.example",
    ]
    assert env("SECRET_KEY", {}) is None


def test_every_setting_is_declared_completely() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    for setting in SETTINGS:
        assert setting.help.strip(), setting.name
        if setting.default is not None:
            env(setting.name, {})  # every default parses


def test_secrets_hide_their_value_in_repr() -> None:
    secret_settings = [s for s in SETTINGS if s.secret]
    assert {s.name for s in secret_settings} >= {"SECRET_KEY", "DATABASE_URL"}
    for setting in secret_settings:
        shown = repr(setting)
        assert setting.name in shown
        if setting.default:
            assert setting.default not in shown


def test_development_secret_key_generated_once_and_private(tmp_path: Path) -> None:
    first = development_secret_key(tmp_path / "data")
    second = development_secret_key(tmp_path / "data")
    assert first == second and len(first) >= 50
    mode = stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode)
    assert mode == 0o600


def _run(code: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        # Start from a clean slate: no Guichet setting, and not the browser tests' async switch.
        if k not in {s.name for s in SETTINGS}
        and k not in {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environ.update(DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings", **extra)
    return subprocess.run(  # noqa: S603
        [sys.executable, *code.split("\0")],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_without_secret_key_fails_at_start_up(tmp_path: Path) -> None:
    result = _run("-c\0import django; django.setup()", tmp_path, GUICHET_MODE="production")
    assert result.returncode != 0
    assert "SECRET_KEY is required in production mode" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_bad_value_fails_at_start_up(tmp_path: Path) -> None:
    result = _run("-c\0import django; django.setup()", tmp_path, INBOX_PAGE_SIZE="abc")
    assert result.returncode != 0
    assert "ConfigurationError: INBOX_PAGE_SIZE" in result.stderr


def test_trusted_proxies_must_be_addresses(tmp_path: Path) -> None:
    result = _run("-c\0import django; django.setup()", tmp_path, TRUSTED_PROXIES="10.0.0.0/8,proxy")
    assert result.returncode != 0
    assert "ConfigurationError: TRUSTED_PROXIES" in result.stderr


def test_check_deploy_is_clean_in_production_mode(tmp_path: Path) -> None:
    result = _run(
        "manage.py\0check\0--deploy\0--fail-level\0WARNING",
        tmp_path,
        GUICHET_MODE="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="help.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr
    assert "no issues" in result.stdout
