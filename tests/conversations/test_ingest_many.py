"""`message_ingest_many`: the results of one-by-one `message_ingest`, with set-based writes.

The same mixed batch (new senders, known senders, replies threading into existing conversations,
duplicates within the batch and against the database, a refused message in the middle) is
ingested once message by message and once as a batch, each in a copy of the same starting state
(its own addresses and ids); the outcomes, the stored rows and triage's decisions must match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guichet.accounts.models import Team
from guichet.conversations.models import Conversation, Message, Status
from guichet.conversations.services import (
    IngestRefused,
    message_ingest,
    message_ingest_many,
)
from guichet.conversations.types import InboundAttachment, InboundMessage, IngestResult
from guichet.core.exceptions import InvalidInput
from guichet.core.services import sequence_next, sequence_next_many
from guichet.customers.models import Customer

pytestmark = pytest.mark.django_db


def _mail(tag: str, sender: str, ref: str, team: Team, **kwargs: Any) -> InboundMessage:
    values: dict[str, Any] = {
        "channel": "email",
        "sender_kind": "email",
        "sender_value": f"{sender}.{tag}@client.example.net",
        "sender_name": sender.title(),
        "subject": f"Sujet {ref}",
        "text": f"Bonjour, ma carte est bloquée ({ref}).",
        "external_id": f"{ref}.{tag}",
        "team_id": team.pk,
    }
    values.update(kwargs)
    return InboundMessage(**values)


def _setup(tag: str, team: Team) -> dict[str, Conversation]:
    """What is stored before the batch: a known sender with a conversation waiting on them."""
    known = message_ingest(_mail(tag, "known", "k0", team, sender_name=""))
    conversation = Conversation.objects.get(pk=known.conversation.pk)
    conversation.status = Status.WAITING_CUSTOMER
    conversation.save(update_fields=["status"])
    chat = message_ingest(
        _mail(tag, "chatter", "c0", team, channel="chat", sender_kind="chat", thread_on_open=True)
    )
    return {"known": conversation, "chat": chat.conversation}


def _batch(tag: str, team: Team, before: dict[str, Conversation]) -> list[InboundMessage]:
    return [
        _mail(tag, "alice", "a1", team),  # new sender
        _mail(tag, "known", "k1", team),  # known sender (gets a name), new conversation
        _mail(tag, "known", "k2", team, in_reply_to=(f"k0.{tag}",)),  # reply: joins, reopens
        _mail(tag, "alice", "a1", team),  # duplicate within the batch
        _mail(tag, "bad", "x1", team, sender_value="pas une adresse"),  # refused
        _mail(tag, "known", "k0", team),  # duplicate of a stored message
        _mail(tag, "alice", "a2", team, in_reply_to=(f"a1.{tag}",)),  # joins a1, same batch
        _mail(tag, "bob", "b1", team, conversation_number=before["known"].number),  # not his
        _mail(tag, "known", "k3", team, conversation_number=before["known"].number),  # his: joins
        _mail(
            tag,
            "chatter",
            "c1",
            team,
            channel="chat",
            sender_kind="chat",
            thread_on_open=True,
            attachments=(InboundAttachment("note.txt", b"hello", "text/plain"),),
        ),
        _mail(tag, "newchat", "n1", team, channel="chat", sender_kind="chat", thread_on_open=True),
        _mail(tag, "newchat", "n2", team, channel="chat", sender_kind="chat", thread_on_open=True),
        _mail(tag, "carol", "u1", team, text="C'est urgent, je veux parler à quelqu'un !"),
    ]


def _one_by_one(inbounds: list[InboundMessage]) -> list[IngestResult | str]:
    out: list[IngestResult | str] = []
    for inbound in inbounds:
        try:
            out.append(message_ingest(inbound))
        except InvalidInput as exc:
            out.append(f"refused: {exc}")
    return out


def _as_batch(inbounds: list[InboundMessage]) -> list[IngestResult | str]:
    try:
        results: list[IngestResult | str] = list(message_ingest_many(inbounds))
        return results
    except IngestRefused as refused:
        rest = [m for i, m in enumerate(inbounds) if i not in refused.errors]
        done = iter(message_ingest_many(rest))
        return [
            f"refused: {refused.errors[i]}" if i in refused.errors else next(done)
            for i in range(len(inbounds))
        ]


def _describe(tag: str, results: list[IngestResult | str]) -> dict[str, Any]:
    """Everything the batch changed, with this run's tag and numbers taken out."""

    def plain(value: str) -> str:
        return value.replace(f".{tag}", "")

    outcomes = []
    for result in results:
        if isinstance(result, str):
            outcomes.append(plain(result))
            continue
        outcomes.append(
            (
                plain(result.message.external_id),
                result.created,
                result.conversation_created,
                plain(result.conversation.subject),
            )
        )
    conversations = {}
    for conversation in Conversation.objects.filter(customer__identities__value__contains=tag):
        key = plain(conversation.subject)
        conversations[key] = {
            "status": conversation.status,
            "channel": conversation.channel,
            "customer": plain(conversation.customer.identities.get().value),
            "customer_name": conversation.customer.display_name,
            "language": conversation.language,
            "priority": conversation.priority,
            "intent": conversation.intent,
            "needs_decision": conversation.needs_decision,
            "replies_stopped": conversation.automatic_replies_stopped,
            "due": conversation.due_at is not None,
            "messages": [
                (plain(m.external_id), plain(m.author_name), m.attachments.count())
                for m in conversation.messages.order_by("id")
            ],
            # Hooks run for the whole batch after its writes, so two messages of one batch on
            # one conversation have their triage events after both messages' events: compare
            # the ingest's events in order and all events as a set.
            "ingest_events": [
                e.verb for e in conversation.events.order_by("id") if "triage" not in e.verb
            ],
            "events": sorted(
                (e.verb, sorted(k for k in e.data if k != "ms")) for e in conversation.events.all()
            ),
            "predictions": sorted(
                (p.kind, p.label, p.abstained, plain(" ".join(p.reasons)))
                for p in conversation.predictions.all()
            ),
        }
    customers = Customer.objects.filter(identities__value__contains=tag).count()
    return {"outcomes": outcomes, "conversations": conversations, "customers": customers}


