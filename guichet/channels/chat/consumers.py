"""WebSocket consumers: the visitor's chat window and the agent's chat console.

Frames are JSON objects with a `type`. Visitor → server: `hello` {token, language}, `message`
{text, name, email, id}. Server → visitor: `welcome` {available, lines, token}, `session` {token},
`line` (a transcript line), `error` {message, id}. Agent → server: `ping`, `reply` {number, text,
id}, `accepting` {value}. Server → agent: `ready`, `line` (with customer and subject), `error`.
Database work runs in the chat's own threads (`db.chat_db`), one job after the other per
WebSocket and off the consumer's receive loop (`_Serial`), so that lines pushed through the layer
keep reaching a window while its own message or reply is being stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import connection
from django.db.models import prefetch_related_objects
from django.utils import translation
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.accounts.permissions import is_admin, team_ids
from guichet.channels.chat import push, selectors, services
from guichet.channels.chat.db import LATER, REPLY, URGENT, chat_db
from guichet.channels.chat.visitor import (
    ADMINS_GROUP,
    COOKIE_NAME,
    team_group,
    visitor_from_token,
    visitor_group,
    visitor_id_new,
    visitor_token,
)
from guichet.core.exceptions import GuichetError

MAX_FRAME_CHARS = 20_000
RATE_WINDOW_SECONDS = 60.0
PING_TOUCH_SECONDS = 10.0
MAX_PENDING = 50  # jobs waiting for the database, per WebSocket
DRAIN_SECONDS = 30.0  # how long a closed WebSocket's pending jobs may still take
SETTLE_BATCH = 8  # stored messages triaged in one transaction (short: a store may wait behind)
STORE_BATCH = 20  # customer messages stored in one transaction, at most
STORE_WORKERS = 2  # transactions storing customer messages at once (PostgreSQL; SQLite: 1)
REPLY_BATCH = 5  # agents' replies in one transaction, at most (short: a store may wait behind)
SENT_BATCH = 50  # replies marked sent in one transaction, at most

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_R = TypeVar("_R")


class _Serial:
    """Runs a WebSocket's database jobs one after the other, in order, off its receive loop.

    A consumer handles its frames and the layer's events one at a time: awaiting the database in
    the handler would hold back every line pushed to that window meanwhile (an agent's console
    stops receiving while its reply waits to be stored). Jobs are queued here instead; each job
    handles its own errors. On disconnect the jobs already received still run (a message the
    server accepted is stored), within `DRAIN_SECONDS`.
    """

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Callable[[], Awaitable[None]] | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def pending(self) -> int:
        return self.queue.qsize()

    def add(self, job: Callable[[], Awaitable[None]]) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        self.queue.put_nowait(job)

    async def _run(self) -> None:
        while (job := await self.queue.get()) is not None:
            try:
                await job()
            except Exception:
                logger.exception("Chat job failed")

    async def close(self) -> None:
        if self.task is None:
            return
        self.queue.put_nowait(None)
        try:
            await asyncio.wait_for(self.task, DRAIN_SECONDS)
        except TimeoutError:
            logger.warning("Chat jobs of a closed WebSocket did not finish in time")


def _language(value: object, scope: dict[str, Any]) -> str:
    codes = dict(settings.LANGUAGES)
    if isinstance(value, str) and value[:2] in codes:
        return value[:2]
    cookie = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME, "")
    return cookie[:2] if cookie[:2] in codes else settings.LANGUAGE_CODE


def _welcome(visitor_id: str | None, language: str) -> dict[str, Any]:
    with translation.override(language):
        conversation = selectors.visitor_conversation(visitor_id=visitor_id)
        team = conversation.team if conversation else selectors.chat_team()
        lines = selectors.chat_transcript(conversation=conversation) if conversation else []
        return {
            "type": "welcome",
            "available": selectors.agents_available(team=team),
            "lines": [line.payload() for line in lines],
        }


def _pushed(
    conversation: Any,
    lines: list[selectors.ChatLine],
    console_lines: list[selectors.ChatLine],
    visitor_ids: list[str] | None = None,
) -> dict[str, Any]:
    visitors, consoles = push.line_groups(conversation, visitor_ids)
    return {
        "visitor_groups": visitors,
        "console_groups": consoles,
        "lines": [line.payload() for line in lines],
        "console_lines": [push.console_payload(line, conversation) for line in console_lines],
    }


def _store_many(
    batch: list[tuple[services.ChatIncoming, str]],
) -> list[tuple[dict[str, Any], services.ChatReceived] | Exception]:
    """Store checked messages of several windows in one transaction (hooks held back), and what
    to push at once for each. When the batch fails, each message is stored on its own, so that
    only a faulty one gets the error."""
    try:
        stored = services.chat_message_store_many([incoming for incoming, _language in batch])
    except Exception as error:
        if len(batch) == 1:
            return [error]
        return [_store_many([item])[0] for item in batch]
    # What the pushes need, read for the whole batch: customers' names, windows' groups.
    conversations = [received.conversation for received in stored]
    prefetch_related_objects(conversations, "customer")
    visitor_ids = selectors.visitor_ids_of_many(conversations)
    results: list[tuple[dict[str, Any], services.ChatReceived] | Exception] = []
    for (_incoming, language), received in zip(batch, stored, strict=True):
        conversation = received.conversation
        with translation.override(language):
            pushed = _pushed(
                conversation, received.lines, received.lines, visitor_ids[conversation.customer_id]
            )
        results.append((pushed, received))
    return results


class _Batcher(Generic[_T, _R]):
    """Runs `many` (in the chat's database threads) over the items of this process's windows
    waiting when a thread is free, at most `size` at a time: under load one transaction, one
    commit and set-based reads serve many items instead of one. `many` returns one result or
    exception per item, in order. With one worker, items are handled in the order they came.
    """

    def __init__(
        self,
        many: Callable[[list[_T]], list[_R | Exception]],
        *,
        size: int,
        workers: int = 1,
        priority: int = URGENT,
        then: Callable[[list[_R | Exception]], Awaitable[None]] | None = None,
    ) -> None:
        self.many = chat_db(many, priority=priority)
        self.then = then  # run on the batch's results before they are handed over
        self.size = size
        self.queue: asyncio.Queue[tuple[_T, asyncio.Future[_R]]] = asyncio.Queue()
        self.tasks = [asyncio.create_task(self._run()) for _n in range(workers)]

    def submit(self, item: _T) -> asyncio.Future[_R]:
        done: asyncio.Future[_R] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((item, done))
        return done

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.size and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            results: list[_R | Exception]
            try:
                results = await self.many([item for item, _done in batch])
            except Exception as error:  # the database call itself failed
                results = [error] * len(batch)
            if self.then is not None:
                try:
                    await self.then(results)
                except Exception:
                    logger.exception("Chat batch follow-up failed")
            for (_item, done), result in zip(batch, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)


def _reply_many(
    batch: list[tuple[User, int, str]],
) -> list[push.ReplyPush | Exception | None]:
    """Store agents' replies in one transaction; for each, its push (left to the console: the
    database thread does not wait for the event loop) or its error. When the batch fails, each
    reply is stored on its own, so that only a faulty one gets the error."""
    with push.replies_collected() as committed:
        try:
            stored = services.chat_reply_many(batch)
        except Exception as error:
            if len(batch) == 1:
                return [error]
            return [_reply_many([item])[0] for item in batch]
    pushes = push.reply_pushes(committed) if committed else {}
    return [result if isinstance(result, Exception) else pushes.get(result.pk) for result in stored]


async def _stored_push(
    results: list[tuple[dict[str, Any], services.ChatReceived] | Exception],
) -> None:
    """The customer messages of a batch, committed: to the consoles, at once."""
    await push.lines_push_many([r[0] for r in results if not isinstance(r, Exception)])


async def _replies_push(results: list[push.ReplyPush | Exception | None]) -> None:
    """The replies of a batch, committed: to the customers and the consoles, at once; then
    marked sent."""
    pushes = [r for r in results if isinstance(r, push.ReplyPush)]
    await push.lines_push_many([pushed.push for pushed in pushes])
    for pushed in pushes:
        _batcher("sent").submit(pushed.message_id)


def _replies_sent(message_ids: list[int]) -> list[Exception | None]:
    try:
        services.chat_replies_sent(message_ids=message_ids)
    except Exception:  # the replies are stored and pushed; only their status is behind
        logger.exception("Could not mark chat replies %s sent", message_ids)
    return [None] * len(message_ids)


def _settled_push(settled: services.ChatSettled) -> dict[str, Any] | None:
    """What to push once a message is settled, if anything."""
    if not settled.lines and not settled.team_changed:
        return None
    # Moved by triage to another team: that team's consoles get the whole chat (consoles
    # ignore the lines they already have).
    console_lines = (
        selectors.chat_transcript(conversation=settled.conversation)
        if settled.team_changed
        else settled.lines
    )
    return _pushed(settled.conversation, settled.lines, console_lines)


def _settle_many(batch: list[tuple[services.ChatReceived, str]]) -> list[dict[str, Any] | None]:
    """Run the held-back hooks and the acknowledgements of messages, in the order they were
    stored; what to push then, for each. Messages of one language are settled together
    (`chat_message_settle_many`, in that language); when such a group fails, each of its
    messages is settled on its own (a failure is logged and leaves the message as stored)."""
    results: list[dict[str, Any] | None] = []
    for language, group in itertools.groupby(batch, key=lambda item: item[1]):
        received = [item[0] for item in group]
        with translation.override(language):
            try:
                settled = services.chat_message_settle_many(received)
            except Exception:
                if len(received) == 1:
                    logger.exception("Could not settle chat message %s", received[0].message.pk)
                    results.append(None)
                    continue
                logger.exception("Could not settle chat messages together; one by one")
                results.extend(_settle_many([(one, language) for one in received]))
                continue
            results.extend(_settled_push(one) for one in settled)
    return results


class _Settler:
    """Triage and acknowledgement of the stored customer messages of this process, in the order
    they were stored, in batches and at low priority: work nobody is watching for waits until
    the lines people wait for are stored and pushed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[services.ChatReceived, str, asyncio.Future[None]]] = (
            asyncio.Queue()
        )
        self.task = asyncio.create_task(self._run())

    def add(self, received: services.ChatReceived, language: str) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((received, language, done))
        return done

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < SETTLE_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                results = await chat_db(_settle_many, priority=LATER)(
                    [(received, language) for received, language, _done in batch]
                )
                await push.lines_push_many([pushed for pushed in results if pushed])
            except Exception:
                logger.exception("Could not settle chat messages")
            finally:
                for _received, _language, done in batch:
                    if not done.done():
                        done.set_result(None)


