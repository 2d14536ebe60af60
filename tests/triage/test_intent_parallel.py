"""Intent predictions shared with helper processes (`guichet.triage.intent.parallel`): the same
predictions as one process, alone or in a batch, whichever process computes them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from guichet.conversations.hooks import ingest_helpers
from guichet.triage.intent import IntentModel, model_store, parallel
from guichet.triage.intent.store import active_model_and_path, cache_clear
from guichet.triage.intent.training import examples_from_seed

TEXTS = [
    "On m'a volé ma carte bancaire hier soir, pouvez-vous la bloquer ?",
    "Someone stole my bank card",
    "Je voudrais résilier mon abonnement au plus vite",
    "I forgot my password and cannot log in",
    "Mon colis n'est toujours pas arrivé depuis trois semaines, c'est inadmissible",
    "where is my parcel",
    "qzxv blorptk wugga frenn",
    "",
    "Bonjour, je n'arrive pas à payer ma facture en ligne. " * 20,
    "Can I change the address on my account?",
    "Ma carte est bloquée depuis ce matin",
]


@pytest.fixture(scope="module")
def seed_model() -> IntentModel:
    examples = examples_from_seed()
    return IntentModel.fit([e.text for e in examples], [e.label for e in examples])


@pytest.fixture
def stored(settings: Any, tmp_path: Path, seed_model: IntentModel) -> Iterator[Path]:
    settings.DATA_DIR = tmp_path
    cache_clear()
    model_store(seed_model)
    yield tmp_path / "models"
    cache_clear()


def test_shares_keep_the_order_and_balance_the_characters() -> None:
    texts = ["a" * 10, "b" * 10, "c" * 10, "d" * 10, "e" * 200]
    shares = parallel._shares(texts, 2)
    assert [t for share in shares for t in share] == texts
    assert shares == [texts[:4], texts[4:]]
    assert [t for share in parallel._shares(["x"], 3) for t in share] == ["x"]


def test_helpers_predict_what_one_process_predicts(stored: Path) -> None:
    found = active_model_and_path()
    assert found is not None
    path, model = found
    alone = [model.predict(text) for text in TEXTS]
    assert model.predict_many(TEXTS) == alone
    with ingest_helpers(processes=1):  # as import_mail does: triage's helpers start
        assert parallel._POOL.get() is not None
        shared = parallel.predict_many(path, model, TEXTS)
        # The helper really answered: its share is not computed here.
        pool, _n = parallel._POOL.get()  # type: ignore[misc]
        assert pool.submit(parallel._helper_predict, str(path), TEXTS[-3:]).result() == alone[-3:]
    assert parallel._POOL.get() is None
    assert shared == alone


def test_a_failing_helper_share_is_predicted_here(
    stored: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = active_model_and_path()
    assert found is not None
    path, model = found
    with parallel.helpers_started(1):
        pool, _n = parallel._POOL.get()  # type: ignore[misc]
        monkeypatch.setattr(pool, "submit", _broken)
        assert parallel.predict_many(path, model, TEXTS) == model.predict_many(TEXTS)


def _broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("helper gone")


def test_no_helper_without_processes_or_model(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path  # no model trained here
    cache_clear()
    with parallel.helpers_started(1):
        assert parallel._POOL.get() is None
    with ingest_helpers(processes=0):
        assert parallel._POOL.get() is None
    cache_clear()
