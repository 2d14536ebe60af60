"""Sign-in, throttling, `next` handling and sign-out."""

from __future__ import annotations

import pytest
from django.test import Client

from guichet.accounts.models import LoginFailure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_page_renders(client: Client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and 'name="password"' in body
    assert '<html lang="' in body


def test_agent_pages_require_login(client: Client) -> None:
    for url in ("/", "/c/new/", "/c/1000/", "/customers/1/", "/search/?q=x", "/attachments/1/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next=")


def test_login_success_redirects_to_internal_next(client: Client, agent) -> None:
    response = client.post(
        "/login/?next=/c/new/", {"username": "alice", "password": PASSWORD, "next": "/c/new/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/c/new/"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "http://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_ignores_external_next(client: Client, agent, target: str) -> None:
    response = client.post("/login/", {"username": "alice", "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/"
    page = client.get("/login/?next=" + target)
    assert page.status_code == 302 and page["Location"] == "/"


def test_external_next_not_echoed_in_form(client: Client) -> None:
    body = client.get("/login/?next=https://evil.example/").content.decode()
    assert 'value="https://evil.example/"' not in body


def test_wrong_password_shows_error_and_records_failure(client: Client, agent) -> None:
    response = client.post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert LoginFailure.objects.filter(username="alice").count() == 1


def test_login_throttled_even_with_right_password(client: Client, agent, settings) -> None:
    settings.LOGIN_MAX_ATTEMPTS = 3
    for _ in range(3):
        assert client.post("/login/", {"username": "alice", "password": "nope"}).status_code == 200
    response = client.post("/login/", {"username": "ALICE", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_throttle_window_passes(client: Client, agent, settings) -> None:
    settings.LOGIN_MAX_ATTEMPTS = 2
    for _ in range(2):
        client.post("/login/", {"username": "alice", "password": "nope"})
    LoginFailure.objects.update(created_at="2000-01-01T00:00:00Z")
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert not LoginFailure.objects.filter(username="alice").exists()


def test_logout_requires_post(login, agent) -> None:
    client = login(agent)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_language_switcher(login, agent) -> None:
    client = login(agent)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    body = client.get("/").content.decode()
    assert '<html lang="en">' in body
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    assert '<html lang="fr">' in client.get("/").content.decode()
