"""Browser tests: Playwright for Python driving Debian's Chromium against a live server.

One Chromium per test module; one fresh context (cookies, language, JavaScript on or off) per test.
Every page a test opens is watched: a console error, a Content-Security-Policy report or a request
to any origin other than the live server fails the test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

if TYPE_CHECKING:
    from guichet.accounts.models import User

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
# How long an `expect` waits for its condition (Playwright's default is 5 s). A live update
# crosses the server thread, the channel layer and the browser, all on 2 shared cores: under a
# loaded machine 5 s was once too short. Waiting longer costs nothing when the condition holds.
EXPECT_TIMEOUT_MS = 15_000
# The switch as the process had it before any browser test: restored after each browser module.
ASYNC_UNSAFE_OUTSIDE = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def _async_unsafe_allowed() -> Iterator[None]:
    """Let the ORM run in a thread where Playwright's event loop runs, for this module only.

    Playwright's sync API keeps an asyncio loop running in the test thread; Django then refuses
    synchronous ORM calls there, although the test body's calls (building data, flushing the
    database) are plain synchronous code. The variable is set while the module's browser lives and
    removed afterwards, so no other test sees it.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser(_async_unsafe_allowed: None) -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/system-deps.sh test")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _test_settings(settings: Any) -> None:
    # The manifest storage needs `collectstatic`; the live server serves the files as they are.
    # A fast password hash: each test creates a few agents and one signs in through the form.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@dataclass
class Watch:
    """What the pages of one context did that a test must never see."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    csp_reports: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow(self, fragment: str) -> None:
        """Expect console errors containing `fragment` (e.g. the status of a refused action)."""
        self.allowed.append(fragment)

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))
        page.on("request", self._request)

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text:
            self.csp_reports.append(text)
        elif message.type == "error" and not any(part in text for part in self.allowed):
            self.console_errors.append(text)

    def _request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign_requests.append(request.url)

    def problems(self) -> list[str]:
        return (
            [f"console error: {text}" for text in self.console_errors]
            + [f"CSP: {text}" for text in self.csp_reports]
            + [f"request to another origin: {url}" for url in self.foreign_requests]
        )


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """new_page(user=None, language="en", javascript=True) → a watched page in a fresh context.

    With `user`, the context carries a session of that user (signing in through the form is
    tested on its own). The context's locale sets Accept-Language, which picks the language.
    """
    contexts: list[tuple[Any, Watch]] = []

    def _new_page(user: User | None = None, language: str = "en", javascript: bool = True) -> Any:
        context = browser.new_context(
            base_url=live_server.url,
            locale={"fr": "fr-FR", "en": "en-GB"}[language],
            java_script_enabled=javascript,
            viewport=VIEWPORT,
        )
        if user is not None:
            client = Client()
            client.force_login(user)
            host = urlsplit(live_server.url).hostname
            context.add_cookies(
                [
                    {"name": name, "value": morsel.value, "domain": host, "path": "/"}
                    for name, morsel in client.cookies.items()
                ]
            )
        watch = Watch(origin=live_server.url.rstrip("/"))
        context.on("page", watch.attach)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.watch = watch
        contexts.append((context, watch))
        return page

    yield _new_page
    problems = []
    for context, watch in contexts:
        problems += watch.problems()
        context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    """An anonymous page in English, JavaScript on."""
    return new_page()


def axe_serious(page: Any) -> list[dict[str, Any]]:
    """Violations of impact serious or critical on the current page, from axe-core."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def assert_accessible(page: Any) -> None:
    violations = axe_serious(page)
    assert not violations, f"axe on {page.url} ({page.locator('html').get_attribute('lang')}): " + (
        "\n".join(f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in violations)
    )