@pytest.mark.parametrize("ingest_run", [_as_batch])
def test_a_mixed_batch_gives_the_results_of_one_by_one_ingest(
    team: Team, ingest_run: Callable[[list[InboundMessage]], list[IngestResult | str]]
) -> None:
    before_one = _setup("one", team)
    expected = _describe("one", _one_by_one(_batch("one", team, before_one)))
    before_many = _setup("many", team)
    got = _describe("many", ingest_run(_batch("many", team, before_many)))
    assert got["outcomes"] == expected["outcomes"]
    assert got["customers"] == expected["customers"]
    for key in expected["conversations"]:
        for field, value in expected["conversations"][key].items():
            assert (key, field, got["conversations"][key][field]) == (key, field, value)
    assert got["conversations"].keys() == expected["conversations"].keys()
    # And the batch did what the scenario says.
    assert expected["outcomes"][3][1:3] == (False, False)  # duplicate in the batch
    assert expected["outcomes"][4].startswith("refused")
    assert expected["outcomes"][5][1:3] == (False, False)  # duplicate of a stored message
    known = got["conversations"]["Sujet k0"]
    assert known["status"] == Status.OPEN  # reopened by the reply
    assert [m[0] for m in known["messages"]] == ["k0", "k2", "k3"]
    assert [m[0] for m in got["conversations"]["Sujet a1"]["messages"]] == ["a1", "a2"]
    assert [m[0] for m in got["conversations"]["Sujet n1"]["messages"]] == ["n1", "n2"]
    assert [m[0] for m in got["conversations"]["Sujet c0"]["messages"]] == ["c0", "c1"]
    assert known["customer_name"] == "Known"  # named by its first named message


def test_a_refused_message_writes_nothing_of_the_batch(team: Team) -> None:
    good = _mail("r", "alice", "a1", team)
    with pytest.raises(IngestRefused) as refused:
        message_ingest_many([good, _mail("r", "bad", "x", team, sender_value="nope"), good])
    assert list(refused.value.errors) == [1]
    assert not Message.objects.exists() and not Customer.objects.exists()
    with pytest.raises(InvalidInput):  # one message: the error itself, as before
        message_ingest(_mail("r", "bad", "x", team, channel="fax"))


def test_sequence_numbers_are_consecutive_and_shared(db: None) -> None:
    assert sequence_next_many(name="test", n=3, start=10) == [11, 12, 13]
    assert sequence_next(name="test") == 14
    assert sequence_next_many(name="test", n=0) == []
    assert sequence_next_many(name="test", n=2) == [15, 16]


def _queries_for(team: Team, count: int, tag: str) -> list[str]:
    inbounds = [_mail(tag, f"sender{n}", f"m{n}", team) for n in range(count)]
    inbounds += [_mail(tag, "sender0", f"again{n}", team) for n in range(count // 4)]
    with CaptureQueriesContext(connection) as queries:
        results = message_ingest_many(inbounds)
    assert all(r.created for r in results)
    return [
        re.sub(r'"s\d+_x\d+"', "sp", q["sql"]).split(" (")[0][:60] for q in queries.captured_queries
    ]


def test_queries_per_batch_do_not_grow_with_its_size(team: Team) -> None:
    """Set-based: as many queries for 5 messages as for 60 (the triage hook included), but for
    SQLite's limit of 999 parameters per statement, which splits the larger INSERTs."""
    message_ingest(_mail("warm", "w", "w", team))  # the sequence and caches exist
    small = _queries_for(team, 4, "small")
    large = _queries_for(team, 48, "large")
    if connection.vendor == "sqlite":
        assert set(large) == set(small)  # the same statements…
        extra = [q for q in large if q.startswith("INSERT")]
        assert len(large) - len(small) <= len(extra) - 4, (small, large)  # …some split in two
    else:
        assert len(large) == len(small), (small, large)
    assert len(small) <= 25, small
