"""Full-text search (guichet.conversations.search), on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import translation

from guichet.accounts.services import agent_create
from guichet.conversations.models import Message
from guichet.conversations.search import (
    search_conversations,
    search_customers,
    search_index_ensure,
)
from guichet.conversations.services import conversation_note_add, conversation_reply
from guichet.core.exceptions import InvalidInput
from guichet.customers.services import customer_create, customer_update, identity_add

pytestmark = pytest.mark.django_db

HOSTILE = [
    "'\"",
    '"',
    '"foo AND (',
    "AND (",
    "*",
    "NEAR(",
    "NEAR",
    "NOT",
    "%",
    "_",
    "\\",
    "\x00",
    "carte\x00bloquée",
    "a" * 10_000,
    "carte " * 5_000,
    "' OR 1=1 --",
    "-carte",
    "carte:*",
    "subject:carte",
    "^carte",
    "(carte OR",
    "!carte & |",
    "\u200b",
    "“carte",
    "''",
    "é" * 300,
]


def numbers(conversations):  # type: ignore[no-untyped-def]
    return [c.number for c in conversations]


def test_accents_either_way(ingest, agent):  # type: ignore[no-untyped-def]
    accented = ingest("Ma carte est bloquée depuis hier.").conversation
    plain = ingest("Ma carte est bloquee aussi, et le guichet est ferme.", sender="b@example.org")
    found = numbers(search_conversations(user=agent, query="carte bloquee"))
    assert accented.number in found and plain.conversation.number in found
    found = numbers(search_conversations(user=agent, query="BLOQUÉE"))
    assert accented.number in found and plain.conversation.number in found
    assert numbers(search_conversations(user=agent, query="fermé")) == [plain.conversation.number]


def test_english_stemming(ingest, agent):  # type: ignore[no-untyped-def]
    conversation = ingest("My card was declined at the shop.", sender="en@example.org").conversation
    assert numbers(search_conversations(user=agent, query="cards")) == [conversation.number]
    assert numbers(search_conversations(user=agent, query="declining")) == [conversation.number]


def test_french_plural(ingest, agent):  # type: ignore[no-untyped-def]
    # Porter on SQLite and the French snowball stemmer on PostgreSQL both fold this plural.
    conversation = ingest("Mes cartes ne fonctionnent plus.").conversation
    assert numbers(search_conversations(user=agent, query="carte")) == [conversation.number]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="French stemming: PostgreSQL only")
def test_french_stemming_postgresql(ingest, agent):  # type: ignore[no-untyped-def]
    conversation = ingest("Le virement a été bloqué par la banque.").conversation
    for query in ("virements bloquée", "virement bloquer", "virements bloque", "banques"):
        assert numbers(search_conversations(user=agent, query=query)) == [conversation.number]


def test_two_words_mean_both(ingest, agent):  # type: ignore[no-untyped-def]
    both = ingest("Le prélèvement de loyer est refusé.").conversation
    ingest("Le prélèvement est passé.", sender="x@example.org")
    ingest("Mon loyer augmente.", sender="y@example.org")
    assert numbers(search_conversations(user=agent, query="prélèvement loyer")) == [both.number]


def test_phrase(ingest, agent):  # type: ignore[no-untyped-def]
    phrase = ingest("Le code secret oublié, impossible de payer.").conversation
    apart = ingest(
        "Le code est bon mais le secret est oublié.", sender="z@example.org"
    ).conversation
    assert set(numbers(search_conversations(user=agent, query="code secret"))) == {
        phrase.number,
        apart.number,
    }
    assert numbers(search_conversations(user=agent, query='"code secret"')) == [phrase.number]
    # An unterminated quote is a phrase to the end.
    assert numbers(search_conversations(user=agent, query='"code secret')) == [phrase.number]


def test_subject_outbound_and_notes_found(ingest, agent):  # type: ignore[no-untyped-def]
    result = ingest("Bonjour.", subject="Résiliation assurance habitation")
    conversation = result.conversation
    assert numbers(search_conversations(user=agent, query="resiliation")) == [conversation.number]
    conversation_note_add(
        actor=agent, conversation=conversation, text="Client fidèle, geste commercial"
    )
    conversation_reply(actor=agent, conversation=conversation, text="Nous remboursons les frais.")
    assert numbers(search_conversations(user=agent, query="geste commercial")) == [
        conversation.number
    ]
    assert numbers(search_conversations(user=agent, query="remboursons")) == [conversation.number]


def test_one_result_per_conversation_with_snippet(ingest, agent):  # type: ignore[no-untyped-def]
    first = ingest("Ma carte est avalée par le distributeur. " + "Du texte sans intérêt. " * 30)
    ingest(
        "Toujours pas de carte, le distributeur de la gare l'a avalée.",
        conversation_number=first.conversation.number,
    )
    results = search_conversations(user=agent, query="distributeur")
    assert numbers(results) == [first.conversation.number]
    snippet = results[0].search_snippet
    assert "distributeur" in snippet and len(snippet) < 200


def test_snippet_around_match(ingest, agent):  # type: ignore[no-untyped-def]
    ingest("Introduction. " * 40 + "Le chéquier n'est jamais arrivé. " + "Fin. " * 40)
    [result] = search_conversations(user=agent, query="chequier")
    assert result.search_snippet.startswith("…") and "chéquier" in result.search_snippet


def test_results_are_loaded_with_related_rows(ingest, agent, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    for index in range(5):
        ingest("Question sur le plafond de paiement.", sender=f"p{index}@example.org")
    # The search, the rows with their relations, the snippet texts; on PostgreSQL also the
    # savepoint and the statement-timeout guard (4 more) and the search's second step, over all
    # messages, since the newest ones gave fewer results than asked for (1 more).
    with django_assert_max_num_queries(9 if connection.vendor == "postgresql" else 4):
        results = search_conversations(user=agent, query="plafond")
        assert len(results) == 5
        assert all(r.customer.display_name is not None and r.team.name for r in results)


def test_limit(ingest, agent):  # type: ignore[no-untyped-def]
    for index in range(6):
        ingest("Demande d'attestation.", sender=f"a{index}@example.org")
    assert len(search_conversations(user=agent, query="attestation", limit=4)) == 4


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_input_never_raises(ingest, agent, query):  # type: ignore[no-untyped-def]
    ingest("Ma carte est bloquée.")
    assert isinstance(search_conversations(user=agent, query=query), list)
    assert isinstance(search_customers(user=agent, query=query), list)


def test_control_characters_dropped_and_long_query_truncated(ingest, agent):  # type: ignore[no-untyped-def]
    conversation = ingest("Ma carte est bloquée.").conversation
    assert numbers(search_conversations(user=agent, query="carte\x00\x07 bloquée")) == [
        conversation.number
    ]
    assert numbers(search_conversations(user=agent, query="carte " + " " * 10_000 + "zzz")) == [
        conversation.number
    ]


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "\x00", '""', "*", "AND"])
def test_empty_query(ingest, agent, query):  # type: ignore[no-untyped-def]
    ingest()
    assert search_conversations(user=agent, query=query) == []
    assert search_customers(user=agent, query=query) == []


def test_permission_scoping(ingest, agent, outsider, supervisor, admin_user, other_team):  # type: ignore[no-untyped-def]
    ours = ingest("Opposition sur carte perdue.").conversation
    theirs = ingest("Opposition sur chéquier.", sender="o@example.org", team_id=other_team.pk)
    theirs = theirs.conversation
    assert numbers(search_conversations(user=agent, query="opposition")) == [ours.number]
    assert numbers(search_conversations(user=supervisor, query="opposition")) == [ours.number]
    assert numbers(search_conversations(user=outsider, query="opposition")) == [theirs.number]
    assert numbers(search_conversations(user=outsider, query="carte perdue")) == []
    assert set(numbers(search_conversations(user=admin_user, query="opposition"))) == {
        ours.number,
        theirs.number,
    }
    agent.is_active = False
    assert search_conversations(user=agent, query="opposition") == []


def test_agent_without_team_or_assignment_finds_nothing(ingest, db):  # type: ignore[no-untyped-def]
    loner = agent_create(username="seul", password=None, teams=[])
    customer = ingest("Succession à régler.", sender_name="Paul Succession").conversation.customer
    assert search_conversations(user=loner, query="succession") == []
    assert search_customers(user=loner, query="succession") == []
    assert search_customers(user=loner, query=customer.identities.get().value) == []


def test_few_teams_still_find_their_matches(ingest, agent, other_team):  # type: ignore[no-untyped-def]
    for index in range(60):
        ingest(
            f"Carte bloquée encore ({index}), carte bloquée toujours.",
            sender=f"n{index}@example.org",
            team_id=other_team.pk,
        )
    mine = ingest("Une carte.", sender="mine@example.org").conversation
    assert numbers(search_conversations(user=agent, query="carte", limit=5)) == [mine.number]


def test_index_follows_edit_and_delete(ingest, agent):  # type: ignore[no-untyped-def]
    # No service edits or deletes messages yet (retention and erasure will): the index is kept by
    # the database itself, whichever code writes.
    result = ingest("Je souhaite clôturer mon livret.")
    message = result.message
    assert numbers(search_conversations(user=agent, query="livret")) == [result.conversation.number]
    Message.objects.filter(pk=message.pk).update(text="Je souhaite ouvrir un compte joint.")
    assert search_conversations(user=agent, query="livret") == []
    assert numbers(search_conversations(user=agent, query="compte joint")) == [
        result.conversation.number
    ]
    Message.objects.filter(pk=message.pk).delete()
    assert search_conversations(user=agent, query="compte joint") == []


def test_index_follows_subject_change(ingest, agent):  # type: ignore[no-untyped-def]
    conversation = ingest("Bonjour.", subject="Changement d'adresse").conversation
    conversation.subject = "Procuration"
    conversation.save()
    assert search_conversations(user=agent, query="adresse") == []
    assert numbers(search_conversations(user=agent, query="procuration")) == [conversation.number]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite triggers")
def test_index_repaired_after_table_rebuild(ingest, agent):  # type: ignore[no-untyped-def]
    # A migration that rebuilds the table on SQLite drops its triggers; post_migrate puts them back.
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER conversations_message_fts_ai")
    stale = ingest("Mandat de prélèvement SEPA.").conversation
    assert search_conversations(user=agent, query="mandat") == []
    assert search_index_ensure() == ["conversations_message_fts_ai"]
    assert numbers(search_conversations(user=agent, query="mandat")) == [stale.number]
    fresh = ingest("Un autre mandat.", sender="m@example.org").conversation
    assert set(numbers(search_conversations(user=agent, query="mandat"))) == {
        stale.number,
        fresh.number,
    }
    assert search_index_ensure() == []


# --- customers ---------------------------------------------------------------------------------


def test_customer_by_email(ingest, agent):  # type: ignore[no-untyped-def]
    customer = ingest(
        sender="Jeanne.Dupre@Example.org", sender_name="Jeanne Dupré"
    ).conversation.customer
    assert search_customers(user=agent, query="  jeanne.dupre@example.ORG ") == [customer]
    assert search_customers(user=agent, query="other@example.org") == []


@pytest.mark.parametrize(
    "typed",
    [
        "06 12 34 56 78",
        "0612345678",
        "+33 6 12 34 56 78",
        "+33612345678",
        "06.12.34.56.78",
        "0033 6 12 34 56 78",
    ],
)
def test_customer_by_phone_any_format(ingest, agent, typed):  # type: ignore[no-untyped-def]
    customer = ingest(
        sender="+33612345678", sender_kind="phone", channel="sms"
    ).conversation.customer
    ingest(sender="+33698765432", sender_kind="phone", channel="sms")
    assert search_customers(user=agent, query=typed) == [customer]


def test_customer_by_name_without_accents(ingest, agent):  # type: ignore[no-untyped-def]
    helene = ingest(sender="h@example.org", sender_name="Hélène Lefèvre").conversation.customer
    ingest(sender="j@example.org", sender_name="Jean Lefort")
    assert search_customers(user=agent, query="helene") == [helene]
    assert search_customers(user=agent, query="LEFEVRE hélène") == [helene]
    assert search_customers(user=agent, query="lefe") == [helene]
    assert len(search_customers(user=agent, query="lef")) == 2


def test_customer_scoping_and_merged(ingest, agent, outsider, admin_user, other_team):  # type: ignore[no-untyped-def]
    from guichet.conversations.services import customer_merge

    ours = ingest(sender="m1@example.org", sender_name="Marie Curie").conversation.customer
    theirs = ingest(
        sender="m2@example.org", sender_name="Marie Curry", team_id=other_team.pk
    ).conversation.customer
    assert search_customers(user=agent, query="marie") == [ours]
    assert search_customers(user=agent, query="m2@example.org") == []
    assert search_customers(user=outsider, query="marie") == [theirs]
    assert set(search_customers(user=admin_user, query="marie")) == {ours, theirs}
    customer_merge(actor=admin_user, source=theirs, target=ours)
    assert search_customers(user=admin_user, query="marie") == [ours]
    # The merged customer's identities now lead to the survivor.
    assert search_customers(user=admin_user, query="m2@example.org") == [ours]


def test_customer_identity_match_first(ingest, agent):  # type: ignore[no-untyped-def]
    named = ingest(sender="a@example.org", sender_name="Paul Portal").conversation.customer
    owner = ingest(sender="b@example.org", sender_name="Zoé").conversation.customer
    identity_add(customer=owner, kind="portal", value="portal")
    assert search_customers(user=agent, query="portal") == [owner, named]


def test_customer_advisor_sees_customer_and_renames_are_indexed(db, team):  # type: ignore[no-untyped-def]
    advisor = agent_create(username="conseil", password=None)
    customer = customer_create(
        display_name="Octave Mirbeau", identities=[("email", "o@example.org")]
    )
    assert search_customers(user=advisor, query="octave") == []
    customer_update(customer=customer, advisor=advisor)
    assert search_customers(user=advisor, query="octave") == [customer]
    customer_update(customer=customer, display_name="Octavie Mirbeau")
    assert search_customers(user=advisor, query="octave") == []
    assert search_customers(user=advisor, query="octavie") == [customer]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement timeout is PostgreSQL's")
def test_a_search_that_runs_too_long_is_stopped_with_a_clear_error(db, monkeypatch):  # type: ignore[no-untyped-def]
    from guichet.conversations import search

    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    monkeypatch.setattr(search, "SEARCH_TIMEOUT_MS", 50)

    def slow(cursor):  # type: ignore[no-untyped-def]
        cursor.execute("SELECT pg_sleep(1), %s", (1,))
        return cursor.fetchall()

    def quick(cursor):  # type: ignore[no-untyped-def]
        cursor.execute("SELECT %s, NULL", (7,))
        return cursor.fetchall()

    with translation.override("en"), pytest.raises(InvalidInput, match="add a word"):
        search._run_with_timeout(slow)
    with connection.cursor() as cursor:  # the connection is usable and the timeout restored
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before
    assert search._run_with_timeout(quick) == [(7, None)]
