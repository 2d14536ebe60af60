"""Property tests: random query strings on every agent page never give a 500.

Keys are each page's own parameters plus random ones; values are huge and negative numbers,
floats in exponent form, NUL and control characters, any Unicode text. A bad value is a 400 with a
message; an unknown key is ignored.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

INBOX_KEYS = ["view", "status", "priority", "team", "channel", "tag", "overdue", "snoozed", "sort"]
KNOWN_KEYS = [*INBOX_KEYS, "page", "q", "assignee", "customer", "conversation", "next", "id"]

NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.sampled_from(
        [
            "1e20",
            "9223372036854775808",
            "2147483648",
            "2147483647",
            "-0",
            "0x10",
            "1.5",
            "NaN",
            "inf",
            "١٢",
            " 7",
            "7\x00",
            "1_000",
        ]
    ),
)
VALUES = st.one_of(
    NUMBERS, st.text(max_size=60), st.text(alphabet="\x00\x01\x7f\ufffd", max_size=5)
)
KEYS = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(min_size=1, max_size=12))
QUERIES = st.lists(st.tuples(KEYS, VALUES), max_size=6)

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def pages(ingest, agent) -> tuple[Client, list[str]]:
    conversation = ingest().conversation
    client = Client(raise_request_exception=False)
    client.force_login(agent)
    return client, [
        "/",
        "/search/",
        f"/customers/{conversation.customer_id}/",
        f"/c/{conversation.number}/",
        "/c/new/",
    ]


@FUZZ
@given(query=QUERIES, which=st.integers(min_value=0, max_value=4))
@example(query=[("team", "9223372036854775808")], which=0)
@example(query=[("page", "99999999999999999999")], which=0)
@example(query=[("page", "1e20")], which=0)
@example(query=[("tag", "carte\x00")], which=0)
@example(query=[("q", "carte\x00")], which=1)
def test_random_query_strings_never_give_a_500(pages, query, which) -> None:
    client, urls = pages
    url = urls[which] + "?" + urlencode(query)
    response = client.get(url)
    assert response.status_code < 500, url
    if response.status_code == 400:
        assert 'role="alert"' in response.content.decode(), url


@FUZZ
@given(number=st.integers(min_value=0, max_value=10**30))
def test_any_number_in_an_agent_address_is_never_a_500(pages, number) -> None:
    client, _urls = pages
    for url in (f"/c/{number}/", f"/customers/{number}/", f"/attachments/{number}/"):
        assert client.get(url).status_code < 500, url
