"""The contact form: a message becomes a conversation, the page and an email say what happens next.

Spam protection (honeypot, minimum fill time, rate limits), attachment limits and idempotence.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from guichet.channels.email.models import OutboundEmail
from guichet.channels.webform import spam
from guichet.channels.webform.models import RateLimitHit
from guichet.channels.webform.views import contact as contact_views
from guichet.conversations.models import Attachment, Conversation, Event, Message
from tests.channels.webform.conftest import PDF, PNG

pytestmark = pytest.mark.django_db


def test_form_page_is_complete(client: Client, phone_team: Any) -> None:
    page = client.get("/contact/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in ("name", "email", "subject", "message", "website", "form_token", "attachments"):
        assert f'name="{name}"' in html
    assert 'enctype="multipart/form-data"' in html
    assert 'for="id_email"' in html and 'aria-describedby="id_email_help"' in html
    assert "Up to 5 files of 10.0\xa0MB each at most" in html
    assert "01 23 45 67 89" in html  # a person is one action away, even before writing
    assert "<script" not in html


def test_message_becomes_a_conversation(post_form: Any, phone_team: Any) -> None:
    response = post_form(attachments=[SimpleUploadedFile("relevé.pdf", PDF, "application/pdf")])
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    assert conversation.channel == "webform" and conversation.subject == "Carte bloquée"
    assert conversation.team == phone_team and conversation.language == "en"
    message = Message.objects.get()
    assert message.channel == "webform" and "distributeur" in message.text
    assert message.external_id.startswith("webform:")
    assert conversation.customer.display_name == "Jeanne Durand"
    identity = conversation.customer.identities.get()
    assert (identity.kind, identity.value) == ("email", "jeanne.durand@example.org")
    attachment = Attachment.objects.get()
    assert attachment.filename == "relevé.pdf" and attachment.content_type == "application/pdf"

    page = Client().get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert f"<strong>{conversation.number}</strong>" in html
    assert "A member of our team will answer you by" in html
    assert "01 23 45 67 89" in html and "/portal/" in html

    ack = OutboundEmail.objects.get()
    assert ack.kind == OutboundEmail.Kind.ACKNOWLEDGEMENT
    assert ack.to_address == "jeanne.durand@example.org" and ack.conversation == conversation
    event = Event.objects.get(verb="acknowledgement.sent")
    assert event.data["channel"] == "webform"


def test_sent_page_offers_a_callback_on_this_conversation(post_form: Any, phone_team: Any) -> None:
    """A person sooner (DESIGN promise 1): the sent page links the callback request page with a
    signed reference, and a request made through it joins the form's conversation."""
    import html as html_lib
    import re

    from guichet.channels.phone.models import CallbackRequest

    response = post_form()
    conversation = Conversation.objects.get()
    html = Client().get(response["Location"]).content.decode()
    found = re.search(r'href="(/callback/\?conversation=[^"]+)"', html)
    assert found, html
    url = html_lib.unescape(found.group(1))
    client = Client()
    assert "added to your current conversation" in client.get(url).content.decode()
    ref = url.split("conversation=", 1)[1]
    from urllib.parse import unquote

    posted = client.post(url, {"number": "06 12 34 56 78", "conversation": unquote(ref)})
    assert posted.status_code == 302, posted.content.decode()
    assert CallbackRequest.objects.get().conversation == conversation
    assert Conversation.objects.count() == 1
    # The form page itself offers a callback too (without a conversation yet).
    assert 'href="/callback/"' in Client().get("/contact/").content.decode()


def test_booking_and_chat_are_offered_only_when_they_can_serve(
    client: Client, team: Any, agent: Any
) -> None:
    from django.utils import timezone

    from guichet.channels.appointments.models import AppointmentType
    from guichet.channels.chat.models import AgentPresence

    html = client.get("/contact/").content.decode()
    assert 'href="/book/"' not in html and 'href="/chat/"' not in html
    AppointmentType.objects.create(name="Advice", mode="phone", duration_minutes=30, team=team)
    AgentPresence.objects.create(user=agent, accepting=True, last_seen_at=timezone.now())
    html = client.get("/contact/").content.decode()
    assert 'href="/book/"' in html and 'href="/chat/"' in html


