"""Where the chat consumers run their database work: a small pool of threads of their own.

`channels.db.database_sync_to_async` runs everything on Django's one "thread-sensitive" thread,
shared by every consumer and every page of the process, and with SQLite (`CONN_MAX_AGE` 0) it
opens and closes a connection around each call. Under load the chat queued behind itself there.
Here the chat has its own pool:

- PostgreSQL: `CHAT_DB_THREADS` threads, each with its own persistent connection, so that
  customer messages and agent replies are stored side by side (and commit together);
- SQLite: one thread (SQLite has one writer at a time; more threads would only wait for the
  lock), whose connection stays open between calls instead of being reopened for each.

A connection left unusable or in a transaction by an error is closed, as Django does between
requests.

Jobs have a priority: `URGENT` ones (storing customers' messages, opening a window) are taken
first, then `REPLY` (an agent's answer), then `LATER` (triage and acknowledgement of stored
messages, presence), so that under load the lines people wait for are not queued behind
follow-up work.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from django.db import connections

CHAT_DB_THREADS = 4
SQLITE_KEEP_SECONDS = 60.0

_P = ParamSpec("_P")
_R = TypeVar("_R")
URGENT, REPLY, LATER = 0, 1, 2


class PriorityExecutor(Executor):
    """A pool of threads that runs the most urgent job waiting first (then in order of arrival)."""

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self.workers = workers
        for n in range(workers):
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True).start()

    def submit_with(self, priority: int, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((priority, next(self._order), (future, fn, args)))
        return future

    def each_thread(self, fn: Callable[[], Any], timeout: float = 10.0) -> None:
        """Run `fn` once in every thread of the pool (each waits for the others, so that no
        thread takes two), and wait for them."""
        barrier = threading.Barrier(self.workers, timeout=timeout)

        def once() -> None:
            fn()
            barrier.wait()

        futures = [self.submit_with(-1, once) for _n in range(self.workers)]
        for future in futures:
            future.result(timeout)

    def _work(self) -> None:
        while True:
            _priority, _order, (future, fn, args) = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as error:  # handed to the awaiting coroutine
                future.set_exception(error)


class _PriorityView(Executor):
    """The shared pool seen with one priority (what `run_in_executor` needs: `submit`)."""

    def __init__(self, pool: PriorityExecutor, priority: int) -> None:
        self.pool, self.priority = pool, priority

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self.pool.submit_with(self.priority, lambda: fn(*args, **kwargs))


_pool: PriorityExecutor | None = None


def _sqlite() -> bool:
    return bool(connections["default"].vendor == "sqlite")


def executor(priority: int = URGENT) -> Executor:
    global _pool
    if _pool is None:
        _pool = PriorityExecutor(1 if _sqlite() else CHAT_DB_THREADS, "chat-db")
    return _PriorityView(_pool, priority)


def _connections_tidy() -> None:
    """Django's `close_old_connections`, except that SQLite connections are kept a while."""
    for connection in connections.all(initialized_only=True):
        if connection.vendor != "sqlite":
            connection.close_if_unusable_or_obsolete()
            continue
        if connection.connection is None:
            continue
        opened = getattr(connection, "_chat_opened_at", None)
        if opened is None:
            connection._chat_opened_at = opened = time.monotonic()  # type: ignore[attr-defined]
        if (
            connection.in_atomic_block
            or connection.get_autocommit() != connection.settings_dict["AUTOCOMMIT"]
            or (connection.errors_occurred and not connection.is_usable())
            or time.monotonic() - opened > SQLITE_KEEP_SECONDS
        ):
            connection.close()
            connection._chat_opened_at = None  # type: ignore[attr-defined]
        else:
            connection.errors_occurred = False


class _ChatSyncToAsync(SyncToAsync):  # type: ignore[type-arg]
    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        _connections_tidy()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            _connections_tidy()


def chat_db(func: Callable[_P, _R], *, priority: int = URGENT) -> Callable[_P, Awaitable[_R]]:
    """`func` as a coroutine function running in the chat's database threads."""
    return _ChatSyncToAsync(  # type: ignore[return-value]
        func,
        thread_sensitive=False,
        executor=executor(priority),  # type: ignore[arg-type]
    )


def connections_close() -> None:
    """Close the database connections of the chat's threads (a test server stopping: the test
    database can then be dropped)."""
    if _pool is not None:
        _pool.each_thread(connections.close_all)
