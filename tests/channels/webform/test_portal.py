"""The customer portal: sign-in links (A06, W06, W07), sessions, replies, isolation (A01, F03)."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.utils import timezone

from guichet.channels.webform import auth, ratelimit, spam
from guichet.channels.webform.models import PortalLink, PortalSession
from guichet.conversations.models import Attachment, Conversation, Message, Status
from guichet.conversations.services import conversation_note_add, conversation_reply
from guichet.conversations.types import InboundAttachment
from tests.channels.webform.conftest import PDF, PNG, link_from_outbox

pytestmark = pytest.mark.django_db

ALICE = "alice@example.org"
BOB = "bob@example.org"


def link_mails() -> list[Any]:
    return [sent for sent in mail.outbox if sent.subject == "Your sign-in link"]


def ask_link(client: Client, email: str, **headers: Any) -> Any:
    client.get("/portal/")
    # The link is mailed after commit: run those callbacks as a real commit would.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            "/portal/link/",
            {"email": email, "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
            **headers,
        )


def sign_in(email: str) -> Client:
    client = Client(enforce_csrf_checks=True)
    assert ask_link(client, email).status_code == 200
    token = link_from_outbox()
    confirm = client.get(f"/portal/login/{token}/")
    assert confirm.status_code == 200 and "Sign in" in confirm.content.decode()
    response = client.post(
        f"/portal/login/{token}/", {"csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    )
    assert response.status_code == 302 and response["Location"] == "/portal/"
    return client


@pytest.fixture
def two_customers(ingest: Any, agent: Any) -> dict[str, Any]:
    """Alice and Bob each have conversations, messages and attachments; Bob has a note."""
    alice = ingest(
        sender=ALICE,
        subject="Alice carte",
        attachments=(InboundAttachment("alice.pdf", PDF, "application/pdf"),),
    ).conversation
    alice_sms = ingest(sender=ALICE, subject="Alice second", channel="webform").conversation
    bob = ingest(
        sender=BOB,
        subject="Bob secret subject",
        attachments=(InboundAttachment("bob.png", PNG, "image/png"),),
    ).conversation
    note = conversation_note_add(actor=agent, conversation=alice, text="internal: VIP")
    reply = conversation_reply(actor=agent, conversation=alice, text="Bonjour Alice, réglé.")
    return {"alice": alice, "alice2": alice_sms, "bob": bob, "note": note, "reply": reply}


def test_magic_link_round_trip(two_customers: dict) -> None:
    client = sign_in(ALICE)
    home = client.get("/portal/")
    html = home.content.decode()
    assert "Alice carte" in html and "Alice second" in html
    assert "Bob secret" not in html
    assert "Signed in as alice@example.org" in html

    alice = two_customers["alice"]
    page = client.get(f"/portal/c/{alice.number}/").content.decode()
    assert "Bonjour Alice" in page  # the agent's reply
    assert "internal: VIP" not in page  # never an internal note
    attachment = Attachment.objects.get(filename="alice.pdf")
    download = client.get(f"/portal/attachments/{attachment.pk}/")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]

    # Logout revokes the session on the server: the old cookie is useless afterwards.
    cookie = client.cookies[auth.SESSION_COOKIE].value
    client.post("/portal/logout/", {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    stale = Client()
    stale.cookies[auth.SESSION_COOKIE] = cookie
    assert stale.get(f"/portal/c/{alice.number}/").status_code == 302
    assert PortalSession.objects.get().revoked_at is not None


def test_another_customers_things_are_never_reachable(two_customers: dict, agent: Any) -> None:
    """A01/F03: every endpoint, every object of Bob's (and a note of Alice's) → 404, no data."""
    client = sign_in(ALICE)
    bob = two_customers["bob"]
    bob_attachment = Attachment.objects.get(filename="bob.png")
    # An attachment on an internal note of Alice's own conversation is not hers to download.
    note = conversation_note_add(actor=agent, conversation=two_customers["alice"], text="n")
    note_attachment = Attachment.objects.create(
        message=note,
        storage_key="k/none",
        filename="note.pdf",
        content_type="application/pdf",
        size=1,
        sha256="0",
    )
    token = spam.token_issue(now=time.time() - 30)
    csrf = client.cookies["csrftoken"].value
    cases = [
        ("get", f"/portal/c/{bob.number}/", {}),
        ("post", f"/portal/c/{bob.number}/reply/", {"message": "x", "form_token": token}),
        ("get", f"/portal/attachments/{bob_attachment.pk}/", {}),
        ("get", f"/portal/attachments/{note_attachment.pk}/", {}),
        ("get", "/portal/c/999999/", {}),
        ("get", "/portal/c/99999999999999999999999/", {}),
        ("get", "/portal/attachments/99999999999999999999999/", {}),
    ]
    messages_before = Message.objects.count()
    for method, url, data in cases:
        if method == "post":
            response = client.post(url, {**data, "csrfmiddlewaretoken": csrf})
        else:
            response = client.get(url)
        body = response.content.decode() if not response.streaming else ""
        assert response.status_code == 404, url
        assert "Bob" not in body and "bob" not in body and "VIP" not in body, url
        assert "This page does not exist, or it is not yours." in body
    assert Message.objects.count() == messages_before
    # Counts and lists never include Bob's either.
    assert client.get("/portal/").content.decode().count("/portal/c/") == 2


def test_pages_need_a_session(two_customers: dict) -> None:
    client = Client()
    alice = two_customers["alice"]
    attachment = Attachment.objects.get(filename="alice.pdf")
    for url in (f"/portal/c/{alice.number}/", f"/portal/attachments/{attachment.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/portal/"
    forged = Client()
    forged.cookies[auth.SESSION_COOKIE] = "A" * 43
    assert forged.get(f"/portal/c/{alice.number}/").status_code == 302


def test_reply_with_attachment(two_customers: dict) -> None:
    client = sign_in(ALICE)
    alice = two_customers["alice"]
    Conversation.objects.filter(pk=alice.pk).update(status=Status.WAITING_CUSTOMER)
    page = client.get(f"/portal/c/{alice.number}/").content.decode()
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found is not None
    token = found.group(1)
    data = {
        "message": "Voici le justificatif demandé.",
        "form_token": token,
        "attachments": [SimpleUploadedFile("justificatif.png", PNG, "image/png")],
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
    }
    response = client.post(f"/portal/c/{alice.number}/reply/", data)
    assert response.status_code == 302
    message = Message.objects.filter(conversation=alice).order_by("-pk").first()
    assert message is not None
    assert message.text == "Voici le justificatif demandé." and message.channel == "webform"
    assert message.attachments.get().filename == "justificatif.png"
    alice.refresh_from_db()
    assert alice.status == Status.OPEN  # the customer answered: back to the team
    # The same form sent again (double click) adds nothing.
    data["attachments"] = [SimpleUploadedFile("justificatif.png", PNG, "image/png")]
    assert client.post(f"/portal/c/{alice.number}/reply/", data).status_code == 302
    assert Message.objects.filter(conversation=alice, text__startswith="Voici").count() == 1


def test_closed_conversation_takes_no_reply(two_customers: dict) -> None:
    client = sign_in(ALICE)
    alice = two_customers["alice"]
    Conversation.objects.filter(pk=alice.pk).update(status=Status.CLOSED)
    page = client.get(f"/portal/c/{alice.number}/").content.decode()
    assert "This request is closed" in page and 'name="message"' not in page
    response = client.post(
        f"/portal/c/{alice.number}/reply/",
        {
            "message": "encore",
            "form_token": spam.token_issue(),
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 409
    assert Conversation.objects.count() == 3


def test_link_is_single_use_and_expires(two_customers: dict) -> None:
    client = Client()
    ask_link(client, ALICE)
    token = link_from_outbox()
    assert client.post(f"/portal/login/{token}/").status_code == 302
    again = Client().post(f"/portal/login/{token}/")
    assert again.status_code == 400 and "cannot be used" in again.content.decode()

    ask_link(Client(), ALICE)
    token = link_from_outbox()
    PortalLink.objects.filter(used_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert Client().get(f"/portal/login/{token}/").status_code == 400
    assert Client().post(f"/portal/login/{token}/").status_code == 400


@pytest.mark.parametrize(
    "variant", ["padded", "truncated", "case", "empty-ish", "other-character", "long"]
)
def test_near_miss_tokens_fail(two_customers: dict, variant: str) -> None:
    ask_link(Client(), ALICE)
    token = link_from_outbox()
    forged = {
        "padded": token + " ",
        "truncated": token[:-1],
        "case": token.swapcase(),
        "empty-ish": "-" * 43,
        "other-character": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "long": token * 3,
    }[variant]
    response = Client().post(f"/portal/login/{forged}/")
    assert response.status_code in (400, 404)
    assert auth.SESSION_COOKIE not in response.cookies
    assert PortalSession.objects.count() == 0


def test_tokens_are_stored_hashed(two_customers: dict) -> None:
    ask_link(Client(), ALICE)
    token = link_from_outbox()
    link = PortalLink.objects.get()
    assert link.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert link.nonce == ""  # cleared once sent: the database alone cannot rebuild the link
    assert token not in str(list(PortalLink.objects.values()))
    client = Client()
    client.post(f"/portal/login/{token}/")
    session_token = client.cookies[auth.SESSION_COOKIE].value
    session = PortalSession.objects.get()
    assert session.token_digest == hashlib.sha256(session_token.encode()).hexdigest()
    cookie = client.cookies[auth.SESSION_COOKIE]
    assert cookie["httponly"] and cookie["path"] == "/portal/" and cookie["samesite"] == "Lax"


def test_same_answer_for_known_and_unknown_addresses(two_customers: dict) -> None:
    """W07: the page, status and cookies do not tell whether an address is a customer's."""
    known = ask_link(Client(), ALICE)
    unknown = ask_link(Client(), "nobody@example.org")

    def normalised(response: Any, email: str) -> str:
        html = response.content.decode().replace(email, "EMAIL")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    assert known.status_code == unknown.status_code == 200
    assert normalised(known, ALICE) == normalised(unknown, "nobody@example.org")
    assert sorted(known.cookies) == sorted(unknown.cookies)
    links = link_mails()
    assert len(links) == 1 and links[0].to == [ALICE]
    # The unknown address is not kept.
    unknown_link = PortalLink.objects.get(customer__isnull=True)
    assert unknown_link.state == PortalLink.State.UNKNOWN and unknown_link.address == ""


