"""The email channel asks `automatic_reply_allowed` before acknowledging (DESIGN promise 3)."""

from __future__ import annotations

import pytest

from guichet.channels.email.models import OutboundEmail
from guichet.channels.email.services import email_process, email_receive
from guichet.conversations.models import Event
from tests.channels.email.inbound_support import make_mailbox, raw_email

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model")]


def deliver(body: str, sender: str = "Claire Dubois <claire@example.org>"):
    mailbox = make_mailbox("cartes@banque.test")
    row = email_process(
        email_receive(raw=raw_email(body=body, sender=sender), mailbox=mailbox, source="smtp")
    )
    assert row.message is not None, row.error
    return row.message.conversation


def test_ordinary_mail_is_acknowledged_in_its_language(team):
    conversation = deliver("Hello, my card has been blocked since yesterday, can you help?")
    assert conversation.language == "en"
    assert OutboundEmail.objects.filter(
        kind=OutboundEmail.Kind.ACKNOWLEDGEMENT, conversation=conversation
    ).exists()


def test_request_for_a_person_gets_no_automatic_acknowledgement(team):
    conversation = deliver("Bonjour, je veux parler à un conseiller, pas à un robot.")
    assert not OutboundEmail.objects.filter(kind=OutboundEmail.Kind.ACKNOWLEDGEMENT).exists()
    skipped = Event.objects.get(conversation=conversation, verb="email.acknowledgement_skipped")
    assert skipped.data["reason"] == "person_needed"
