"""Writers for chat: a visitor's message, an agent's reply, the console's presence.

Every customer message goes through `message_ingest` (channel "chat", identity kind "chat", joined
to the visitor's open chat conversation). Pushing lines to open windows happens after commit, in
`push.py`; nothing here talks to the network.

A customer message is stored in two steps so that the agents' consoles get it first:
`chat_message_store` commits the message (the ingest hooks, triage, are held back), and
`chat_message_settle` then runs the hooks in a transaction of their own and, for a new
conversation nobody can answer now, acknowledges it (on the team triage chose).
`chat_message_receive` does both, for callers that push once at the end (the pages).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.channels.acknowledgements import acknowledgement_allowed, acknowledgement_record
from guichet.channels.chat import selectors
from guichet.channels.chat.models import AgentPresence
from guichet.channels.chat.selectors import ChatLine
from guichet.conversations.content import clean_text
from guichet.conversations.hooks import ingest_hooks_deferred, ingest_hooks_run_many
from guichet.conversations.models import Conversation, Event, Message
from guichet.conversations.services import (
    conversation_reply,
    event_record,
    message_delivery_status_set,
    message_ingest_many,
)
from guichet.conversations.types import InboundMessage, IngestResult
from guichet.core.exceptions import GuichetError, InvalidInput
from guichet.customers.identities import normalise_email

MAX_NAME = 200
MAX_CLIENT_ID = 64


@dataclass(frozen=True)
class ChatReceived:
    conversation: Conversation
    message: Message
    lines: list[ChatLine]  # the message, then the acknowledgement when one was given
    created: bool  # False for a retry of a message already stored (same client id)
    conversation_created: bool = False
    # Ingest hooks held back by `chat_message_store`, for `chat_message_settle`.
    hooks_pending: list[tuple[InboundMessage, IngestResult]] = field(default_factory=list)


@dataclass(frozen=True)
class ChatSettled:
    conversation: Conversation  # as the hooks left it (triage may have moved it to a team)
    lines: list[ChatLine]  # the acknowledgement when one was given
    team_changed: bool


def chat_message_receive(
    *,
    visitor_id: str,
    text: str,
    name: str = "",
    email: str = "",
    language: str = "",
    client_id: str = "",
) -> ChatReceived:
    """Store a visitor's message, run the ingest hooks, and acknowledge a new conversation when
    no agent is available: `chat_message_store` then `chat_message_settle`."""
    received = chat_message_store(
        visitor_id=visitor_id,
        text=text,
        name=name,
        email=email,
        language=language,
        client_id=client_id,
    )
    settled = chat_message_settle(received)
    return dataclasses.replace(
        received,
        conversation=settled.conversation,
        lines=[*received.lines, *settled.lines],
        hooks_pending=[],
    )


@dataclass(frozen=True)
class ChatIncoming:
    """A visitor's message, checked and cleaned (`chat_message_check`), not stored yet."""

    visitor_id: str
    text: str
    name: str
    email: str
    language: str
    client_id: str

    def inbound(self) -> InboundMessage:
        return InboundMessage(
            channel="chat",
            sender_kind="chat",
            sender_value=self.visitor_id,
            sender_name=self.name,
            text=self.text,
            language=self.language[:8],
            thread_on_open=True,
            external_id=f"{self.visitor_id}:{self.client_id}" if self.client_id else "",
        )


def chat_message_check(
    *,
    visitor_id: str,
    text: str,
    name: str = "",
    email: str = "",
    language: str = "",
    client_id: str = "",
) -> ChatIncoming:
    """Check and clean a visitor's message (`InvalidInput` with a message for the visitor)."""
    if not isinstance(text, str) or not isinstance(name, str) or not isinstance(email, str):
        raise InvalidInput(_("Write a message."))
    text = clean_text(text).strip()
    if not text:
        raise InvalidInput(_("Write a message."))
    if len(text) > settings.CHAT_MESSAGE_MAX_CHARS:
        raise InvalidInput(
            _("A chat message can have at most %(max)d characters.")
            % {"max": settings.CHAT_MESSAGE_MAX_CHARS}
        )
    name = clean_text(name, MAX_NAME).strip()
    email = normalise_email(email) if email.strip() else ""
    client_id = clean_text(str(client_id or ""), MAX_CLIENT_ID).strip()
    return ChatIncoming(visitor_id, text, name, email, language, client_id)