@pytest.mark.django_db(transaction=True)
def test_confirmation_email_over_smtp(post_form: Any, phone_team: Any, smtp_sink: Any) -> None:
    response = post_form(client=Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="fr"))
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    assert conversation.language == "fr"
    assert len(smtp_sink.delivered) == 1
    mail = smtp_sink.delivered[0].message
    assert mail["To"] == "jeanne.durand@example.org"
    assert str(mail["Auto-Submitted"]) == "auto-generated"
    text = mail.get_body(("plain",)).get_content()
    assert str(conversation.number) in text
    assert "01 23 45 67 89" in text
    assert OutboundEmail.objects.get().state == OutboundEmail.State.SENT


def _sent_number(location: str) -> int:
    signed = location.rstrip("/").rsplit("/", 1)[-1]
    return int(signing.loads(signed, salt=contact_views._SENT_SALT)["n"])


def test_sending_twice_makes_one_message(post_form: Any, team: Any) -> None:
    token = spam.token_issue(now=time.time() - 30)
    first = post_form(form_token=token)
    second = post_form(form_token=token)
    assert first.status_code == second.status_code == 302
    # Both redirects name the same conversation (the signatures carry their own timestamp).
    assert _sent_number(first["Location"]) == _sent_number(second["Location"])
    assert Message.objects.count() == 1 and OutboundEmail.objects.count() == 1


def test_sent_page_cannot_be_forged(client: Client, team: Any) -> None:
    for signed in ("1", "eyJuIjoxfQ:forged:sig", "x" * 500):
        page = client.get(f"/contact/sent/{signed}/")
        assert page.status_code == 404
        assert "This page has expired" in page.content.decode()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"email": "not an address"}, "Enter a valid email address."),
        ({"message": ""}, "This field is required."),
        ({"subject": "x" * 201}, "Ensure this value has at most 200 characters"),
        ({"message": "nul\x00byte"}, "Null characters are not allowed."),
    ],
)
def test_field_errors_are_tied_to_fields(
    post_form: Any, team: Any, fields: dict, expected: str
) -> None:
    response = post_form(**fields)
    assert response.status_code == 400
    html = response.content.decode()
    assert expected in html
    assert 'role="alert"' in html and 'aria-invalid="true"' in html
    field = next(iter(fields))
    assert f'id="id_{field}_error"' in html
    assert f'aria-describedby="id_{field}_error"' in html or (
        f'aria-describedby="id_{field}_help id_{field}_error"' in html
    )
    assert Conversation.objects.count() == 0


def test_honeypot_refuses_and_says_why(post_form: Any, team: Any) -> None:
    response = post_form(website="http://spam.example")
    assert response.status_code == 400
    assert "Leave this field empty" in response.content.decode()
    assert Conversation.objects.count() == 0


def test_too_fast_then_accepted(post_form: Any, team: Any, settings: Any) -> None:
    settings.WEBFORM_MIN_FILL_SECONDS = 3
    response = post_form(form_token=spam.token_issue())
    assert response.status_code == 400
    html = response.content.decode()
    assert "very quickly" in html
    assert "restée bloquée" in html  # the text is kept for the second try
    assert Conversation.objects.count() == 0
    # The same person presses Send again a little later: accepted.
    assert post_form(form_token=spam.token_issue(now=time.time() - 4)).status_code == 302


@pytest.mark.parametrize("token", ["", "garbage", spam.token_issue(now=0)])
def test_missing_forged_or_expired_token(post_form: Any, team: Any, token: str) -> None:
    response = post_form(form_token=token)
    assert response.status_code == 400
    assert Conversation.objects.count() == 0


