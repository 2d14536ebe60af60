"""Hostile input at every public endpoint of the form and the portal (RELIABILITY W01 to W09).

Each property: the answer is a clear 4xx (or the normal success), never a 5xx, and nothing is
stored half-way (every conversation has its message; a refused post stores nothing).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from guichet.channels.webform import auth, spam
from guichet.conversations.models import Attachment, Conversation, Message
from guichet.conversations.types import InboundAttachment
from tests.channels.webform.conftest import PNG, form_data, link_from_outbox

pytestmark = pytest.mark.django_db

HOSTILE_SNIPPETS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "' OR 1=1; --",
    "\u202egpj.exe",
    "\x00",
    "\r\nBcc: victim@example.org",
    "é à ç œ €",
    "{{ 7*7 }}",
    "%(name)s",
    "../../etc/passwd",
]
# Text a browser can send (no lone surrogates: UTF-8 cannot carry them; raw bytes are tried below).
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=300),
    st.sampled_from(HOSTILE_SNIPPETS),
    st.builds(lambda n: "x" * n, st.integers(min_value=150, max_value=30_000)),
)
FAST = hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    settings.PUBLIC_HOURLY_LIMIT_PER_IP = 10**6
    settings.WEBFORM_HOURLY_LIMIT_PER_ADDRESS = 10**6
    settings.PORTAL_LINK_HOURLY_LIMIT_PER_ADDRESS = 10**6
    settings.EMAIL_AUTO_REPLY_HOURLY_CAP = 10**6


def assert_consistent() -> None:
    """Nothing half-stored: no conversation without its first message."""
    assert not Conversation.objects.filter(messages__isnull=True).exists()


@FAST
@given(
    base=st.booleans(),
    fields=st.fixed_dictionaries(
        {},
        optional={
            "name": TEXT,
            "email": st.one_of(TEXT, st.emails()),
            "subject": TEXT,
            "message": TEXT,
            "website": st.one_of(st.just(""), TEXT),
            "form_token": st.one_of(TEXT, st.just("")),
            "unexpected_field": TEXT,
        },
    ),
    files=st.lists(st.tuples(TEXT, st.one_of(st.binary(max_size=2000), st.just(PNG))), max_size=3),
)
def test_contact_form(team: Any, base: bool, fields: dict, files: list) -> None:
    before = Conversation.objects.count()
    # Half the time one or more hostile fields replace those of an otherwise good message.
    data: dict[str, Any] = {**(form_data() if base else {}), **fields}
    if "form_token" not in data:
        data["form_token"] = spam.token_issue(now=time.time() - 60)
    data["attachments"] = [
        SimpleUploadedFile(name or "f", content, "application/octet-stream")
        for name, content in files
    ]
    response = Client().post("/contact/", data)
    assert response.status_code in (302, 400, 413, 429), response.status_code
    after = Conversation.objects.count()
    if response.status_code == 302:
        assert after == before + 1
        message = Message.objects.order_by("-pk").first()
        assert message is not None
        assert "\x00" not in message.text and message.conversation.subject
    else:
        assert after == before
    assert_consistent()


@FAST
@given(
    body=st.binary(max_size=5000),
    content_type=st.sampled_from(
        [
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "application/x-www-form-urlencoded",
            "application/json",
            "text/plain; charset=utf-8",
            "multipart/form-data; boundary=" + "b" * 200,
        ]
    ),
    path=st.sampled_from(["/contact/", "/portal/link/"]),
)
def test_raw_bodies(team: Any, body: bytes, content_type: str, path: str) -> None:
    before = (Conversation.objects.count(), Message.objects.count())
    response = Client().generic("POST", path, body, content_type=content_type)
    assert 400 <= response.status_code < 500, response.status_code
    assert (Conversation.objects.count(), Message.objects.count()) == before


@FAST
@given(email=st.one_of(TEXT, st.emails()))
def test_link_request(team: Any, email: str) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = Client().post("/portal/link/", {"email": email})
    assert response.status_code in (200, 400, 429), response.status_code
    assert auth.SESSION_COOKIE not in response.cookies


URL_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/?#%\x00"),
    min_size=1,
    max_size=200,
)


@FAST
@given(token=URL_TEXT, method=st.sampled_from(["get", "post"]))
def test_login_tokens(team: Any, token: str, method: str) -> None:
    from urllib.parse import quote

    response = getattr(Client(), method)(f"/portal/login/{quote(token, safe='')}/")
    assert response.status_code in (400, 404, 405), response.status_code
    assert auth.SESSION_COOKIE not in response.cookies


@FAST
@given(signed=URL_TEXT)
def test_sent_page(team: Any, signed: str) -> None:
    from urllib.parse import quote

    response = Client().get(f"/contact/sent/{quote(signed, safe='')}/")
    assert response.status_code == 404


@pytest.fixture
def signed_in(ingest: Any) -> tuple[Client, Conversation]:
    conversation = ingest(sender="alice@example.org", subject="Alice").conversation
    ingest(
        sender="bob@example.org",
        subject="Bob",
        attachments=(InboundAttachment("bob.png", PNG, "image/png"),),
    )
    client = Client()
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post("/portal/link/", {"email": "alice@example.org"})
    assert client.post(f"/portal/login/{link_from_outbox()}/").status_code == 302
    return client, conversation


@FAST
@given(
    message=TEXT,
    form_token=st.one_of(st.none(), TEXT),
    files=st.lists(st.tuples(TEXT, st.binary(max_size=1000)), max_size=2),
)
def test_portal_reply(signed_in: tuple, message: str, form_token: Any, files: list) -> None:
    client, conversation = signed_in
    before = Message.objects.count()
    data: dict[str, Any] = {
        "message": message,
        "form_token": form_token if form_token is not None else spam.token_issue(),
        "attachments": [SimpleUploadedFile(name or "f", body) for name, body in files],
    }
    response = client.post(f"/portal/c/{conversation.number}/reply/", data)
    assert response.status_code in (302, 400, 413), response.status_code
    if response.status_code != 302:
        assert Message.objects.count() == before
    assert Conversation.objects.count() == 2
    assert_consistent()


@FAST
@given(
    number=st.one_of(st.integers(min_value=0, max_value=10**30), st.sampled_from([1, 1001, 1002])),
    path=st.sampled_from(["/portal/c/{}/", "/portal/attachments/{}/", "/portal/c/{}/reply/"]),
)
def test_portal_ids(signed_in: tuple, number: int, path: str) -> None:
    client, conversation = signed_in
    bob = Conversation.objects.exclude(pk=conversation.pk).get()
    url = path.format(number)
    response = client.post(url, {}) if url.endswith("reply/") else client.get(url)
    assert response.status_code in (200, 400, 404), response.status_code
    if response.status_code == 200 and not response.streaming:
        assert "Bob" not in response.content.decode()
    if "attachments" in url and response.status_code == 200:
        assert Attachment.objects.get(pk=number).message.conversation_id == conversation.pk
    assert number != bob.number or response.status_code == 404


def test_xss_is_escaped_everywhere(team: Any) -> None:
    """W01: what a customer typed is shown as text on the sent page and in the portal."""
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    client = Client()
    client.get("/contact/")
    response = client.post(
        "/contact/",
        form_data(name=payload, subject=payload, message=payload, email="eve@example.org"),
    )
    assert response.status_code == 302
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post("/portal/link/", {"email": "eve@example.org"})
    client.post(f"/portal/login/{link_from_outbox()}/")
    number = Conversation.objects.get().number
    for url in ("/portal/", f"/portal/c/{number}/", response["Location"]):
        page = client.get(url)
        html = page.content.decode()
        assert page.status_code == 200, url
        assert "<script>alert" not in html and "<img src=x" not in html, url
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
        in client.get(f"/portal/c/{number}/").content.decode()
    )


def test_next_parameter_is_ignored(team: Any, ingest: Any) -> None:
    """W09: signing in always lands on the portal, whatever `next` says."""
    ingest(sender="alice@example.org")
    client = Client()
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post("/portal/link/?next=https://evil.example/", {"email": "alice@example.org"})
    response = client.post(f"/portal/login/{link_from_outbox()}/?next=https://evil.example/")
    assert response.status_code == 302 and response["Location"] == "/portal/"


def test_no_framing_and_no_cache(team: Any) -> None:
    """W03 and A07 on the public pages."""
    for url in ("/contact/", "/portal/"):
        response = Client().get(url)
        assert response["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert response["Cache-Control"] == "no-store"
