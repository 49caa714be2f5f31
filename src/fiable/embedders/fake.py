"""A deterministic, dependency-free embedder for unit tests.

``HashingEmbedder`` hashes lowercased word tokens (and the character trigrams of each
word) into a signed bag of features, then L2-normalises it: texts that share words or
word pieces are close, unrelated texts are nearly orthogonal. It uses ``blake2b``, never
Python's ``hash()``, so vectors are identical across processes and runs. It is not a
language model: use it where a test needs *some* meaningful vectors fast.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Sequence

import numpy as np

from fiable.embedders.base import Vectors
from fiable.embedders.onnx import check_texts

__all__ = ["HashingEmbedder", "tokenize"]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_TRIGRAM_WEIGHT = 0.5
_PUNCT_WEIGHT = 0.25


def tokenize(text: str) -> list[str]:
    """Lowercased words and single punctuation marks, in order."""
    return _TOKEN.findall(text.lower())


@lru_cache(maxsize=65536)
def _feature(feature: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimension, 1.0 if (value >> 63) & 1 else -1.0


class HashingEmbedder:
    """Fake embedder: ``model_id`` ``"hashing-<dimension>"``, tokens = words + punctuation."""

    def __init__(self, dimension: int = 64, *, max_tokens: int = 256) -> None:
        for name, value in (("dimension", dimension), ("max_tokens", max_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self._dimension = dimension
        self._max_tokens = max_tokens

    @property
    def model_id(self) -> str:
        return f"hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(tokenize(text))

    def embed_query(self, text: str) -> Vectors:
        if not isinstance(text, str):
            raise TypeError(f"embed_query takes a str, not {type(text).__name__}")
        return self._embed(text)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        items = check_texts(texts)
        out = np.zeros((len(items), self._dimension), dtype=np.float32)
        for row, text in enumerate(items):
            out[row] = self._embed(text)
        return out

    def _embed(self, text: str) -> Vectors:
        tokens = tokenize(text)[: self._max_tokens]
        vector = np.zeros(self._dimension, dtype=np.float64)
        if not tokens:
            return vector.astype(np.float32)
        for token in tokens:
            if token[0].isalnum() or token[0] == "_":
                index, sign = _feature("w:" + token, self._dimension)
                vector[index] += sign
                padded = f"<{token}>"
                for i in range(len(padded) - 2):
                    index, sign = _feature("t:" + padded[i : i + 3], self._dimension)
                    vector[index] += sign * _TRIGRAM_WEIGHT
            else:
                index, sign = _feature("p:" + token, self._dimension)
                vector[index] += sign * _PUNCT_WEIGHT
        norm = float(np.linalg.norm(vector))
        if norm < 1e-9:  # every feature cancelled out (rare): still a unit vector
            index, _ = _feature("fallback:" + " ".join(tokens), self._dimension)
            vector[:] = 0.0
            vector[index] = 1.0
            norm = 1.0
        return (vector / norm).astype(np.float32)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dimension={self._dimension}, max_tokens={self._max_tokens})"
