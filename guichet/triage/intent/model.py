"""The intent model: a linear SVM over TF-IDF words, TF-IDF characters and a sentence embedding,
with a calibrated confidence and an abstention rule chosen by cross-validation on training data.

Calibration: the SVM's scores become probabilities through a softmax whose temperature minimises
the log-loss of out-of-fold scores. Abstention ("a person decides"):

- the message holds no word the training data used in fewer than a fifth of its examples
  (nonsense, another language, an empty message), or
- the best intent is the out-of-scope label, when the training data had one, or
- the **risk** is over a threshold. The risk is a logistic regression, fitted on out-of-fold
  predictions of the training data, of "this automatic decision would be wrong" (a wrong intent,
  or a message that is not ours) from five signals: the calibrated confidence, its margin over the
  second intent, how close the message is to its nearest training examples (sentence embedding,
  cosine) overall and within the chosen intent, and how close it is to out-of-scope examples.
  With out-of-scope examples the threshold maximises in-scope accuracy + out-of-scope recall on
  out-of-fold predictions; without them it minimises wrong-automatic-decisions + `handoff_cost` x
  handoffs (a handoff costs less than a mistake).

Nothing here is fitted on anything but the texts given to `fit`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from guichet.triage.intent import features

FORMAT = 3
# format 1: no risk model, the threshold applies to the confidence; format 2: a risk model of
# five signals (no out-of-scope probability).
FORMATS_READ = (1, 2, 3)
ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class IntentPrediction:
    """What the model says about one message.

    `label` is None when the model abstains; `candidate` is then its best guess, for the record.
    `reasons` are the words that weighed most for the intent, for the timeline.
    """

    label: str | None
    confidence: float
    abstained: bool
    reasons: tuple[str, ...] = ()
    candidate: str | None = None
    model_version: str = ""


@dataclass
class Params:
    C: float = 0.5
    view_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # Weights of the (word, char, embedding) views tried by cross-validation; the best is kept.
    view_weight_candidates: tuple[tuple[float, float, float], ...] = (
        (1.0, 1.0, 2.0),
        (1.0, 1.0, 3.0),
    )
    folds: int = 5
    handoff_cost: float = 0.8
    content_df_ratio: float = 0.2
    # Neighbours for the risk signals: nearest training examples overall / within the intent.
    neighbours: int = 10
    class_neighbours: int = 3
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "C": self.C,
            "view_weights": list(self.view_weights),
            "view_weight_candidates": [list(c) for c in self.view_weight_candidates],
            "folds": self.folds,
            "handoff_cost": self.handoff_cost,
            "content_df_ratio": self.content_df_ratio,
            "neighbours": self.neighbours,
            "class_neighbours": self.class_neighbours,
            "seed": self.seed,
        }


def _folds(
    truth: np.ndarray, embedding: np.ndarray, oos_index: int | None, folds: int, seed: int
) -> np.ndarray:
    """The cross-validation fold of each training row.

    In-scope rows: stratified folds. Out-of-scope rows come in groups of look-alikes (a data set's
    "not ours" examples are often several phrasings of the same few requests): they are clustered
    on their sentence embedding and whole clusters go to one fold, so that a held-out "not ours"
    example has no near-twin in the fold's training data. Otherwise the out-of-fold out-of-scope
    recall, and so the abstention threshold chosen on it, is optimistic.
    """
    fold = np.zeros(len(truth), dtype=np.int64)
    in_scope = truth != oos_index if oos_index is not None else np.ones(len(truth), bool)
    rows = np.flatnonzero(in_scope)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, held) in enumerate(splitter.split(np.zeros(len(rows)), truth[rows])):
        fold[rows[held]] = k
    oos_rows = np.flatnonzero(~in_scope)
    if len(oos_rows):
        groups = _groups(embedding[oos_rows], max(folds, len(oos_rows) // 4), seed)
        sizes = np.bincount(groups)
        load = np.zeros(folds)
        # Largest groups first, each to the fold with the fewest rows so far.
        for group in np.argsort(-sizes, kind="stable"):
            k = int(load.argmin())
            fold[oos_rows[groups == group]] = k
            load[k] += sizes[group]
    return fold


def _groups(embedding: np.ndarray, n_groups: int, seed: int) -> np.ndarray:
    """Cluster label of each row (k-means on the unit sentence embeddings)."""
    from sklearn.cluster import KMeans

    if len(embedding) <= n_groups:
        return np.arange(len(embedding))
    kmeans = KMeans(n_clusters=n_groups, n_init=3, random_state=seed)
    labels: np.ndarray = kmeans.fit_predict(embedding.astype(np.float64))
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    best_t, best_loss = 1.0, math.inf
    rows = np.arange(len(truth))
    for t in np.logspace(-2.5, 1.0, 50):
        p = _softmax(scores, float(t))[rows, truth]
        loss = float(-np.log(np.clip(p, 1e-12, None)).mean())
        if loss < best_loss:
            best_t, best_loss = float(t), loss
    return best_t


def _choose_threshold(
    risk: np.ndarray,
    predicted: np.ndarray,
    truth: np.ndarray,
    has_content: np.ndarray,
    oos_index: int | None,
    handoff_cost: float,
) -> tuple[float, dict[str, float]]:
    """The abstention threshold on `risk` (abstain when risk >= threshold), chosen on
    out-of-fold data."""
    forced = ~has_content
    if oos_index is not None:
        forced = forced | (predicted == oos_index)
    in_scope = truth != oos_index if oos_index is not None else np.ones(len(truth), bool)
    grid = np.round(np.arange(0.05, 1.001, 0.01), 2)
    best: tuple[float, float, dict[str, float]] | None = None
    for t in grid:
        abstain = forced | (risk >= t)
        correct = (~abstain) & (predicted == truth) & in_scope
        in_acc = float(correct[in_scope].mean()) if in_scope.any() else 0.0
        handoff = float(abstain[in_scope].mean()) if in_scope.any() else 0.0
        stats = {"in_scope_accuracy": in_acc, "false_handoff_rate": handoff}
        if oos_index is not None and (~in_scope).any():
            recall = float(abstain[~in_scope].mean())
            stats["oos_recall"] = recall
            objective = in_acc + recall
        else:
            wrong = float(((~abstain) & (predicted != truth)).mean())
            objective = -(wrong + handoff_cost * float(abstain.mean()))
        if best is None or objective > best[0] + 1e-12:
            best = (objective, float(t), stats)
    assert best is not None
    return best[1], best[2]


@dataclass
class Neighbours:
    """Training sentence embeddings for the risk signals: in-scope rows grouped by intent
    (`offsets[i]:offsets[i + 1]` are intent i's rows), and the out-of-scope rows.

    Kept in a 128-dimension PCA projection of the embedding (re-normalised): one message's
    neighbours then read a quarter of the memory, which is what a matrix-vector product over
    10,000 rows costs; the cosines barely change.
    """

    in_scope: np.ndarray  # (n, DIM) float32, sorted by intent
    offsets: np.ndarray  # (n_classes + 1,) int64
    oos: np.ndarray  # (m, DIM) float32, m may be 0
    mean: np.ndarray  # (embedding dim,) float32
    projection: np.ndarray  # (embedding dim, DIM) float32

    DIM = 128

    @classmethod
    def build(
        cls, embedding: np.ndarray, truth: np.ndarray, n_classes: int, oos_index: int | None
    ) -> Neighbours:
        mean = embedding.mean(axis=0)
        # Principal axes of the training embeddings (rows of vt), the first DIM of them.
        _, _, vt = np.linalg.svd(embedding - mean, full_matrices=False)
        dim = min(cls.DIM, vt.shape[0])
        projection = np.ascontiguousarray(vt[:dim].T, dtype=np.float32)
        keep = truth != oos_index if oos_index is not None else np.ones(len(truth), bool)
        order = np.argsort(truth[keep], kind="stable")
        counts = np.bincount(truth[keep], minlength=n_classes)
        neighbours = cls(
            in_scope=np.zeros((0, dim), np.float32),
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            oos=np.zeros((0, dim), np.float32),
            mean=mean.astype(np.float32),
            projection=projection,
        )
        projected = neighbours.project(embedding)
        neighbours.in_scope = np.ascontiguousarray(projected[keep][order])
        neighbours.oos = np.ascontiguousarray(projected[~keep])
        return neighbours

    def project(self, embedding: np.ndarray) -> np.ndarray:
        z = (embedding - self.mean) @ self.projection
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        return (z / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def signals(
        self,
        embedding: np.ndarray,
        predicted: np.ndarray,
        params: Params,
        exclude: np.ndarray | None = None,
        exclude_oos_fold: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """(len(embedding), 3): mean cosine of the k nearest in-scope examples, of the nearest
        examples of the predicted intent (the out-of-scope examples for the out-of-scope label),
        of the nearest out-of-scope examples (0 without any). `exclude` (training rows' own index
        in `in_scope` / `oos`, -1 for none; shape (n, 2)) leaves each training example out of
        its own neighbours. `exclude_oos_fold` (the fold of each query row, -1 for none; the fold
        of each stored out-of-scope row) also leaves out the out-of-scope rows of the same fold."""
        out = np.zeros((len(embedding), 3), dtype=np.float64)
        projected = self.project(embedding)
        k = min(params.neighbours, max(1, len(self.in_scope) - 1))
        ko = min(params.neighbours, len(self.oos) - 1)
        for start in range(0, len(projected), 1024):
            rows = np.arange(start, min(start + 1024, len(projected)))
            sim = projected[rows] @ self.in_scope.T
            sim_oos = projected[rows] @ self.oos.T
            if exclude is not None:
                own = exclude[rows, 0]
                sim[np.flatnonzero(own >= 0), own[own >= 0]] = -1.0
                own = exclude[rows, 1]
                sim_oos[np.flatnonzero(own >= 0), own[own >= 0]] = -1.0
            if exclude_oos_fold is not None:
                row_fold, stored_fold = exclude_oos_fold
                same = row_fold[rows][:, None] == stored_fold[None, :]
                sim_oos[same] = -1.0
            out[rows, 0] = np.partition(sim, -k, axis=1)[:, -k:].mean(axis=1)
            if ko >= 1:
                out[rows, 2] = np.partition(sim_oos, -ko, axis=1)[:, -ko:].mean(axis=1)
            for r, label in zip(range(len(rows)), predicted[rows], strict=True):
                lo, hi = self.offsets[label], self.offsets[label + 1]
                within = sim[r, lo:hi] if hi > lo else sim_oos[r]
                kc = min(params.class_neighbours, len(within))
                if kc >= 1:
                    out[rows[r], 1] = np.partition(within, -kc)[-kc:].mean()
        return out


def _unseen_share(words: Sequence[str], known: set[str] | dict[str, int]) -> float:
    """Share of the message's words (unigrams) that no training example used."""
    unigrams = [w for w in words if " " not in w]
    if not unigrams:
        return 1.0
    return sum(1 for w in unigrams if w not in known) / len(unigrams)


def _risk_features(
    probabilities: np.ndarray, signals: np.ndarray, oos_index: int | None, unseen: np.ndarray
) -> np.ndarray:
    """Columns: log confidence, its margin over the second intent, the three neighbour signals,
    log P(out-of-scope label) (0 without one), the share of words unseen in training. Format-2
    models read the first five."""
    top = np.sort(probabilities, axis=1)[:, -2:]
    log_best = np.log(np.clip(top[:, -1], 1e-12, None))
    margin = log_best - np.log(np.clip(top[:, 0], 1e-12, None))
    if oos_index is None:
        log_oos = np.zeros(len(probabilities))
    else:
        log_oos = np.log(np.clip(probabilities[:, oos_index], 1e-12, None))
    return np.column_stack([log_best, margin, signals, log_oos, unseen])


@dataclass
class Risk:
    """Logistic regression over `_risk_features`, standardised: P(the decision would be wrong)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def fit(cls, x: np.ndarray, wrong: np.ndarray, seed: int) -> Risk | None:
        from sklearn.linear_model import LogisticRegression

        if wrong.all() or not wrong.any():
            return None
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        lr = LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
        lr.fit((x - mean) / scale, wrong)
        return cls(mean, scale, lr.coef_[0].astype(np.float64), float(lr.intercept_[0]))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass
class IntentModel:
    classes: list[str]
    word: Any  # fitted TfidfVectorizer (word 1-2 grams)
    char: Any  # fitted TfidfVectorizer (char_wb 2-5 grams)
    weights: np.ndarray  # (n_features, n_classes) float32
    bias: np.ndarray  # (n_classes,) float32
    temperature: float
    threshold: float
    oos_label: str | None
    params: Params
    content_terms: frozenset[str]
    neighbours: Neighbours | None = None
    risk: Risk | None = None  # None: abstain when the confidence is under the threshold
    version: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- training
    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        oos_label: str | None = None,
        progress: ProgressCallback | None = None,
        *,
        params: Params | None = None,
    ) -> IntentModel:
        """Train on (text, label) pairs. Rows labelled `oos_label` are "not ours" examples."""
        params = dataclasses.replace(params or Params())
        if len(texts) != len(labels):
            raise ValueError("texts and labels differ in length")
        started = time.perf_counter()
        texts = [features.normalize(t) for t in texts]
        labels = [str(label) for label in labels]
        classes = sorted(set(labels))
        in_scope_classes = [c for c in classes if c != oos_label]
        if len(in_scope_classes) < 2:
            raise ValueError("need examples of at least two intents")
        index = {c: i for i, c in enumerate(classes)}
        truth = np.array([index[label] for label in labels])
        counts = Counter(labels)
        folds = min(params.folds, min(counts.values()))
        n_batches = math.ceil(len(texts) / 256)
        candidates = list(dict.fromkeys(params.view_weight_candidates)) or [params.view_weights]
        total = n_batches + (folds * len(candidates) if folds >= 2 else 0) + 1
        done = 0

        def step(n: int, stage: str) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(min(done, total), total, stage)

        embedding = features.embed(texts, progress=lambda n: step(1, "embedding"))
        word = features.word_vectorizer()
        char = features.char_vectorizer()
        x_word = word.fit_transform(texts)
        x_char = char.fit_transform(texts)
        content_terms = cls._content_terms(word, x_word, params.content_df_ratio)
        oos_index = index.get(oos_label) if oos_label is not None else None
        neighbours: Neighbours | None = None
        risk: Risk | None = None
        # Out-of-fold scores choose the view weights, the temperature, the risk model and the
        # abstention threshold. The vocabularies are shared by the folds (fitted on all texts,
        # labels unseen): cheaper, and IDF barely leaks.
        temperature, threshold, cv_stats = 1.0, 0.0, {}
        if folds >= 2:
            fold = _folds(truth, embedding, oos_index, folds, params.seed)
            splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(folds)]
            best_scores, best_accuracy = None, -1.0
            for view_weights in candidates:
                design = features.assemble(x_word, x_char, embedding, view_weights)
                scores = np.zeros((len(texts), len(classes)), dtype=np.float64)
                for train_idx, held_idx in splits:
                    svm = cls._svm(params).fit(design[train_idx], truth[train_idx])
                    fold_scores = np.full((len(held_idx), len(classes)), -10.0)
                    fold_scores[:, svm.classes_] = svm.decision_function(design[held_idx])
                    scores[held_idx] = fold_scores
                    step(1, "cross-validation")
                accuracy = float((scores.argmax(axis=1) == truth).mean())
                cv_stats[f"accuracy_views_{'_'.join(map(str, view_weights))}"] = accuracy
                if accuracy > best_accuracy + 1e-9:
                    best_scores, best_accuracy = scores, accuracy
                    params.view_weights = tuple(view_weights)  # type: ignore[assignment]
            assert best_scores is not None
            temperature = _fit_temperature(best_scores, truth)
            probabilities = _softmax(best_scores, temperature)
            has_content = np.array([bool(cls._known(t, word, content_terms)) for t in texts])
            predicted = probabilities.argmax(axis=1)
            in_scope = truth != oos_index if oos_index is not None else np.ones(len(truth), bool)
            neighbours = Neighbours.build(embedding, truth, len(classes), oos_index)
            # Each training row's own place among the stored neighbours, to leave it out.
            own = np.full((len(truth), 2), -1, dtype=np.int64)
            in_rows = np.flatnonzero(in_scope)
            own[in_rows[np.argsort(truth[in_scope], kind="stable")], 0] = np.arange(len(in_rows))
            own[np.flatnonzero(~in_scope), 1] = np.arange(int((~in_scope).sum()))
            # An out-of-scope row's out-of-scope neighbours come from the other folds only (its
            # look-alikes share its fold): what a new kind of "not ours" message would see.
            oos_fold = np.where(in_scope, -1, fold)
            signals = neighbours.signals(
                embedding,
                predicted,
                params,
                exclude=own,
                exclude_oos_fold=(oos_fold, fold[~in_scope]),
            )
            # Words unseen by the fold's training rows, as a new message's words may be unseen.
            analyzer = word.build_analyzer()
            words = [analyzer(t) for t in texts]
            unseen = np.zeros(len(texts))
            for k in range(folds):
                seen = {w for i in np.flatnonzero(fold != k) for w in words[i] if " " not in w}
                for i in np.flatnonzero(fold == k):
                    unseen[i] = _unseen_share(words[i], seen)
            x_risk = _risk_features(probabilities, signals, oos_index, unseen)
            risk = Risk.fit(x_risk, (predicted != truth) | ~in_scope, params.seed)
            risk_values = risk(x_risk) if risk is not None else 1.0 - probabilities.max(axis=1)
            threshold, stats = _choose_threshold(
                risk_values, predicted, truth, has_content, oos_index, params.handoff_cost
            )
            if risk is None:  # abstain when the confidence is under the threshold
                threshold = round(1.0 - threshold, 2)
            cv_stats.update(stats)
            cv_stats["accuracy_before_abstention"] = best_accuracy
        design = features.assemble(x_word, x_char, embedding, params.view_weights)
        svm = cls._svm(params).fit(design, truth)
        step(1, "final fit")
        weights = np.ascontiguousarray(svm.coef_.T, dtype=np.float32)
        bias = svm.intercept_.astype(np.float32)
        if len(classes) == 2:  # liblinear keeps one column for two classes
            weights = np.ascontiguousarray(np.hstack([-weights, weights]) / 2, dtype=np.float32)
            bias = np.array([-bias[0] / 2, bias[0] / 2], dtype=np.float32)
        created = datetime.now(UTC)
        model = cls(
            classes=classes,
            word=word,
            char=char,
            weights=weights,
            bias=bias,
            temperature=temperature,
            threshold=threshold,
            oos_label=oos_label,
            params=params,
            content_terms=frozenset(content_terms),
            neighbours=neighbours if risk is not None else None,
            risk=risk,
            version=created.strftime("%Y%m%dT%H%M%SZ"),
        )
        model.manifest = {
            "format": FORMAT,
            "version": model.version,
            "created": created.isoformat(),
            "model": model.description,
            "n_train": len(texts),
            "label_counts": dict(sorted(counts.items())),
            "oos_label": oos_label,
            "params": params.as_dict(),
            "temperature": temperature,
            "threshold": threshold,
            "cross_validation": cv_stats,
            "n_features": {
                "word": len(word.vocabulary_),
                "char": len(char.vocabulary_),
                "embedding": features.EMBEDDING_DIM,
            },
            "train_seconds": round(time.perf_counter() - started, 1),
        }
        return model

    @staticmethod
    def _svm(params: Params) -> LinearSVC:
        return LinearSVC(C=params.C, random_state=params.seed, max_iter=2000)

    @staticmethod
    def _content_terms(word: Any, x_word: sp.csr_matrix, ratio: float) -> set[str]:
        df = np.bincount(x_word.indices, minlength=x_word.shape[1])
        limit = max(1.0, ratio * x_word.shape[0])
        return {
            term
            for term, column in word.vocabulary_.items()
            if " " not in term and df[column] <= limit
        }

    @staticmethod
    def _known(text: str, word: Any, content_terms: frozenset[str] | set[str]) -> list[str]:
        analyzer = word.build_analyzer()
        return [term for term in analyzer(text) if term in content_terms]

    # --------------------------------------------------------------- prediction
    @property
    def description(self) -> str:
        return (
            f"intent-{self.version}: linear SVM over word 1-2-gram + char 2-5-gram TF-IDF + "
            f"{features.EMBEDDING_NAME}, softmax-calibrated, {self.abstention}"
        )

    @property
    def abstention(self) -> str:
        if self.risk is None:
            return f"abstains under confidence {self.threshold:.2f}"
        return f"abstains at risk {self.threshold:.2f} (nearest-examples risk model)"

    def _analyzers(self) -> tuple[Any, Any]:
        cached = getattr(self, "_analyzer_cache", None)
        if cached is None:
            cached = (self.word.build_analyzer(), self.char.build_analyzer())
            self._analyzer_cache = cached
        return cached

    @staticmethod
    def _tfidf(
        terms: list[str], vocabulary: dict[str, int], idf: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One row of sublinear TF-IDF, L2-normalised, as sklearn computes it (without its
        per-call validation, which costs more than the arithmetic for a single message)."""
        counts = Counter(vocabulary[t] for t in terms if t in vocabulary)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        values = (1.0 + np.log(values)) * idf[columns]
        norm = float(np.sqrt(np.dot(values, values)))
        return columns, (values / norm if norm > 0 else values).astype(np.float32)

    def predict(self, text: str) -> IntentPrediction:
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str]) -> list[IntentPrediction]:
        texts = [features.normalize(t) for t in texts]
        if not texts:
            return []
        embedding = features.embed(texts)
        word_analyzer, char_analyzer = self._analyzers()
        n_word = len(self.word.vocabulary_)
        n_char = len(self.char.vocabulary_)
        w_word, w_char, w_embedding = self.params.view_weights
        embedding_weights = self.weights[n_word + n_char :]
        embedding_scores = (embedding * w_embedding) @ embedding_weights
        terms_list = self._terms(n_word)
        rows: list[tuple[np.ndarray, list[str], np.ndarray, np.ndarray]] = []
        all_scores = np.zeros((len(texts), len(self.classes)), dtype=np.float64)
        for row, text in enumerate(texts):
            words = word_analyzer(text)
            word_columns, word_values = self._tfidf(words, self.word.vocabulary_, self.word.idf_)
            char_columns, char_values = self._tfidf(
                char_analyzer(text), self.char.vocabulary_, self.char.idf_
            )
            all_scores[row] = (
                embedding_scores[row]
                + self.bias
                + (word_values * w_word) @ self.weights[word_columns]
                + (char_values * w_char) @ self.weights[n_word + char_columns]
            )
            rows.append((word_columns, words, word_values, char_values))
        all_probabilities = _softmax(all_scores, self.temperature)
        predicted = all_probabilities.argmax(axis=1)
        if self.risk is not None and self.neighbours is not None:
            signals = self.neighbours.signals(embedding, predicted, self.params)
            oos_index = (
                self.classes.index(self.oos_label) if self.oos_label in self.classes else None
            )
            unseen = np.array(
                [_unseen_share(row[1], self.word.vocabulary_) for row in rows], dtype=np.float64
            )
            x_risk = _risk_features(all_probabilities, signals, oos_index, unseen)
            unsure = self.risk(x_risk[:, : len(self.risk.coef)]) >= self.threshold
        else:
            unsure = all_probabilities.max(axis=1) < self.threshold
        results = []
        for row, (word_columns, words, word_values, _char_values) in enumerate(rows):
            probabilities = all_probabilities[row]
            best = int(predicted[row])
            confidence = float(probabilities[best])
            label = self.classes[best]
            # The words that weighed most for this intent: TF-IDF value x weight.
            contribution = word_values * w_word * self.weights[word_columns, best]
            order = np.argsort(-contribution)[:3]
            reasons = tuple(terms_list[word_columns[i]] for i in order if contribution[i] > 0)
            known = any(term in self.content_terms for term in words)
            abstained = (
                not known
                or (self.oos_label is not None and label == self.oos_label)
                or bool(unsure[row])
            )
            results.append(
                IntentPrediction(
                    label=None if abstained else label,
                    confidence=round(confidence, 4),
                    abstained=abstained,
                    reasons=reasons,
                    candidate=label,
                    model_version=f"intent-{self.version}",
                )
            )
        return results

    def _terms(self, n_word: int) -> list[str]:
        cached: list[str] | None = getattr(self, "_word_terms", None)
        if cached is None or len(cached) != n_word:
            cached = features.vectorizer_terms(self.word)
            self._word_terms = cached
        return cached

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the model as a folder of JSON and .npz files (no pickle). Returns the folder."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "word_terms.json").write_text(
            json.dumps(features.vectorizer_terms(self.word), ensure_ascii=False), "utf-8"
        )
        (path / "char_terms.json").write_text(
            json.dumps(features.vectorizer_terms(self.char), ensure_ascii=False), "utf-8"
        )
        (path / "content_terms.json").write_text(
            json.dumps(sorted(self.content_terms), ensure_ascii=False), "utf-8"
        )
        arrays = {
            "word_idf": self.word.idf_.astype(np.float32),
            "char_idf": self.char.idf_.astype(np.float32),
            "weights": self.weights,
            "bias": self.bias,
            **self._risk_arrays(),
        }
        np.savez(path / "arrays.npz", allow_pickle=False, **arrays)
        manifest = dict(self.manifest)
        manifest.update(
            format=FORMAT,
            version=self.version,
            classes=self.classes,
            oos_label=self.oos_label,
            temperature=self.temperature,
            threshold=self.threshold,
            params=self.params.as_dict(),
            model=self.description,
        )
        # The manifest last: a folder without one is an unfinished write and is never loaded.
        (path / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        return path

    def _risk_arrays(self) -> dict[str, np.ndarray]:
        if self.risk is None or self.neighbours is None:
            return {}
        return {
            "neighbours_in_scope": self.neighbours.in_scope.astype(np.float16),
            "neighbours_offsets": self.neighbours.offsets,
            "neighbours_oos": self.neighbours.oos.astype(np.float16),
            "neighbours_mean": self.neighbours.mean,
            "neighbours_projection": self.neighbours.projection,
            "risk_mean": self.risk.mean,
            "risk_scale": self.risk.scale,
            "risk_coef": self.risk.coef,
            "risk_intercept": np.array([self.risk.intercept]),
        }

    @classmethod
    def load(cls, path: str | Path) -> IntentModel:
        path = Path(path)
        manifest = json.loads((path / "manifest.json").read_text("utf-8"))
        if manifest.get("format") not in FORMATS_READ:
            raise ValueError(f"{path}: unknown model format {manifest.get('format')!r}")
        neighbours, risk = None, None
        with np.load(path / "arrays.npz", allow_pickle=False) as arrays:
            word_idf, char_idf = arrays["word_idf"], arrays["char_idf"]
            weights, bias = arrays["weights"], arrays["bias"]
            if "risk_coef" in arrays:
                # Stored as float16 (half the disk), used as float32 (fast products).
                neighbours = Neighbours(
                    in_scope=arrays["neighbours_in_scope"].astype(np.float32),
                    offsets=arrays["neighbours_offsets"].astype(np.int64),
                    oos=arrays["neighbours_oos"].astype(np.float32),
                    mean=arrays["neighbours_mean"],
                    projection=arrays["neighbours_projection"],
                )
                risk = Risk(
                    mean=arrays["risk_mean"],
                    scale=arrays["risk_scale"],
                    coef=arrays["risk_coef"],
                    intercept=float(arrays["risk_intercept"][0]),
                )
        raw = manifest["params"]
        params = Params(
            C=raw["C"],
            view_weights=tuple(raw["view_weights"]),
            view_weight_candidates=tuple(tuple(c) for c in raw["view_weight_candidates"]),
            folds=raw["folds"],
            handoff_cost=raw["handoff_cost"],
            content_df_ratio=raw["content_df_ratio"],
            neighbours=raw.get("neighbours", Params.neighbours),
            class_neighbours=raw.get("class_neighbours", Params.class_neighbours),
            seed=raw["seed"],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            word = features.vectorizer_restore(
                features.word_vectorizer,
                json.loads((path / "word_terms.json").read_text("utf-8")),
                word_idf,
            )
            char = features.vectorizer_restore(
                features.char_vectorizer,
                json.loads((path / "char_terms.json").read_text("utf-8")),
                char_idf,
            )
        return cls(
            classes=list(manifest["classes"]),
            word=word,
            char=char,
            weights=np.ascontiguousarray(weights, dtype=np.float32),
            bias=bias.astype(np.float32),
            temperature=float(manifest["temperature"]),
            threshold=float(manifest["threshold"]),
            oos_label=manifest.get("oos_label"),
            params=params,
            content_terms=frozenset(json.loads((path / "content_terms.json").read_text("utf-8"))),
            neighbours=neighbours,
            risk=risk,
            version=manifest["version"],
            manifest=manifest,
        )
