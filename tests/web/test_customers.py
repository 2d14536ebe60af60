"""The customer page: identities, edit, merge."""

from __future__ import annotations

import re

import pytest

from guichet.conversations.models import Conversation, Event
from guichet.customers.models import Customer, Identity

pytestmark = pytest.mark.django_db


def test_customer_page(ingest, agent, login) -> None:
    first = ingest(sender="marie@example.org", sender_name="Marie Curie")
    ingest(sender="+33612345678", sender_kind="phone", channel="sms", sender_name="Marie")
    customer = first.conversation.customer
    phone_customer = Customer.objects.exclude(pk=customer.pk).get()
    Identity.objects.filter(customer=phone_customer).update(customer=customer)
    Conversation.objects.filter(customer=phone_customer).update(customer=customer)
    body = login(agent).get(f"/customers/{customer.pk}/").content.decode()
    assert "Marie Curie" in body and "marie@example.org" in body
    assert "+33 6 12 34 56 78" in body
    assert len(re.findall(r'href="/c/\d+/"', body)) == 2


def test_add_identity(ingest, agent, login) -> None:
    customer = ingest().conversation.customer
    client = login(agent)
    response = client.post(
        f"/customers/{customer.pk}/identities", {"kind": "phone", "value": "06 11 22 33 44"}
    )
    assert response.status_code == 302
    assert customer.identities.filter(value="+33611223344").exists()
    assert Event.objects.filter(customer=customer, verb="customer.identity_added").exists()
    response = client.post(
        f"/customers/{customer.pk}/identities", {"kind": "phone", "value": "nope"}
    )
    assert (
        response.status_code == 400 and "is not a valid phone number" in response.content.decode()
    )


def test_add_identity_of_another_customer(ingest, agent, login) -> None:
    customer = ingest(sender="a@example.org").conversation.customer
    ingest(sender="b@example.org")
    response = login(agent).post(
        f"/customers/{customer.pk}/identities", {"kind": "email", "value": "B@example.org"}
    )
    assert response.status_code == 400
    assert "merge the two instead" in response.content.decode()


def test_edit_name_and_advisor(ingest, agent, agent2, login) -> None:
    customer = ingest().conversation.customer
    client = login(agent)
    response = client.post(
        f"/customers/{customer.pk}/edit",
        {
            "display_name": "Marie Curie",
            "preferred_language": "fr",
            "advisor": agent2.pk,
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.display_name == "Marie Curie" and customer.advisor == agent2
    assert Event.objects.filter(customer=customer, verb="customer.updated").exists()
    client.post(f"/customers/{customer.pk}/edit", {"display_name": "Marie Curie", "advisor": ""})
    customer.refresh_from_db()
    assert customer.advisor is None


def test_merge_by_supervisor(ingest, supervisor, login) -> None:
    keep = ingest(sender="a@example.org").conversation
    duplicate = ingest(sender="b@example.org").conversation
    client = login(supervisor)
    response = client.post(f"/customers/{keep.customer_id}/merge", {"other": duplicate.customer_id})
    assert response.status_code == 302
    assert Conversation.objects.get(pk=duplicate.pk).customer_id == keep.customer_id
    assert set(
        Identity.objects.filter(customer_id=keep.customer_id).values_list("value", flat=True)
    ) == {"a@example.org", "b@example.org"}
    again = client.post(f"/customers/{keep.customer_id}/merge", {"other": keep.customer_id})
    assert again.status_code == 400


def test_merge_refused_to_agents(ingest, agent, login) -> None:
    keep = ingest(sender="a@example.org").conversation
    duplicate = ingest(sender="b@example.org").conversation
    response = login(agent).post(
        f"/customers/{keep.customer_id}/merge", {"other": duplicate.customer_id}
    )
    assert response.status_code == 403
    assert Customer.objects.get(pk=duplicate.customer_id).merged_into is None
    assert (
        "Merge a duplicate"
        not in login(agent).get(f"/customers/{keep.customer_id}/").content.decode()
    )