_settlers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Settler] = (
    weakref.WeakKeyDictionary()
)
_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Batcher[Any, Any]]] = (
    weakref.WeakKeyDictionary()
)


def _settler() -> _Settler:
    loop = asyncio.get_running_loop()
    if loop not in _settlers:
        _settlers[loop] = _Settler()
    return _settlers[loop]


def _batcher(name: str) -> _Batcher[Any, Any]:
    """This event loop's batcher `name`: "store" (customers' messages), "reply" (agents'
    answers; one worker, so that an agent's answers are stored in the order typed), "sent"
    (replies pushed, marked sent)."""
    batchers = _batchers.setdefault(asyncio.get_running_loop(), {})
    if name not in batchers:
        if name == "store":
            workers = 1 if connection.vendor == "sqlite" else STORE_WORKERS
            batchers[name] = _Batcher(
                _store_many, size=STORE_BATCH, workers=workers, then=_stored_push
            )
        elif name == "reply":
            batchers[name] = _Batcher(
                _reply_many, size=REPLY_BATCH, priority=REPLY, then=_replies_push
            )
        else:
            batchers[name] = _Batcher(_replies_sent, size=SENT_BATCH, priority=LATER)
    return batchers[name]


class VisitorConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """One open chat window of a customer (the full page or the embedded widget)."""

    visitor_id: str | None = None
    language: str = "fr"

    async def connect(self) -> None:
        self.sent_at: list[float] = []
        self.jobs = _Serial()
        self.settling: set[asyncio.Future[None]] = set()
        self.language = _language(None, self.scope)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.jobs.close()
        if self.settling:  # the server may be stopping: let triage of this window's lines end
            await asyncio.wait(list(self.settling), timeout=DRAIN_SECONDS)
        if self.visitor_id:
            await self.channel_layer.group_discard(
                visitor_group(self.visitor_id), self.channel_name
            )

    async def _join(self, visitor_id: str) -> None:
        if self.visitor_id == visitor_id:
            return
        if self.visitor_id:
            await self.channel_layer.group_discard(
                visitor_group(self.visitor_id), self.channel_name
            )
        self.visitor_id = visitor_id
        await self.channel_layer.group_add(visitor_group(visitor_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self.send_json({"type": "error", "message": _("This message is too long.")})
            return
        try:
            await super().receive(text_data=text_data)
        except ValueError:  # not JSON
            await self.send_json({"type": "error", "message": _("Unreadable message.")})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "message": _("Unreadable message.")})
            return
        kind = content.get("type")
        if kind == "hello":
            self.language = _language(content.get("language"), self.scope)
            visitor_id = visitor_from_token(content.get("token")) or visitor_from_token(
                self.scope.get("cookies", {}).get(COOKIE_NAME)
            )
            if visitor_id:
                await self._join(visitor_id)
            language = self.language

            async def welcome() -> None:
                await self._send_open(await chat_db(_welcome)(visitor_id, language))

            self.jobs.add(welcome)
        elif kind == "message":
            await self._message(content)
        else:
            await self.send_json({"type": "error", "message": _("Unreadable message.")})

    async def _message(self, content: dict[str, Any]) -> None:
        now = time.monotonic()
        self.sent_at = [t for t in self.sent_at if now - t < RATE_WINDOW_SECONDS]
        if len(self.sent_at) >= settings.CHAT_MAX_MESSAGES_PER_MINUTE:
            await self.send_json(
                {
                    "type": "error",
                    "id": content.get("id"),
                    "message": _("You are sending messages too quickly. Wait a moment."),
                }
            )
            return
        self.sent_at.append(now)
        if not self.visitor_id:
            await self._join(visitor_id_new())
            await self.send_json({"type": "session", "token": visitor_token(str(self.visitor_id))})
        visitor_id, language = str(self.visitor_id), self.language

        async def store() -> None:
            try:
                with translation.override(language):
                    incoming = services.chat_message_check(
                        visitor_id=visitor_id,
                        text=content.get("text", ""),
                        name=content.get("name", "") or "",
                        email=content.get("email", "") or "",
                        language=language,
                        client_id=str(content.get("id", ""))[:64],
                    )
                # Stored with the other messages waiting, and pushed to the consoles (and
                # this window) as soon as committed, before this returns.
                _pushed, received = await _batcher("store").submit((incoming, language))
            except GuichetError as error:
                await self._send_open(
                    {"type": "error", "id": content.get("id"), "message": str(error)}
                )
                return
            # Then triage and the acknowledgement, off the path of the next line.
            if received.created:
                settling = _settler().add(received, language)
                self.settling.add(settling)
                settling.add_done_callback(self.settling.discard)

        self.jobs.add(store)

    async def _send_open(self, content: dict[str, Any]) -> None:
        """Send unless the window closed while the job waited."""
        with contextlib.suppress(Exception):
            await self.send_json(content)

    async def chat_line(self, event: dict[str, Any]) -> None:
        await self.send_json(event["line"])

    async def chat_lines(self, event: dict[str, Any]) -> None:
        for line in event["lines"]:
            await self.send_json(line)


