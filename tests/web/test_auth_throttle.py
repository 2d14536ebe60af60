"""Sign-in throttling that cannot be turned against the team (issue 13, point 8).

Counted per client and account, per client, and per account (higher and shorter); the client is
read through the trusted proxies only; a browser that signed in before is held by its own
failures only; the admin sign-in goes through the same throttle.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from guichet.accounts.models import LoginFailure, User
from guichet.core.clients import client_address
from guichet.web.signin import KNOWN_COOKIE
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"


def _from(address: str, *, via_proxy: bool = True) -> Client:
    """A browser at `address`, reaching Guichet through the reverse proxy (or directly)."""
    if via_proxy:
        return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=address)
    return Client(REMOTE_ADDR=address)


def _sign_in(client: Client, username: str, password: str, url: str = "/login/") -> Any:
    return client.post(url, {"username": username, "password": password})


# The client address, read through the trusted proxies only.


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        ([], "10.0.0.2", "198.51.100.7", "10.0.0.2"),  # no proxy trusted: the header is ignored
        (["10.0.0.2"], "10.0.0.2", "198.51.100.7", "198.51.100.7"),
        (["10.0.0.0/24"], "10.0.0.2", "198.51.100.7", "198.51.100.7"),
        # The client may type its own header: only the entries our proxies added count.
        (["10.0.0.2"], "10.0.0.2", "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        (["10.0.0.0/24"], "10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        # Not from a trusted proxy: whatever the header says, the peer is the client.
        (["10.0.0.2"], "203.0.113.5", "198.51.100.7", "203.0.113.5"),
        (["10.0.0.2"], "10.0.0.2", "", "10.0.0.2"),
        (["10.0.0.0/24"], "10.0.0.2", "10.0.0.3", "10.0.0.3"),
        (["2001:db8::/32"], "2001:db8::1", "2001:db9::5", "2001:db9::5"),
    ],
)
def test_client_address(
    settings: Any, proxies: list[str], remote: str, forwarded: str, expected: str
) -> None:
    settings.TRUSTED_PROXIES = proxies
    meta = {"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}
    assert client_address(meta) == expected


def test_public_throttles_use_the_same_helper() -> None:
    from guichet.channels.appointments import views as appointments
    from guichet.channels.phone import views as phone
    from guichet.channels.webform.views import contact, portal

    for module in (appointments, phone, contact, portal):
        assert module.client_address is client_address, module.__name__


# Others' typos do not lock an agent out.


def test_team_typos_behind_the_proxy_do_not_lock_everyone(
    agent: User, agent2: User, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = [PROXY]
    settings.LOGIN_MAX_ATTEMPTS = 2
    for index in range(10):  # more than the per-client limit (4 * 2), spread over the team
        colleague = _from(f"198.51.100.{index + 10}")
        assert _sign_in(colleague, "bruno", "typo").status_code == 200
    alice = _from("198.51.100.200")
    assert _sign_in(alice, "alice", PASSWORD).status_code == 302


def test_others_typos_on_my_account_do_not_lock_me_out(agent: User, settings: Any) -> None:
    settings.TRUSTED_PROXIES = [PROXY]
    stranger = _from("203.0.113.66")
    for _ in range(settings.LOGIN_MAX_ATTEMPTS):
        _sign_in(stranger, "alice", "guess")
    assert _sign_in(stranger, "alice", PASSWORD).status_code == 429  # that client is held
    assert _sign_in(_from("198.51.100.20"), "alice", PASSWORD).status_code == 302


def test_a_client_guessing_across_accounts_is_held(agent: User, settings: Any) -> None:
    settings.LOGIN_MAX_ATTEMPTS = 2
    scanner = _from("203.0.113.66", via_proxy=False)
    for index in range(8):  # 4 * 2, never twice the same account
        _sign_in(scanner, f"user{index}", "guess")
    assert _sign_in(scanner, "alice", PASSWORD).status_code == 429
    assert _sign_in(_from("198.51.100.20", via_proxy=False), "alice", PASSWORD).status_code == 302


def test_account_wide_lock_spares_known_browsers(agent: User, settings: Any) -> None:
    settings.LOGIN_ACCOUNT_MAX_ATTEMPTS = 6
    own = _from("198.51.100.20", via_proxy=False)
    assert _sign_in(own, "alice", PASSWORD).status_code == 302  # this browser is now known
    assert KNOWN_COOKIE in own.cookies
    own.post("/logout/")
    for index in range(6):  # a botnet: one guess per address
        _sign_in(_from(f"203.0.113.{index + 1}", via_proxy=False), "alice", "guess")
    refused = _sign_in(_from("198.51.100.21", via_proxy=False), "alice", PASSWORD)
    assert refused.status_code == 429
    assert "Wait 5 minutes" in refused.content.decode()  # LOGIN_ACCOUNT_LOCKOUT_SECONDS
    assert _sign_in(own, "alice", PASSWORD).status_code == 302


def test_known_browser_behind_a_shared_address(agent: User, agent2: User, settings: Any) -> None:
    """Without TRUSTED_PROXIES every browser is the proxy: typos lock the address, not the
    browsers that signed in before."""
    settings.LOGIN_MAX_ATTEMPTS = 2
    alice = _from(PROXY, via_proxy=False)
    assert _sign_in(alice, "alice", PASSWORD).status_code == 302
    alice.post("/logout/")
    for index in range(8):
        _sign_in(_from(PROXY, via_proxy=False), f"user{index}", "typo")
    _sign_in(_from(PROXY, via_proxy=False), "alice", "typo")
    _sign_in(_from(PROXY, via_proxy=False), "alice", "typo")
    assert _sign_in(_from(PROXY, via_proxy=False), "bruno", PASSWORD).status_code == 429
    assert _sign_in(alice, "alice", PASSWORD).status_code == 302


def test_known_browser_is_held_by_its_own_failures(agent: User, settings: Any) -> None:
    settings.LOGIN_MAX_ATTEMPTS = 2
    browser = _from("198.51.100.20", via_proxy=False)
    assert _sign_in(browser, "alice", PASSWORD).status_code == 302
    browser.post("/logout/")
    for _ in range(2):
        assert _sign_in(browser, "alice", "typo").status_code == 200
    assert _sign_in(browser, "alice", PASSWORD).status_code == 429
    assert LoginFailure.objects.exclude(device="").count() == 2


def test_known_browser_cookie_is_per_account_and_signed(
    agent: User, agent2: User, settings: Any
) -> None:
    settings.LOGIN_ACCOUNT_MAX_ATTEMPTS = 2
    browser = _from("198.51.100.20", via_proxy=False)
    assert _sign_in(browser, "alice", PASSWORD).status_code == 302
    browser.post("/logout/")
    for index in range(2):
        _sign_in(_from(f"203.0.113.{index + 1}", via_proxy=False), "bruno", "guess")
    # Known for alice, not for bruno: the account-wide lock on bruno holds.
    assert _sign_in(browser, "bruno", PASSWORD).status_code == 429
    forged = _from("198.51.100.21", via_proxy=False)
    forged.cookies[KNOWN_COOKIE] = browser.cookies[KNOWN_COOKIE].value[:-2] + "xx"
    assert _sign_in(forged, "bruno", PASSWORD).status_code == 429


def test_success_forgets_only_this_clients_failures(agent: User, settings: Any) -> None:
    _sign_in(_from("203.0.113.66", via_proxy=False), "alice", "guess")
    mine = _from("198.51.100.20", via_proxy=False)
    _sign_in(mine, "alice", "typo")
    assert _sign_in(mine, "alice", PASSWORD).status_code == 302
    assert list(LoginFailure.objects.values_list("address", flat=True)) == ["203.0.113.66"]


def test_blank_password_counts_nothing(agent: User) -> None:
    assert _sign_in(Client(), "alice", "").status_code == 200
    assert not LoginFailure.objects.exists()


# The admin sign-in goes through the same throttle.


def _admin_user(team: Any) -> User:
    from guichet.accounts.services import agent_create

    return agent_create(username="root", password=PASSWORD, role=User.Role.ADMIN, teams=[team])


def test_admin_login_is_throttled(team: Any, settings: Any) -> None:
    _admin_user(team)
    settings.LOGIN_MAX_ATTEMPTS = 3
    client = Client()
    for _ in range(3):
        assert _sign_in(client, "root", "guess", "/admin/login/").status_code == 200
    assert LoginFailure.objects.filter(username="root").count() == 3
    refused = _sign_in(client, "root", PASSWORD, "/admin/login/")
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # The agent sign-in page shares the counters.
    assert _sign_in(client, "root", PASSWORD).status_code == 429


def test_admin_login_counts_with_agent_login(team: Any, settings: Any) -> None:
    _admin_user(team)
    settings.LOGIN_MAX_ATTEMPTS = 2
    client = Client()
    _sign_in(client, "root", "guess")
    _sign_in(client, "root", "guess", "/admin/login/")
    assert _sign_in(client, "root", PASSWORD, "/admin/login/").status_code == 429


def test_admin_login_succeeds_and_remembers_the_browser(team: Any) -> None:
    _admin_user(team)
    client = Client()
    _sign_in(client, "root", "typo", "/admin/login/")
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert KNOWN_COOKIE in client.cookies
    assert not LoginFailure.objects.exists()
