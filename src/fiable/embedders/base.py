"""The Embedder contract.

An embedder turns texts into unit-length float32 vectors.

Contract (checked by ``tests/contracts/embedder.py`` for every implementation):
- ``embed_documents(texts)`` and ``embed_query(text)`` return float32 arrays of shape
  ``(len(texts), dimension)`` / ``(dimension,)``, each row L2-normalised (norm 1 ± 1e-3),
  or all zeros for an empty text.
- Deterministic: the same text gives the same vector, whatever the batch it is in
  (to 1e-4).
- ``model_id`` names the model and its variant (the index stores it and refuses to mix
  two models); ``dimension`` is the vector size.
- ``count_tokens(text)`` counts tokens with the model's own tokenizer (without special
  tokens); ``max_tokens`` is the longest input the model reads, longer inputs are
  truncated by ``embed_*``.
- An empty list gives an array of shape ``(0, dimension)``.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "Vectors"]

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vectors: ...