def test_same_work_for_known_and_unknown_addresses(
    two_customers: dict, settings: Any, monkeypatch: Any
) -> None:
    """The request does the same database work either way; the mail goes out of the request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(email: str) -> list[str]:
        client = Client()
        client.get("/portal/")
        with CaptureQueriesContext(connection) as captured:
            response = client.post(
                "/portal/link/",
                {"email": email, "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
            )
        assert response.status_code == 200
        return [
            re.sub(r"'[^']*'|\b\d+\b", "?", query["sql"].split(" WHERE ")[0])
            for query in captured.captured_queries
            if "django_tasks" not in query["sql"]
            and "email_channel" not in query["sql"]
            and 'webform_portallink" SET' not in query["sql"]
            and 'webform_portallink"."state"' not in query["sql"]
        ]

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    # The rate-limit table is pruned on 2 % of writes, whatever the address: not this time.
    monkeypatch.setattr(ratelimit, "random", SimpleNamespace(random=lambda: 1.0))
    known, unknown = queries(ALICE), queries("nobody@example.org")
    assert len(known) == len(unknown), (known, unknown)


def test_link_requests_are_rate_limited(two_customers: dict, settings: Any) -> None:
    settings.PORTAL_LINK_HOURLY_LIMIT_PER_ADDRESS = 2
    assert ask_link(Client(), ALICE).status_code == 200
    assert ask_link(Client(), ALICE.upper()).status_code == 200
    refused = ask_link(Client(), ALICE)
    assert refused.status_code == 429
    assert len(link_mails()) == 2
    # Unknown addresses are limited the same way (the limit reveals nothing either).
    for _ in range(2):
        assert ask_link(Client(), "nobody@example.org").status_code == 200
    assert ask_link(Client(), "nobody@example.org").status_code == 429


def test_link_mail_in_french(two_customers: dict) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    page = ask_link(client, ALICE, HTTP_ACCEPT_LANGUAGE="fr")
    assert "Consultez vos e-mails" in page.content.decode()
    sent = mail.outbox[-1]
    assert sent.subject == "Votre lien de connexion"
    assert "Se connecter" in sent.body and sent.extra_headers["Auto-Submitted"] == "auto-generated"


def test_session_ends_when_address_moves(two_customers: dict) -> None:
    """If Alice's address is given to someone else after sign-in, her session stops."""
    client = sign_in(ALICE)
    from guichet.customers.models import Customer, Identity

    other = Customer.objects.create(display_name="Someone else")
    Identity.objects.filter(value=ALICE).update(customer=other)
    assert client.get("/portal/").content.decode().count("/portal/c/") == 0
    assert client.get(f"/portal/c/{two_customers['alice'].number}/").status_code == 302