def chat_message_store(
    *,
    visitor_id: str,
    text: str,
    name: str = "",
    email: str = "",
    language: str = "",
    client_id: str = "",
) -> ChatReceived:
    """Store a visitor's message and commit, holding the ingest hooks back for
    `chat_message_settle` (which the caller must run next, even when the push failed).

    `client_id` (chosen by the browser per message) makes a resent message idempotent.
    Name and email are what the visitor typed: recorded on the timeline, never as verified
    identities (RELIABILITY W08).
    """
    incoming = chat_message_check(
        visitor_id=visitor_id,
        text=text,
        name=name,
        email=email,
        language=language,
        client_id=client_id,
    )
    return chat_message_store_many([incoming])[0]


def chat_message_store_many(batch: Sequence[ChatIncoming]) -> list[ChatReceived]:
    """`chat_message_store` for checked messages of several visitors, in one transaction (one
    commit, set-based reads and writes: `message_ingest_many`); all are stored or none."""
    with ingest_hooks_deferred() as hooks_pending, transaction.atomic():
        results = message_ingest_many([incoming.inbound() for incoming in batch])
        for incoming, result in zip(batch, results, strict=True):
            name, email = incoming.name, incoming.email
            if result.created and (email or (name and result.conversation_created)):
                language = translation.override(incoming.language) if incoming.language else None
                with language or nullcontext():
                    actor_name = name or _("Chat visitor")
                event_record(
                    verb="chat.contact_left",
                    conversation=result.conversation,
                    actor_name=actor_name,
                    data={"name": name, "email": email, "verified": False},
                )
    hooks_of: dict[int, list[tuple[InboundMessage, IngestResult]]] = {}
    for inbound, result in hooks_pending:
        hooks_of.setdefault(result.message.pk, []).append((inbound, result))
    return [
        ChatReceived(
            result.conversation,
            result.message,
            [selectors.message_line(result.message, result.conversation.number)],
            created=result.created,
            conversation_created=result.conversation_created,
            hooks_pending=hooks_of.get(result.message.pk, []) if result.created else [],
        )
        for result in results
    ]


def chat_message_settle(received: ChatReceived) -> ChatSettled:
    """What follows a stored message, in one transaction: the ingest hooks held back (triage:
    language, intent, team, priority, whether automatic replies stop), then, for a new
    conversation whose team has no agent available, the acknowledgement.

    The conversation is read again, locked, so that the hooks act on what is stored now (an
    agent may have answered since the message was committed).
    """
    return chat_message_settle_many([received])[0]


def chat_message_settle_many(batch: Sequence[ChatReceived]) -> list[ChatSettled]:
    """`chat_message_settle` for messages in the order they were stored, in one transaction:
    their conversations read again and locked at once (in id order), the held-back hooks run for
    the whole batch (triage then reads and writes set-based, and runs the intent model once),
    then the acknowledgements. A chat moved to another team says so on its first message of the
    batch only."""
    created = [received for received in batch if received.created]
    if not created:
        return [ChatSettled(received.conversation, [], team_changed=False) for received in batch]
    with transaction.atomic():
        locked = {
            conversation.pk: conversation
            for conversation in Conversation.objects.select_for_update(of=("self",))
            .select_related("customer", "team__calendar")
            .filter(pk__in={received.conversation.pk for received in created})
            .order_by("pk")
        }
        team_before = {pk: conversation.team_id for pk, conversation in locked.items()}
        ingest_hooks_run_many(
            [
                (inbound, dataclasses.replace(result, conversation=locked[result.conversation.pk]))
                for received in created
                for inbound, result in received.hooks_pending
            ]
        )
        available: dict[int | None, bool] = {}
        settled: list[ChatSettled] = []
        told: set[int] = set()
        for received in batch:
            conversation = locked.get(received.conversation.pk, received.conversation)
            lines: list[ChatLine] = []
            if received.created and received.conversation_created:
                team = conversation.team
                if conversation.team_id not in available:
                    available[conversation.team_id] = selectors.agents_available(team=team)
                # The shared rule (once per window across channels; none when triage handed
                # the chat straight to a person): the widget still says no one is online.
                if not available[conversation.team_id] and acknowledgement_allowed(
                    conversation, "chat"
                ):
                    event = _acknowledge(conversation)
                    lines.append(selectors.acknowledgement_line(conversation, event))
            moved = (
                received.created
                and conversation.pk not in told
                and conversation.team_id != team_before[conversation.pk]
            )
            if moved:
                told.add(conversation.pk)
            settled.append(ChatSettled(conversation, lines, team_changed=moved))
    return settled


