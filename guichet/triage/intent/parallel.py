"""Intent predictions for a large batch, spread over helper processes during a bulk import.

The sentence embedding is most of the CPU an imported message costs (matrix products per token,
on one core), so a machine with more than one core runs it in parallel. Each helper process loads
the model folder this process uses and predicts its share of the batch's texts with the same
`IntentModel.predict_many`; this process predicts the first share meanwhile. A prediction
depends on its text only, so which process computes it does not change it.

Helpers exist only inside `helpers_started(processes)`, which triage registers with its ingest
hook (`conversations.hooks.ingest_helpers`, entered by `import_mail`): web and task processes,
which ingest a message at a time, never start one. Should a helper fail, its share is predicted
here instead.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from guichet.triage.intent.model import IntentModel, IntentPrediction
from guichet.triage.intent.store import active_model_and_path

logger = logging.getLogger(__name__)

MIN_TEXTS = 8  # fewer texts are not worth a round trip to another process

_POOL: ContextVar[tuple[ProcessPoolExecutor, int] | None] = ContextVar(
    "intent_helpers", default=None
)
_helper_models: dict[str, IntentModel] = {}  # in a helper process: by model folder


def _helper_model(path: str) -> IntentModel:
    model = _helper_models.get(path)
    if model is None:
        model = _helper_models[path] = IntentModel.load(path)
    return model


def _helper_start(path: str) -> None:
    """Load the model and the sentence encoder now, while the import starts, not on a batch."""
    _helper_model(path).predict_many(["warm up"])


def _helper_predict(path: str, texts: list[str]) -> list[IntentPrediction]:
    return _helper_model(path).predict_many(texts)


def _noop() -> None:
    return None


@contextmanager
def helpers_started(processes: int) -> Iterator[None]:
    """Within this block, `predict_many` shares large batches with `processes` helpers.

    No helper is started for 0 processes or when no model is trained yet.
    """
    found = active_model_and_path() if processes > 0 else None
    if found is None:
        yield
        return
    pool = ProcessPoolExecutor(
        max_workers=processes,
        # spawn, not fork: the parent holds database connections and BLAS threads.
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_helper_start,
        initargs=(str(found[0]),),
    )
    for _ in range(processes):
        pool.submit(_noop)  # each submit starts one more process, which loads the model
    token = _POOL.set((pool, processes))
    try:
        yield
    finally:
        _POOL.reset(token)
        pool.shutdown(wait=True, cancel_futures=True)


def _shares(texts: Sequence[str], n: int) -> list[list[str]]:
    """`texts` cut into n consecutive shares of about the same length in characters (the cost
    of a prediction grows with its text)."""
    total = sum(len(text) + 1 for text in texts)
    shares: list[list[str]] = [[] for _ in range(n)]
    done = 0
    for text in texts:
        size = len(text) + 1
        index = min(n - 1, (2 * done + size) * n // (2 * total))  # where its middle falls
        shares[index].append(text)
        done += size
    return shares


def predict_many(path: Path, model: IntentModel, texts: Sequence[str]) -> list[IntentPrediction]:
    """`model.predict_many(texts)` (`model` loaded from `path`), shared with the helpers."""
    helpers = _POOL.get()
    if helpers is None or len(texts) < MIN_TEXTS:
        return model.predict_many(texts)
    pool, processes = helpers
    first, *others = _shares(texts, processes + 1)
    futures: list[Future[list[IntentPrediction]]] = []
    try:
        futures = [pool.submit(_helper_predict, str(path), share) for share in others]
    except Exception:  # the pool is broken or shut down: predict here
        logger.exception("Intent helper processes unavailable; predicting here")
    predictions = model.predict_many(first)
    for index, share in enumerate(others):
        try:
            predictions += futures[index].result()
        except Exception:
            if futures:
                logger.exception("An intent helper process failed; predicting its share here")
            predictions += model.predict_many(share)
    return predictions
