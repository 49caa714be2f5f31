"""What the two real embedders share: the contract's properties, token counting with a
``tokenizers.Tokenizer`` (``self._counter``) and ``embed_query``."""

from __future__ import annotations

from typing import Any

from .base import Vectors

__all__ = ["TokenizerEmbedder"]


class TokenizerEmbedder:
    """Base for embedders that set ``_model_id``, ``_dimension``, ``_max_tokens``,
    ``_batch_size`` and ``_counter`` (a tokenizer without padding or truncation)."""

    _model_id: str
    _dimension: int
    _max_tokens: int
    _batch_size: int
    _counter: Any

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def embed_query(self, text: str) -> Vectors:
        if not isinstance(text, str):
            raise TypeError(f"embed_query takes a str, not {type(text).__name__}")
        vectors: Vectors = self.embed_documents([text])  # type: ignore[attr-defined]
        return vectors[0]