def _acknowledge(conversation: Conversation) -> Event:
    """The time-to-human promise, once per conversation (DESIGN promises 2 and 3)."""
    due = conversation.first_human_response_due
    return acknowledgement_record(
        conversation=conversation,
        channel="chat",
        data={"due": due.isoformat() if due else "", "reason": "no_agent_online"},
    )


def chat_reply(*, actor: User, number: int, text: str) -> Message:
    """An agent's answer from the chat console; the chat sender pushes it after commit."""
    actor = User.objects.get(pk=actor.pk)  # revocation is checked per action (RELIABILITY A03)
    ids = selectors.console_conversation_ids(user=actor, numbers=[number])
    return _reply(actor, ids.get(number), text)


def _reply(actor: User, conversation_id: int | None, text: str) -> Message:
    if conversation_id is None:
        raise InvalidInput(_("This chat does not exist or is not yours to answer."))
    # `conversation_reply` reads the row again, locked, and checks visibility again.
    return conversation_reply(actor=actor, conversation=Conversation(pk=conversation_id), text=text)


def chat_reply_many(replies: Sequence[tuple[User, int, str]]) -> list[Message | Exception]:
    """`chat_reply` for (actor, number, text) answers from several consoles, in one transaction
    (one commit for all). Each agent is read again once for the batch, in that transaction
    (revocation is still checked before acting, RELIABILITY A03), with the chats it may answer
    among those named. Each answer is stored in a savepoint of its own: a refused one (not the
    agent's chat, closed, agent gone) gets its error in its place and the others are stored.
    Any other error rolls the whole batch back and is raised. The chat sender runs for each
    stored reply after the commit."""
    results: list[Message | Exception] = []
    with transaction.atomic():
        actors = User.objects.in_bulk({actor.pk for actor, _number, _text in replies})
        numbers: dict[int, set[int]] = {}
        for actor, number, _text in replies:
            numbers.setdefault(actor.pk, set()).add(number)
        ids = {
            pk: selectors.console_conversation_ids(user=actors[pk], numbers=sorted(wanted))
            for pk, wanted in numbers.items()
            if pk in actors
        }
        for actor, number, text in replies:
            try:
                with transaction.atomic():
                    fresh = actors.get(actor.pk)
                    if fresh is None:
                        raise User.DoesNotExist(f"user {actor.pk} does not exist")
                    results.append(_reply(fresh, ids[actor.pk].get(number), text))
            except (GuichetError, User.DoesNotExist) as error:
                results.append(error)
    return results


def chat_replies_sent(*, message_ids: Sequence[int]) -> None:
    """Agents' replies the console pushed to the customer's windows: marked sent, in one
    transaction (see `push.pushes_collected`)."""
    with transaction.atomic():
        for message_id in message_ids:
            message_delivery_status_set(message_id=message_id, status=Message.DeliveryStatus.SENT)


def presence_touch(*, user: User, accepting: bool | None = None) -> AgentPresence:
    """The agent's console is open (a page load or a WebSocket heartbeat)."""
    defaults: dict[str, object] = {"last_seen_at": timezone.now()}
    if accepting is not None:
        defaults["accepting"] = accepting
    presence, _created = AgentPresence.objects.update_or_create(user=user, defaults=defaults)
    return presence


def presence_leave(*, user: User) -> None:
    """The console closed: the agent stops counting as available at once."""
    gone = timezone.now() - timedelta(seconds=settings.CHAT_PRESENCE_SECONDS + 1)
    AgentPresence.objects.filter(user=user).update(last_seen_at=gone)