def test_rate_limit_per_address(post_form: Any, team: Any, settings: Any) -> None:
    settings.WEBFORM_HOURLY_LIMIT_PER_ADDRESS = 2
    assert post_form().status_code == 302
    assert post_form(email="JEANNE.durand@example.org").status_code == 302
    refused = post_form()
    assert refused.status_code == 429 and refused["Retry-After"] == "3600"
    assert "Please wait an hour" in refused.content.decode()
    assert Conversation.objects.count() == 2
    assert post_form(email="other@example.org").status_code == 302
    # Stored as keyed hashes, never as the address itself.
    assert not RateLimitHit.objects.filter(key_digest__contains="@").exists()


def test_rate_limit_per_client_address(post_form: Any, team: Any, settings: Any) -> None:
    settings.PUBLIC_HOURLY_LIMIT_PER_IP = 2
    for index in range(2):
        assert post_form(email=f"person{index}@example.org").status_code == 302
    refused = post_form(email="person9@example.org")
    assert refused.status_code == 429
    other = Client(enforce_csrf_checks=True, REMOTE_ADDR="192.0.2.7")
    assert post_form(client=other, email="person9@example.org").status_code == 302


def test_rate_limit_per_client_behind_the_proxy(post_form: Any, team: Any, settings: Any) -> None:
    """Behind a trusted proxy each client counts alone, and cannot pick its own address."""
    settings.PUBLIC_HOURLY_LIMIT_PER_IP = 2
    settings.TRUSTED_PROXIES = ["10.0.0.2"]

    def via_proxy(forwarded: str) -> Client:
        return Client(
            enforce_csrf_checks=True, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded
        )

    for index in range(2):
        response = post_form(client=via_proxy("198.51.100.1"), email=f"p{index}@example.org")
        assert response.status_code == 302
    spoofed = via_proxy("192.0.2.99, 198.51.100.1")
    assert post_form(client=spoofed, email="p8@example.org").status_code == 429
    assert post_form(client=via_proxy("198.51.100.2"), email="p9@example.org").status_code == 302


def test_attachment_limits(post_form: Any, team: Any, settings: Any) -> None:
    settings.WEBFORM_MAX_ATTACHMENTS = 2
    settings.WEBFORM_ATTACHMENT_MAX_BYTES = 1000
    too_many = [SimpleUploadedFile(f"p{i}.png", PNG, "image/png") for i in range(3)]
    response = post_form(attachments=too_many)
    assert response.status_code == 400
    assert "You can attach 2 files at most." in response.content.decode()

    big = SimpleUploadedFile("big.pdf", PDF + b"0" * 2000, "application/pdf")
    response = post_form(attachments=[big])
    assert response.status_code == 400
    assert "“big.pdf” is too large" in response.content.decode()

    # An HTML page renamed .pdf is read for what it is, not for its name (F04).
    fake = SimpleUploadedFile(
        "facture.pdf", b"<html><script>alert(1)</script></html>", "application/pdf"
    )
    response = post_form(attachments=[fake])
    assert response.status_code == 400
    assert "“facture.pdf” cannot be sent" in response.content.decode()
    assert Conversation.objects.count() == 0 and Attachment.objects.count() == 0

    assert post_form(attachments=[SimpleUploadedFile("a.png", PNG, "image/png")]).status_code == 302


def test_oversized_body_refused_before_reading(client: Client, team: Any, settings: Any) -> None:
    settings.WEBFORM_MAX_ATTACHMENTS = 1
    settings.WEBFORM_ATTACHMENT_MAX_BYTES = 1000
    body = b"x" * (2 * 1024 * 1024)
    response = client.generic(
        "POST", "/contact/", body, content_type="multipart/form-data; boundary=zz"
    )
    assert response.status_code == 413
    assert "too large" in response.content.decode()


def test_csrf_still_enforced(team: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    from tests.channels.webform.conftest import form_data

    assert client.post("/contact/", form_data()).status_code == 403
    assert Conversation.objects.count() == 0


def test_french_page(team: Any) -> None:
    html = Client(HTTP_ACCEPT_LANGUAGE="fr").get("/contact/").content.decode()
    assert '<html lang="fr">' in html
    assert "Nous contacter" in html and "Votre adresse e-mail" in html
    assert "Demandez-nous de vous rappeler" in html  # the callback offer, translated
