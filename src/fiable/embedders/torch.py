"""The torch route: a sentence-transformers model run by PyTorch (optional extra).

Measured slower on a small CPU and far heavier to install than the ONNX route (see
``benchmarks/embedder_routes.py``); it exists for models with no ONNX export and to check
the ONNX route against the reference implementation. Install it with::

    pip install torch==2.13.0        # first: the CPU build (an unpinned torch pulls CUDA)
    pip install 'fiable[torch]'

Nothing is fetched from a model hub: the model is read from a local directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fiable.embedders._shared import TokenizerEmbedder
from fiable.embedders.base import Vectors
from fiable.embedders.onnx import _check_positive, check_texts
from fiable.errors import ModelError, ModelNotFoundError, TorchBackendMissingError

__all__ = ["SentenceTransformerEmbedder", "TorchBackendMissingError"]

INSTALL_HINT = "pip install torch==2.13.0 (the CPU build, first), then pip install 'fiable[torch]'"


class SentenceTransformerEmbedder(TokenizerEmbedder):
    """Embeds texts with sentence-transformers on the CPU, from a local model directory.

    Same behaviour as ``OnnxEmbedder``: float32 unit rows, the zero vector for a text
    with no tokens, truncation at ``max_tokens`` (special tokens included). ``threads``,
    when given, sets torch's thread count for the whole process.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        model_id: str = "all-MiniLM-L6-v2/torch-fp32",
        max_tokens: int = 256,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        _check_positive("max_tokens", max_tokens)
        _check_positive("batch_size", batch_size)
        _check_positive("threads", threads, optional=True)
        model_dir = Path(model_dir)
        if not model_dir.is_dir() or not (model_dir / "config.json").is_file():
            raise ModelNotFoundError(
                f"no sentence-transformers model in {model_dir}",
                hint="fiable models pull minilm-l6-v2, and point at the directory holding config.json",
            )
        # Never reach for a model hub, whatever the environment says.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # OpenMP threads that spin while waiting collapse when the cores are shared
        # (measured: query p50 15 ms -> 500 ms with 2 threads on a busy 2-core machine);
        # passive waiting costs no throughput. Only effective before torch is imported.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise TorchBackendMissingError(
                f"the torch embedder needs sentence-transformers and torch, which are not installed ({exc})",
                hint=INSTALL_HINT,
            ) from exc
        import tokenizers

        if threads is not None:
            torch.set_num_threads(threads)
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars on stderr
        except Exception:  # pragma: no cover - cosmetic only
            pass
        try:
            self._model: Any = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        except Exception as exc:
            raise ModelError(f"sentence-transformers cannot load {model_dir}: {exc}") from exc
        self._model.eval()
        self._model.max_seq_length = max_tokens
        self._torch = torch
        self._model_id = model_id
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._model_dir = model_dir
        get_dimension = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension"
        )
        dimension = get_dimension()
        if not dimension:
            dimension = int(self._model.encode(["dimension probe"]).shape[1])
        self._dimension = int(dimension)
        # A private copy of the fast tokenizer's backend, without truncation or padding,
        # counts tokens (no special tokens) without length warnings.
        backend = getattr(self._model.tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ModelError(f"{model_dir}: the model has no fast (Rust) tokenizer to count tokens with")
        self._counter = tokenizers.Tokenizer.from_str(backend.to_str())
        self._counter.no_padding()
        self._counter.no_truncation()

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        items = check_texts(texts)
        out = np.zeros((len(items), self._dimension), dtype=np.float32)
        rows = [i for i, text in enumerate(items) if text and self.count_tokens(text) > 0]
        if rows:
            with self._torch.inference_mode():
                vectors = self._model.encode(
                    [items[i] for i in rows],
                    batch_size=self._batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
            out[rows] = np.asarray(vectors, dtype=np.float32)
        return out

    def __repr__(self) -> str:
        return (
            f"SentenceTransformerEmbedder(model_id={self._model_id!r}, dir={str(self._model_dir)!r}, "
            f"dimension={self._dimension}, max_tokens={self._max_tokens})"
        )