def test_upcoming_appointments_hook(two_customers: dict) -> None:
    from guichet.channels.webform.hooks import (
        PortalSection,
        register_portal_section,
        unregister_portal_section,
    )

    client = sign_in(ALICE)
    assert "Upcoming appointments" not in client.get("/portal/").content.decode()
    seen = []

    def section(customer: Any) -> PortalSection:
        seen.append(customer.pk)
        return PortalSection("webform/error.html", {"note": "x"})

    register_portal_section("test", section)
    try:
        assert "Upcoming appointments" in client.get("/portal/").content.decode()
    finally:
        unregister_portal_section("test")
    assert seen == [two_customers["alice"].customer_id]


def test_query_counts_do_not_grow_with_data(
    two_customers: dict, ingest: Any, django_assert_max_num_queries: Any
) -> None:
    """The list and a conversation page cost the same few queries with 2 or 12 items."""
    client = sign_in(ALICE)
    alice = two_customers["alice"]
    with django_assert_max_num_queries(8):
        client.get("/portal/")
    with django_assert_max_num_queries(12):
        client.get(f"/portal/c/{alice.number}/")
    for index in range(10):
        ingest(sender=ALICE, subject=f"More {index}")
        ingest(
            sender=ALICE,
            conversation_number=alice.number,
            attachments=(InboundAttachment(f"p{index}.png", PNG, "image/png"),),
        )
    with django_assert_max_num_queries(8):
        assert client.get("/portal/").content.decode().count("/portal/c/") == 12
    with django_assert_max_num_queries(12):
        assert client.get(f"/portal/c/{alice.number}/").content.decode().count("p9.png") == 1
