"""Customers: identities, named advisor, merging duplicates (RELIABILITY T05, A02)."""

from __future__ import annotations

import pytest
from django.utils import translation

from guichet.accounts.models import User
from guichet.accounts.services import agent_create
from guichet.conversations.models import Conversation, Event
from guichet.conversations.services import customer_merge
from guichet.core.exceptions import Conflict, InvalidInput, NotAllowed
from guichet.customers.identities import KINDS, format_phone, normalise
from guichet.customers.models import Customer, Identity
from guichet.customers.services import (
    customer_create,
    customer_find_by_identity,
    customer_get_or_create,
    customer_update,
    identity_add,
)


@pytest.fixture(autouse=True)
def _messages_in_english():
    """The tests read error messages in English; the install default is French."""
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("email", "  Claire.Dupont@Example.ORG ", "claire.dupont@example.org"),
        ("phone", "06 12 34 56 78", "+33612345678"),
        ("phone", "06.12.34.56.78", "+33612345678"),
        ("phone", "+33 (0)6 12 34 56 78", "+33612345678"),
        ("phone", "+44 20 7946 0958", "+442079460958"),
        ("phone", "0033 1 42 68 53 00", "+33142685300"),
        ("chat", "  visitor-42 ", "visitor-42"),
    ],
)
def test_normalise(kind: str, raw: str, expected: str) -> None:
    assert normalise(kind, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("email", "pas-une-adresse", "not a valid email address"),
        ("email", "a\x00b@example.org", "not a valid email address"),
        ("email", "a@exa\ud800mple.org", "not a valid email address"),
        ("email", "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".org", "not a valid email address"),
        ("phone", "123", "not a valid phone number"),
        ("phone", "06 12 34", "not a valid phone number"),
        ("phone", "bonjour", "not a valid phone number"),
        ("phone", "06" * 5000, "not a valid phone number"),
        ("chat", "", "between 1 and 254"),
        ("chat", "x" * 255, "between 1 and 254"),
        ("chat", "a\x00b", "control characters"),
        ("chat", "a\ud800b", "control characters"),
        ("fax", "0612345678", "Unknown kind"),
    ],
)
def test_normalise_refuses_with_a_clear_message(kind: str, raw: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        normalise(kind, raw)
    # The message quotes the input back, but printable and short.
    assert "\x00" not in str(caught.value)
    assert len(str(caught.value)) < 200


def test_identity_kinds_match_the_model() -> None:
    assert set(KINDS) == set(Identity.Kind.values)


def test_format_phone() -> None:
    assert format_phone("+33612345678") == "+33 6 12 34 56 78"


@pytest.mark.django_db
def test_customer_has_any_number_of_identities() -> None:
    customer = customer_create(
        display_name="Claire Dupont",
        identities=[
            ("email", "Claire@Example.org"),
            ("email", "claire.pro@example.org"),
            ("phone", "06 12 34 56 78"),
            ("phone", "+44 20 7946 0958"),
        ],
    )
    assert sorted(customer.identities.values_list("kind", "value")) == [
        ("email", "claire.pro@example.org"),
        ("email", "claire@example.org"),
        ("phone", "+33612345678"),
        ("phone", "+442079460958"),
    ]
    assert customer_find_by_identity(kind="phone", value="+33 6 12 34 56 78") == customer
    assert customer_find_by_identity(kind="email", value="CLAIRE@example.org") == customer
    assert customer_find_by_identity(kind="email", value="nobody@example.org") is None
    # Adding the same identity again is harmless.
    identity_add(customer=customer, kind="email", value="claire@example.org")
    assert customer.identities.count() == 4


@pytest.mark.django_db
def test_identity_of_another_customer_is_refused() -> None:
    claire = customer_create(display_name="Claire", identities=[("email", "claire@example.org")])
    other = customer_create(display_name="Autre", identities=[])
    with pytest.raises(InvalidInput, match="merge"):
        identity_add(customer=other, kind="email", value="Claire@example.org")
    assert Identity.objects.get(value="claire@example.org").customer == claire


@pytest.mark.django_db
def test_invalid_identity_rolls_back_the_new_customer() -> None:
    with pytest.raises(InvalidInput):
        customer_create(display_name="X", identities=[("email", "x@example.org"), ("phone", "12")])
    assert not Customer.objects.exists()
    assert not Identity.objects.exists()


@pytest.mark.django_db
def test_get_or_create_finds_by_normalised_value() -> None:
    first, created = customer_get_or_create(kind="phone", value="06 12 34 56 78")
    again, created_again = customer_get_or_create(
        kind="phone", value="+33612345678", display_name="Marc"
    )
    assert created and not created_again
    assert first == again
    again.refresh_from_db()
    assert again.display_name == "Marc"  # a name learnt later fills the blank


@pytest.mark.django_db
def test_named_advisor(agent: User) -> None:
    customer = customer_create(display_name="Claire", identities=[])
    assert customer_update(customer=customer, advisor=agent) == ["advisor"]
    assert customer_update(customer=customer, advisor=agent) == []
    customer.refresh_from_db()
    assert customer.advisor == agent
    assert customer_update(customer=customer, clear_advisor=True) == ["advisor"]
    customer.refresh_from_db()
    assert customer.advisor is None


# --- merging ----------------------------------------------------------------------------------


@pytest.fixture
def duplicates(ingest, agent):
    """Two records of the same person, each with a conversation in `team`."""
    first = ingest(sender="claire@example.org", sender_name="Claire Dupont")
    second = ingest(sender="c.dupont@example.org", sender_name="")
    identity_add(customer=second.conversation.customer, kind="phone", value="06 12 34 56 78")
    customer_update(customer=first.conversation.customer, advisor=agent)
    return first.conversation.customer, second.conversation.customer


@pytest.mark.django_db
def test_merge_moves_identities_and_conversations_and_records_events(duplicates, supervisor):
    target, source = duplicates
    source_conversations = list(source.conversations.values_list("number", flat=True))
    merged = customer_merge(actor=supervisor, source=source, target=target)
    assert merged == target
    source.refresh_from_db()
    assert source.merged_into == target
    assert set(target.identities.values_list("value", flat=True)) == {
        "claire@example.org",
        "c.dupont@example.org",
        "+33612345678",
    }
    assert not source.identities.exists()
    assert Conversation.objects.filter(customer=source).count() == 0
    assert target.conversations.count() == 2
    merged_event = Event.objects.get(verb="customer.merged", customer=target)
    assert merged_event.actor == supervisor
    assert merged_event.data["conversations"] == source_conversations
    assert Event.objects.filter(verb="customer.merged_away", customer=source).count() == 1
    moved = Conversation.objects.get(number=source_conversations[0])
    assert moved.events.filter(verb="customer.changed").count() == 1
    # The merged-away record resolves to the target from now on.
    assert customer_find_by_identity(kind="email", value="c.dupont@example.org") == target


@pytest.mark.django_db
def test_merge_keeps_name_and_advisor(ingest, agent, supervisor):
    target = ingest(sender="sans-nom@example.org", sender_name="").conversation.customer
    source = ingest(sender="nom@example.org", sender_name="Paul Durand").conversation.customer
    customer_update(customer=source, advisor=agent)
    customer_merge(actor=supervisor, source=source, target=target)
    target.refresh_from_db()
    assert target.display_name == "Paul Durand"
    assert target.advisor == agent


@pytest.mark.django_db
def test_merge_both_ways_the_second_is_refused(duplicates, supervisor):
    a, b = duplicates
    customer_merge(actor=supervisor, source=a, target=b)
    with pytest.raises(Conflict):
        customer_merge(actor=supervisor, source=b, target=a)
    with pytest.raises(Conflict):
        customer_merge(actor=supervisor, source=a, target=b)
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.merged_into == b and b.merged_into is None
    assert Event.objects.filter(verb="customer.merged").count() == 1


@pytest.mark.django_db
def test_merge_into_itself_is_refused(duplicates, supervisor):
    a, _b = duplicates
    with pytest.raises(InvalidInput):
        customer_merge(actor=supervisor, source=a, target=a)


@pytest.mark.django_db
def test_agents_cannot_merge(duplicates, agent):
    a, b = duplicates
    with pytest.raises(NotAllowed):
        customer_merge(actor=agent, source=a, target=b)
    a.refresh_from_db()
    assert a.merged_into is None


@pytest.mark.django_db
def test_supervisor_of_another_team_cannot_merge_customers_they_cannot_see(
    duplicates, other_team, admin_user
):
    a, b = duplicates
    elsewhere = agent_create(
        username="sv2", password=None, role=User.Role.SUPERVISOR, teams=[other_team]
    )
    with pytest.raises(NotAllowed):
        customer_merge(actor=elsewhere, source=a, target=b)
    assert not Event.objects.filter(verb="customer.merged").exists()
    customer_merge(actor=admin_user, source=a, target=b)  # an administrator sees everyone


@pytest.mark.django_db
def test_merge_failure_after_the_change_writes_nothing(duplicates, supervisor, monkeypatch):
    from guichet.conversations import services

    a, b = duplicates

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "event_record", broken)
    with pytest.raises(RuntimeError):
        customer_merge(actor=supervisor, source=a, target=b)
    a.refresh_from_db()
    assert a.merged_into is None
    assert a.identities.count() == 1
    assert a.conversations.count() == 1


@pytest.mark.django_db
def test_ingest_after_merge_lands_on_the_target(duplicates, supervisor, ingest):
    target, source = duplicates
    customer_merge(actor=supervisor, source=source, target=target)
    result = ingest(sender="C.Dupont@example.org")
    assert result.conversation.customer == target