def _console_groups(user: User) -> list[str]:
    if is_admin(user):
        return [ADMINS_GROUP]
    return [team_group(team_id) for team_id in team_ids(user)]


def _console_user(user_id: int) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True).first()


class ConsoleConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """An agent's chat console: lines of the chats of their teams, replies, presence."""

    user: User
    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4403)
            return
        self.user = user
        self.jobs = _Serial()
        self.groups_joined = await chat_db(_console_groups)(user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await chat_db(services.presence_touch)(user=user)
        self.touched = time.monotonic()
        await self.accept()
        await self.send_json({"type": "ready"})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if getattr(self, "jobs", None) is not None:
            await self.jobs.close()
        if getattr(self, "user", None) is not None:
            await chat_db(services.presence_leave)(user=self.user)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self.send_json({"type": "error", "message": _("This message is too long.")})
            return
        try:
            await super().receive(text_data=text_data)
        except ValueError:
            await self.send_json({"type": "error", "message": _("Unreadable message.")})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "ping":
            if time.monotonic() - self.touched > PING_TOUCH_SECONDS:
                self.touched = time.monotonic()
                self.jobs.add(self._touch)
            await self.send_json({"type": "pong"})
        elif kind == "accepting":
            accepting = bool(content.get("value"))

            async def accept() -> None:
                await chat_db(services.presence_touch, priority=LATER)(
                    user=self.user, accepting=accepting
                )

            self.jobs.add(accept)
        elif kind == "reply":
            await self._reply(content)

    async def _touch(self) -> None:
        await chat_db(services.presence_touch, priority=LATER)(user=self.user)

    async def _reply(self, content: dict[str, Any]) -> None:
        number = content.get("number")
        if isinstance(number, bool) or not isinstance(number, int):
            await self.send_json({"type": "error", "message": _("Unreadable message.")})
            return
        if self.jobs.pending() >= MAX_PENDING:
            await self.send_json(
                {
                    "type": "error",
                    "id": content.get("id"),
                    "message": _("You are sending messages too quickly. Wait a moment."),
                }
            )
            return
        text = str(content.get("text", ""))
        # Queued now, in the order typed, with the replies of the process's other consoles.
        storing = _batcher("reply").submit((self.user, number, text))

        async def store() -> None:
            try:
                await storing  # committed and pushed (`_replies_push`), or refused
            except GuichetError as error:
                with contextlib.suppress(Exception):
                    await self.send_json(
                        {"type": "error", "id": content.get("id"), "message": str(error)}
                    )
                return
            except User.DoesNotExist:
                with contextlib.suppress(Exception):
                    await self.close(code=4403)
                return

        self.jobs.add(store)

    async def chat_line(self, event: dict[str, Any]) -> None:
        await self.send_json(event["line"])

    async def chat_lines(self, event: dict[str, Any]) -> None:
        for line in event["lines"]:
            await self.send_json(line)
