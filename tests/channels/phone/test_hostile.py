"""Hostile input on the public phone endpoints (RELIABILITY W05): the callback page, the voice
menu webhook and the caller lookup answer a clear 4xx, never a 500, and store nothing half-way."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet.channels.phone.models import CallbackRequest
from guichet.conversations.models import Conversation, Message
from guichet.customers.models import Customer

pytestmark = pytest.mark.django_db

TOKEN = "telephony-token-for-tests"
HOSTILE = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        ["\x00", "\u202e0612345678", "0612345678", "+33612345678", "9" * 500, "2026-13-45", "25:99"]
    ),
)
FORM = st.fixed_dictionaries(
    {},
    optional={
        "number": HOSTILE,
        "name": HOSTILE,
        "day": st.one_of(HOSTILE, st.dates().map(str)),
        "from_time": st.one_of(HOSTILE, st.times().map(lambda t: t.strftime("%H:%M"))),
        "until_time": st.one_of(HOSTILE, st.times().map(lambda t: t.strftime("%H:%M"))),
        "note": HOSTILE,
        "conversation": HOSTILE,
        "website": st.sampled_from(["", "x"]),
    },
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | HOSTILE,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)
IVR = st.fixed_dictionaries(
    {},
    optional={
        "number": st.one_of(HOSTILE, JSON_VALUE),
        "call_id": st.one_of(HOSTILE, JSON_VALUE),
        "language": st.one_of(HOSTILE, JSON_VALUE),
        "from": st.one_of(HOSTILE, st.sampled_from(["2030-01-01T10:00:00+01:00"]), JSON_VALUE),
        "until": st.one_of(HOSTILE, JSON_VALUE),
        "team": JSON_VALUE,
    },
)


def _clean(value):
    # The test client cannot send NUL or lone surrogates in a form body; browsers can't either.
    return (
        value.replace("\x00", "").encode("utf-8", "replace").decode()
        if isinstance(value, str)
        else value
    )


def _counts():
    return (
        Conversation.objects.count(),
        Message.objects.count(),
        Customer.objects.count(),
        CallbackRequest.objects.count(),
    )


PUBLIC = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings(max_examples=60, **PUBLIC)
@given(form=FORM)
def test_the_callback_page_answers_hostile_forms_clearly(team, settings, form):
    settings.PUBLIC_HOURLY_LIMIT_PER_IP = 10_000
    settings.CALLBACK_HOURLY_LIMIT_PER_NUMBER = 10_000
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    before = _counts()
    response = Client().post("/callback/", {k: _clean(v) for k, v in form.items()})
    assert response.status_code in (302, 400, 429)
    if response.status_code != 302:
        assert _counts() == before
    else:
        assert _counts()[3] in (before[3], before[3] + 1)


@settings(max_examples=60, **PUBLIC)
@given(payload=st.one_of(IVR, JSON_VALUE))
def test_the_voice_menu_webhook_answers_hostile_payloads_clearly(team, settings, payload):
    settings.PHONE_API_TOKEN = TOKEN
    settings.CALLBACK_HOURLY_LIMIT_PER_NUMBER = 10_000
    before = _counts()
    response = Client().post(
        "/phone/ivr/callback", payload, content_type="application/json",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )  # fmt: skip
    assert response.status_code in (200, 400, 429), response.content
    if response.status_code != 200:
        assert _counts() == before


@settings(max_examples=40, **PUBLIC)
@given(number=HOSTILE, token=st.one_of(st.none(), HOSTILE))
def test_the_lookup_answers_hostile_queries_clearly(db, settings, number, token):
    settings.PHONE_API_TOKEN = TOKEN
    headers = {} if token is None else {"Authorization": f"Bearer {_clean(token)}"}
    try:
        response = Client().get("/phone/lookup", {"number": _clean(number)}, headers=headers)
    except ValueError:  # a header with a line break cannot be sent
        return
    assert response.status_code in (401, 403)
    response = Client().get(
        "/phone/lookup", {"number": _clean(number)}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code in (200, 400)


@settings(max_examples=40, **PUBLIC)
@given(ref=HOSTILE)
def test_the_status_page_answers_hostile_references_with_404(db, ref):
    from urllib.parse import quote

    # As a browser sends it; a forged or expired reference tells nothing about real requests.
    response = Client().get(f"/callback/status/{quote(_clean(ref), safe='') or 'x'}/")
    assert response.status_code == 404


def test_the_status_page_refuses_a_reference_signed_for_something_else(team):
    from django.core import signing

    from guichet.channels.phone.services import callback_request_from_contact, conversation_ref

    callback = callback_request_from_contact(number="0612345678", source="page")
    # A conversation reference (another salt) or an unsigned id never opens a status page.
    refs = (conversation_ref(callback.conversation), str(callback.pk), signing.dumps(callback.pk))
    for ref in refs:
        assert Client().get(f"/callback/status/{ref}/").status_code == 404
