"""Registry of ingest hooks: layers above conversations (triage) act on every new inbound message.

A hook runs inside the ingest transaction, after the message and its events are written, so what it
changes (team, priority, a prediction) commits or rolls back with the message. It must be fast and
must not call the network; slow work belongs in a task queued with `transaction.on_commit`.

`message_ingest_many` writes a batch of messages, then runs each hook once for the batch: a hook
registered with a batch form (`many`) gets every new message of the batch in one call (in the
batch's order) and may do its own work set-based; a hook without one is called for each message in
turn. Hooks run one after the other (all of the batch through the first hook, then the second), and
only for messages created (not for duplicates). `message_ingest` is a batch of one.

A bulk import (`import_mail`) runs inside `ingest_helpers(processes=N)`: a hook registered with
`helpers` may then spread its batch work over N helper processes (triage's intent model), started
when the block is entered and stopped when it is left. Elsewhere no helper process exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guichet.conversations.types import InboundMessage, IngestResult
    from guichet.customers.models import Customer

IngestHook = Callable[["InboundMessage", "IngestResult"], None]
IngestBatchHook = Callable[[Sequence[tuple["InboundMessage", "IngestResult"]]], None]
IngestHelpers = Callable[[int], AbstractContextManager[None]]
_HOOKS: dict[str, IngestHook] = {}
_BATCH_HOOKS: dict[str, IngestBatchHook] = {}
_HELPERS: dict[str, IngestHelpers] = {}


def register_ingest_hook(
    name: str,
    hook: IngestHook,
    many: IngestBatchHook | None = None,
    helpers: IngestHelpers | None = None,
) -> None:
    """Called from an app's `AppConfig.ready()`; registering a name again replaces the hook.

    `many`, when given, is the same hook for a batch: called once with the (inbound, result) pairs
    of a batch, it must leave the same outcome as `hook` called on each pair in order.
    `helpers`, when given, is called with a number of processes by `ingest_helpers` and returns a
    context manager within which `many` may use that many helper processes (same outcome).
    """
    _HOOKS[name] = hook
    _BATCH_HOOKS.pop(name, None)
    _HELPERS.pop(name, None)
    if many is not None:
        _BATCH_HOOKS[name] = many
    if helpers is not None:
        _HELPERS[name] = helpers


def unregister_ingest_hook(name: str) -> None:
    _HOOKS.pop(name, None)
    _BATCH_HOOKS.pop(name, None)
    _HELPERS.pop(name, None)


@contextmanager
def ingest_helpers(*, processes: int) -> Iterator[None]:
    """A bulk ingest: within this block the hooks may use `processes` helper processes each for
    their CPU work (0: none). For a command that ingests many batches in a row (`import_mail`)."""
    with ExitStack() as stack:
        if processes > 0:
            for helpers in list(_HELPERS.values()):
                stack.enter_context(helpers(processes))
        yield


def ingest_hooks_run(inbound: InboundMessage, result: IngestResult) -> None:
    ingest_hooks_run_many([(inbound, result)])


_DEFERRED: ContextVar[list[tuple[InboundMessage, IngestResult]] | None] = ContextVar(
    "ingest_hooks_deferred", default=None
)


@contextmanager
def ingest_hooks_deferred() -> Iterator[list[tuple[InboundMessage, IngestResult]]]:
    """Within this block ingest hooks do not run: their (inbound, result) pairs are collected in
    the list yielded, for the caller to pass to `ingest_hooks_run_many` after the ingest commits,
    in a transaction of its own. For a channel where a person waits for the stored message (live
    chat: the agents' consoles); what the hooks change then commits after the message."""
    items: list[tuple[InboundMessage, IngestResult]] = []
    token = _DEFERRED.set(items)
    try:
        yield items
    finally:
        _DEFERRED.reset(token)


def ingest_hooks_run_many(items: Sequence[tuple[InboundMessage, IngestResult]]) -> None:
    if not items:
        return
    deferred = _DEFERRED.get()
    if deferred is not None:
        deferred.extend(items)
        return
    for name, hook in list(_HOOKS.items()):
        many = _BATCH_HOOKS.get(name)
        if many is not None and _HOOKS.get(name) is hook:
            many(items)
            continue
        for inbound, result in items:
            hook(inbound, result)


# --- customer merges -----------------------------------------------------------------------------

CustomerMergeHook = Callable[["Customer", "Customer"], None]
_MERGE_HOOKS: dict[str, CustomerMergeHook] = {}


def register_customer_merge_hook(name: str, hook: CustomerMergeHook) -> None:
    """Called from an app's `AppConfig.ready()`: `hook(source, target)` moves that app's rows of a
    duplicate customer to the customer it is merged into, inside the merge's transaction (an
    exception rolls the whole merge back). Registering a name again replaces the hook."""
    _MERGE_HOOKS[name] = hook


def unregister_customer_merge_hook(name: str) -> None:
    _MERGE_HOOKS.pop(name, None)


def customer_merge_hooks_run(source: Customer, target: Customer) -> None:
    for hook in list(_MERGE_HOOKS.values()):
        hook(source, target)
