"""The intent model: training, calibrated abstention, save/load, the active model, triage_train."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from guichet.triage.intent import IntentModel, active_model, model_store, predict
from guichet.triage.intent.store import cache_clear
from guichet.triage.intent.training import SEED_PATH, examples_from_seed

NONSENSE = ["qzxv blorptk wugga frenn", "zzzzzz", "", "!!!! ???"]


@pytest.fixture(scope="module")
def seed_model() -> IntentModel:
    examples = examples_from_seed()
    return IntentModel.fit([e.text for e in examples], [e.label for e in examples])


@pytest.fixture
def models_dir(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.DATA_DIR = tmp_path
    cache_clear()
    yield tmp_path / "models"
    cache_clear()


def test_seed_model_recognises_clear_messages_in_both_languages(seed_model: IntentModel) -> None:
    cases = {
        "On m'a volé ma carte bancaire hier soir": "card_lost_stolen",
        "Someone stole my bank card": "card_lost_stolen",
        "Je voudrais résilier mon abonnement": "cancellation",
        "I forgot my password and cannot log in": "account_access",
        "Mon colis n'est toujours pas arrivé": "delivery_status",
    }
    predictions = seed_model.predict_many(list(cases))
    got = {text: p.candidate for text, p in zip(cases, predictions, strict=True)}
    assert got == cases
    assert all(0.0 < p.confidence <= 1.0 for p in predictions)
    # the words that decided are words of the message
    stolen = predictions[0]
    assert stolen.reasons and all(
        r in "on m'a vole ma carte bancaire hier soir" for r in stolen.reasons
    )


def test_abstains_on_nonsense(seed_model: IntentModel) -> None:
    for text in NONSENSE:
        prediction = seed_model.predict(text)
        assert prediction.abstained, text
        assert prediction.label is None


def test_confidence_ranks_clear_above_vague(seed_model: IntentModel) -> None:
    clear = seed_model.predict("I lost my card, please block it now")
    vague = seed_model.predict("hello, I have a question")
    assert clear.confidence > vague.confidence


def test_out_of_scope_examples_are_learned_and_abstained_on() -> None:
    examples = examples_from_seed()
    texts = [e.text for e in examples] + [
        "What is the weather tomorrow?",
        "Quel temps fera-t-il demain ?",
        "Tell me a joke about cats",
        "Raconte-moi une blague sur les chats",
        "Who won the football match yesterday?",
        "Qui a gagné le match de foot hier ?",
    ]
    labels = [e.label for e in examples] + ["oos"] * 6
    model = IntentModel.fit(texts, labels, oos_label="oos")
    weather = model.predict("what will the weather be like tomorrow")
    assert weather.abstained and weather.label is None and weather.candidate == "oos"
    assert model.predict("I lost my card, please block it").label == "card_lost_stolen"


def test_save_load_round_trip(seed_model: IntentModel, tmp_path: Path) -> None:
    path = seed_model.save(tmp_path / "model")
    assert not list(path.glob("*.pkl"))
    loaded = IntentModel.load(path)
    texts = ["Je n'arrive pas à payer ma facture", "where is my parcel", *NONSENSE]
    assert loaded.predict_many(texts) == seed_model.predict_many(texts)
    assert loaded.version == seed_model.version
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["n_train"] == len(examples_from_seed())
    assert manifest["label_counts"]["card_lost_stolen"] == 6
    assert manifest["params"]["C"] == seed_model.params.C


def test_a_model_of_the_first_format_still_loads(seed_model: IntentModel, tmp_path: Path) -> None:
    """Models stored before the risk model (format 1) keep working: they abstain on confidence."""
    import numpy as np

    path = seed_model.save(tmp_path / "model")
    with np.load(path / "arrays.npz") as arrays:
        kept = {k: arrays[k] for k in ("word_idf", "char_idf", "weights", "bias")}
    np.savez(path / "arrays.npz", **kept)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(format=1, threshold=0.3)
    (path / "manifest.json").write_text(json.dumps(manifest))
    old = IntentModel.load(path)
    assert old.risk is None and old.neighbours is None
    assert "confidence 0.30" in old.description
    clear = old.predict("On m'a volé ma carte bancaire hier soir")
    assert clear.label == "card_lost_stolen"
    vague = old.predict("hello, I have a question about something")
    assert vague.abstained == (vague.confidence < 0.3)


def test_a_model_of_the_second_format_still_loads(seed_model: IntentModel, tmp_path: Path) -> None:
    """Format 2 had a risk model of five signals (no out-of-scope probability): still read."""
    import numpy as np

    path = seed_model.save(tmp_path / "model")
    with np.load(path / "arrays.npz") as arrays:
        kept = {k: arrays[k] for k in arrays.files}
    for key in ("risk_mean", "risk_scale", "risk_coef"):
        kept[key] = kept[key][:5]
    np.savez(path / "arrays.npz", **kept)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(format=2)
    (path / "manifest.json").write_text(json.dumps(manifest))
    old = IntentModel.load(path)
    assert old.risk is not None and len(old.risk.coef) == 5
    assert old.predict("On m'a volé ma carte bancaire hier soir").candidate == "card_lost_stolen"
    assert old.predict("zzzzzz").abstained


def test_out_of_scope_look_alikes_share_a_fold() -> None:
    """Cross-validation keeps near-identical out-of-scope rows in one fold (no optimistic OOS
    recall); in-scope rows are stratified over the folds."""
    import numpy as np

    from guichet.triage.intent.model import _folds

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 16))
    oos = np.repeat(centres, 4, axis=0) + 0.01 * rng.normal(size=(24, 16))
    in_scope = rng.normal(size=(30, 16))
    embedding = np.vstack([in_scope, oos])
    embedding /= np.linalg.norm(embedding, axis=1, keepdims=True)
    truth = np.array([0, 1] * 15 + [2] * 24)
    fold = _folds(truth, embedding, oos_index=2, folds=3, seed=0)
    for centre in range(6):
        assert len(set(fold[30 + 4 * centre : 34 + 4 * centre])) == 1
    for label in (0, 1):
        assert sorted(np.bincount(fold[truth == label])) == [5, 5, 5]
    assert set(fold[30:]) == {0, 1, 2}


def test_risk_model_is_fitted_and_stored(seed_model: IntentModel, tmp_path: Path) -> None:
    assert seed_model.risk is not None and seed_model.neighbours is not None
    # every in-scope training example is a neighbour, grouped by intent
    assert seed_model.neighbours.in_scope.shape[0] == len(examples_from_seed())
    assert seed_model.neighbours.offsets[-1] == len(examples_from_seed())
    loaded = IntentModel.load(seed_model.save(tmp_path / "model"))
    assert loaded.risk is not None
    assert list(loaded.risk.coef) == list(seed_model.risk.coef)


def test_load_refuses_an_unknown_format(seed_model: IntentModel, tmp_path: Path) -> None:
    path = seed_model.save(tmp_path / "model")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["format"] = 99
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="unknown model format"):
        IntentModel.load(path)


def test_active_model_is_the_newest_stored(seed_model: IntentModel, models_dir: Path) -> None:
    assert active_model() is None
    assert predict("I lost my card") is None
    first = model_store(seed_model)
    active = active_model()
    assert active is not None and active.version == seed_model.version
    second = model_store(seed_model)  # same version: stored under a new name, not overwritten
    assert first != second and first.is_dir()
    active = active_model()
    assert active is not None and active.version == second.name.removeprefix("intent-")
    prediction = predict("I lost my card, please block it")
    assert prediction is not None and prediction.label == "card_lost_stolen"
    assert prediction.model_version == second.name


def test_fit_needs_two_intents() -> None:
    with pytest.raises(ValueError, match="two intents"):
        IntentModel.fit(["a b", "c d"], ["x", "x"])


@pytest.mark.django_db
def test_triage_train_cold_start_from_seed(models_dir: Path) -> None:
    out = StringIO()
    call_command("triage_train", "--no-progress", stdout=out, stderr=StringIO())
    assert "seed: 72" in out.getvalue()
    model = active_model()
    assert model is not None
    assert model.manifest["n_train"] == 72
    assert model.manifest["sources"] == {"seed": 72}


@pytest.mark.django_db
def test_triage_train_reads_agents_corrections_and_csv(models_dir: Path, tmp_path: Path) -> None:
    from guichet.triage.models import TrainingExample

    for text in ["my heating is broken", "the radiator does not warm up", "no heating at home"]:
        TrainingExample.objects.create(
            task="intent", text=text, label="heating", source="correction"
        )
    TrainingExample.objects.create(task="language", text="bonjour", label="fr", source="correction")
    extra = tmp_path / "extra.csv"
    with extra.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["message", "intent"])
        for text in ["the tap is leaking", "water leak in the kitchen", "a pipe burst"]:
            writer.writerow([text, "leak"])
    call_command(
        "triage_train",
        "--seed",
        "never",
        "--csv",
        str(extra),
        "--text-column",
        "message",
        "--label-column",
        "intent",
        "--no-progress",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    model = active_model()
    assert model is not None
    assert model.manifest["label_counts"] == {"heating": 3, "leak": 3}
    assert model.predict("water is leaking from a pipe").candidate == "leak"


def test_seed_set_is_bilingual_and_balanced() -> None:
    with SEED_PATH.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["label"]] = counts.get(row["label"], 0) + 1
    assert len(counts) == 12 and set(counts.values()) == {6}


@pytest.mark.django_db
def test_triage_train_learns_intents_people_set_not_the_models_guesses(
    models_dir: Path, ingest: Any
) -> None:
    from guichet.conversations.models import Conversation
    from guichet.triage.models import Prediction

    texts = {
        "heating": ["my heating is broken", "the radiator is cold", "no heating since monday"],
        "leak": ["the tap is leaking", "water leak in the kitchen", "a pipe burst at home"],
    }
    for label, messages in texts.items():
        for text in messages:
            conversation = ingest(text=text, subject="").conversation
            Conversation.objects.filter(pk=conversation.pk).update(intent=label)
    # A conversation whose intent only the model wrote (never corrected) is not an example.
    guessed = ingest(text="my boiler makes a noise", subject="").conversation
    Conversation.objects.filter(pk=guessed.pk).update(intent="leak")
    Prediction.objects.create(
        conversation=guessed, kind="intent", model_version="intent-x", label="leak", confidence=0.9
    )
    call_command(
        "triage_train", "--seed", "never", "--no-progress", stdout=StringIO(), stderr=StringIO()
    )
    model = active_model()
    assert model is not None
    assert model.manifest["label_counts"] == {"heating": 3, "leak": 3}
    assert model.manifest["sources"] == {"conversation": 6}
