"""GET /phone/lookup: token-protected caller lookup for the telephony system's screen pop."""

from __future__ import annotations

import pytest
from django.test import Client

from guichet.conversations.models import Conversation
from guichet.conversations.services import customer_identity_add

pytestmark = pytest.mark.django_db

TOKEN = "telephony-token-for-tests"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.PHONE_API_TOKEN = TOKEN


def lookup(number, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return Client().get("/phone/lookup", {"number": number}, headers=headers)


def test_without_a_token_401_with_a_wrong_one_403(settings):
    assert lookup("0612345678", token=None).status_code == 401
    assert lookup("0612345678", token="wrong").status_code == 403
    settings.PHONE_API_TOKEN = ""
    assert lookup("0612345678", token="").status_code == 401
    assert lookup("0612345678", token="anything").status_code == 403


def test_finds_the_customer_by_any_spelling_of_the_number_and_lists_open_conversations(
    ingest, agent
):
    first = ingest(sender="client@example.org")
    closed = ingest(sender="client@example.org", text="Autre chose")
    Conversation.objects.filter(pk=closed.conversation.pk).update(status="closed")
    customer = first.conversation.customer
    customer_identity_add(actor=agent, customer=customer, kind="phone", value="06 12 34 56 78")
    for spelling in ("0612345678", "+33 6 12 34 56 78", "+33612345678", "06.12.34.56.78"):
        response = lookup(spelling)
        assert response.status_code == 200
        data = response.json()
        assert data["number"] == "+33612345678"
        [found] = data["customers"]
        assert found["id"] == customer.pk
        assert [c["number"] for c in found["open_conversations"]] == [first.conversation.number]
        assert found["open_conversations"][0]["path"] == f"/c/{first.conversation.number}/"


def test_unknown_number_answers_an_empty_list_and_a_bad_one_400(db):
    assert lookup("+33699999999").json() == {"number": "+33699999999", "customers": []}
    assert lookup("not a number").status_code == 400
    assert lookup("").status_code == 400
    assert lookup("\x00" * 200).status_code == 400
