"""Hostile input on the SMS webhooks (RELIABILITY W05): a clear 4xx, never a 500, nothing half
stored."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet.channels.sms.models import OutboundSms, SmsOptOut
from guichet.conversations.models import Conversation, Message
from guichet.customers.models import Customer
from tests.channels.sms.provider import WEBHOOK_SECRET, signed_post

pytestmark = pytest.mark.django_db

HOSTILE_TEXT = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["\x00", "\ud800", "\u202e", "A" * 20000, "STOP", "START", "Rappel", " "]),
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
PAYLOAD = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(HOSTILE_TEXT, JSON_VALUE),
        "from": st.one_of(
            st.sampled_from(["+33612345678", "06 12 34 56 78", "+1", "0" * 120, ""]), JSON_VALUE
        ),
        "to": JSON_VALUE,
        "text": st.one_of(HOSTILE_TEXT, JSON_VALUE),
        "status": st.one_of(st.sampled_from(["delivered", "failed", "DELIVERED", "x"]), JSON_VALUE),
    },
)


def _counts():
    return (
        Conversation.objects.count(),
        Message.objects.count(),
        Customer.objects.count(),
        OutboundSms.objects.count(),
        SmsOptOut.objects.count(),
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.one_of(PAYLOAD, JSON_VALUE), path=st.sampled_from(["/sms/inbound", "/sms/receipt"])
)
def test_signed_hostile_payloads_get_a_clear_answer(team, settings, payload, path):
    settings.SMS_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.SMS_ADAPTER = "console"
    before = _counts()
    response = signed_post(Client(), path, payload)
    assert response.status_code in (200, 400, 413), response.content
    assert "error" in response.json() or response.status_code == 200
    if response.status_code != 200:
        assert _counts() == before


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=2000),
    signature=st.one_of(st.none(), st.text(max_size=80), st.sampled_from(["sha256=", "sha256=00"])),
)
def test_unsigned_or_badly_signed_bodies_are_refused(db, settings, body, signature):
    settings.SMS_WEBHOOK_SECRET = WEBHOOK_SECRET
    headers = {} if signature is None else {"X-Guichet-Signature": signature}
    before = _counts()
    try:
        response = Client().post(
            "/sms/inbound", data=body, content_type="application/json", headers=headers
        )
    except ValueError:  # the test client refuses to build a header with a line break
        return
    assert response.status_code in (401, 403)
    assert _counts() == before


def test_a_huge_body_is_refused_with_413(db, settings):
    settings.SMS_WEBHOOK_SECRET = WEBHOOK_SECRET
    response = signed_post(
        Client(), "/sms/inbound", {"id": "x", "from": "+33612345678", "text": "a" * 70000}
    )
    assert response.status_code == 413
