"""The default embedder: a sentence-transformers model exported to ONNX, run by onnxruntime.

Only ``numpy``, ``onnxruntime`` and ``tokenizers`` are needed (no torch). The model is
all-MiniLM-L6-v2 quantised to int8 by default; any BERT-like export works whose graph
takes ``input_ids`` (plus optionally ``attention_mask`` / ``token_type_ids``) and returns
either token states ``(batch, seq, dim)`` (then mean pooling over the attention mask is
applied here) or an already pooled ``(batch, dim)`` vector.

Importing this module is cheap: onnxruntime and tokenizers are imported when an
``OnnxEmbedder`` is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from fiable._cpus import available_cpus
from fiable.embedders._shared import TokenizerEmbedder
from fiable.embedders.base import Vectors
from fiable.errors import ModelError, ModelNotFoundError

if TYPE_CHECKING:  # pragma: no cover
    import onnxruntime
    import tokenizers

__all__ = ["OnnxEmbedder", "default_threads"]

_PULL_HINT = "fiable models pull minilm-l6-v2"
# Texts are tokenised and length-sorted this many batches at a time, which bounds the
# memory held by tokenizer encodings for very long input lists.
_SORT_WINDOW_BATCHES = 32


def default_threads() -> int:
    """The CPUs this process may run on."""
    return available_cpus()


def _check_positive(name: str, value: int | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise ModelNotFoundError(f"{what} not found: {path}", hint=_PULL_HINT)


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, refusing a bare string (which would be embedded char by char)."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("embed_documents takes a sequence of texts, not a single string")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
    return items


class OnnxEmbedder(TokenizerEmbedder):
    """Embeds texts with an ONNX sentence-transformer on the CPU.

    Vectors are float32, L2-normalised; a text with no tokens at all (``""``, only
    whitespace) gives the zero vector. Texts are truncated to ``max_tokens`` tokens,
    special tokens included (as sentence-transformers' ``max_seq_length``).

    Texts are sorted by length and padded per batch; a batch holds at most
    ``batch_size`` texts and ``max_batch_tokens`` padded tokens. Vectors do not depend
    on the batching.
    """

    def __init__(
        self,
        onnx_path: Path,
        tokenizer_path: Path,
        *,
        model_id: str = "all-MiniLM-L6-v2/onnx-int8",
        max_tokens: int = 256,
        batch_size: int = 32,
        threads: int | None = None,
        max_batch_tokens: int = 2048,
    ) -> None:
        _check_positive("max_tokens", max_tokens)
        _check_positive("batch_size", batch_size)
        _check_positive("max_batch_tokens", max_batch_tokens)
        _check_positive("threads", threads, optional=True)
        if max_tokens < 3:
            raise ValueError("max_tokens must leave room for the two special tokens (>= 3)")
        onnx_path = Path(onnx_path)
        tokenizer_path = Path(tokenizer_path)
        _require_file(onnx_path, "embedding model file")
        _require_file(tokenizer_path, "embedding tokenizer file")

        import onnxruntime as ort
        import tokenizers

        self._model_id = model_id
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._max_batch_tokens = max_batch_tokens
        self._threads = threads or default_threads()
        self._onnx_path = onnx_path

        try:
            # Two copies: one truncates and adds [CLS]/[SEP] for the model, the other
            # counts every token of a text, without special tokens.
            self._tokenizer: tokenizers.Tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
            self._counter: tokenizers.Tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # the library raises plain Exception subclasses
            raise ModelError(
                f"cannot read the tokenizer {tokenizer_path}: {exc}", hint=f"re-pull it: {_PULL_HINT}"
            ) from exc
        # tokenizer.json files often carry fixed padding/truncation (MiniLM's: 128):
        # padding is done here per batch, truncation at max_tokens.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._counter.no_padding()
        self._counter.no_truncation()

        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        # Measured on SciFact abstracts (2 cores): without the precomputed memory pattern
        # the peak working memory of a batch drops by a third, at the same speed.
        options.enable_mem_pattern = False
        # Threads that spin after a run steal the cores from what a query does next (BM25,
        # the dense matmul): measured on 2 cores, hybrid_search p50 16.8 -> 8.8 ms on SciFact
        # questions without spinning, ingest throughput unchanged (17.7 vs 17.1 docs/s).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session: onnxruntime.InferenceSession = ort.InferenceSession(
                str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelError(
                f"onnxruntime cannot load {onnx_path}: {exc}", hint=f"re-pull it: {_PULL_HINT}"
            ) from exc

        inputs = {i.name for i in self._session.get_inputs()}
        if "input_ids" not in inputs:
            raise ModelError(
                f"{onnx_path} is not a text encoder: its inputs are {sorted(inputs)}, "
                "expected input_ids (and attention_mask)",
                hint=_PULL_HINT,
            )
        unknown = inputs - {"input_ids", "attention_mask", "token_type_ids"}
        if unknown:
            raise ModelError(f"{onnx_path} needs inputs this embedder cannot fill: {sorted(unknown)}")
        self._input_names = inputs
        self._output_name, self._pooled, dimension = self._pick_output()
        self._dimension = dimension if dimension is not None else self._probe_dimension()

    def _pick_output(self) -> tuple[str, bool, int | None]:
        outputs = self._session.get_outputs()
        by_name = {o.name: o for o in outputs}
        for name in ("sentence_embedding", "pooler_output_normalized"):
            if name in by_name:
                out = by_name[name]
                return name, True, _static(out.shape[-1])
        for out in outputs:  # token states first: pooling is ours to do
            if len(out.shape) == 3:
                return out.name, False, _static(out.shape[-1])
        for out in outputs:
            if len(out.shape) == 2:
                return out.name, True, _static(out.shape[-1])
        raise ModelError(f"{self._onnx_path}: no output of rank 2 or 3 among {list(by_name)}")

    def _probe_dimension(self) -> int:
        encoding = self._tokenizer.encode("dimension probe")
        return int(self._run([encoding]).shape[1])

    # -- Embedder contract ---------------------------------------------------------

    @property
    def max_batch_tokens(self) -> int:
        return self._max_batch_tokens

    @property
    def threads(self) -> int:
        return self._threads

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        items = check_texts(texts)
        out = np.zeros((len(items), self._dimension), dtype=np.float32)
        window = self._batch_size * _SORT_WINDOW_BATCHES
        for start in range(0, len(items), window):
            chunk = items[start : start + window]
            encodings = self._tokenizer.encode_batch(chunk)
            # Texts with no real token (only [CLS]/[SEP]) keep the zero vector.
            lengths = [len(e.ids) if _has_tokens(e) else 0 for e in encodings]
            order = sorted((i for i, n in enumerate(lengths) if n), key=lambda i: lengths[i])
            for rows in self._batches(order, lengths):
                vectors = self._run([encodings[i] for i in rows])
                out[[start + i for i in rows]] = vectors
        return out

    def _batches(self, order: list[int], lengths: list[int]) -> list[list[int]]:
        """Consecutive runs of ``order`` (ascending lengths): at most ``batch_size`` texts
        and, once padded, at most ``max_batch_tokens`` tokens (one text at least).

        The token cap matters on long texts: attention memory grows with
        batch x length^2 (batch 32 x 256 tokens peaks near 1 GB) and, measured on 2 cores,
        batches of 2-8 long texts encode as fast as or faster than 32.
        """
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            width = lengths[i]  # the longest so far: lengths ascend
            if current and (
                len(current) >= self._batch_size or (len(current) + 1) * width > self._max_batch_tokens
            ):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    # -- internals -----------------------------------------------------------------

    def _run(self, encodings: list[Any]) -> Vectors:
        """Embeds a batch of encodings, padded to the longest, into unit float32 rows."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
        feed = {"input_ids": ids}
        if "attention_mask" in self._input_names:
            feed["attention_mask"] = mask
        if "token_type_ids" in self._input_names:
            feed["token_type_ids"] = np.zeros_like(ids)
        (result,) = self._session.run([self._output_name], feed)
        result = np.asarray(result, dtype=np.float32)
        if self._pooled:
            vectors = result
        else:
            weights = mask.astype(np.float32)[:, :, None]
            vectors = (result * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return (
            f"OnnxEmbedder(model_id={self._model_id!r}, path={str(self._onnx_path)!r}, "
            f"dimension={self._dimension}, max_tokens={self._max_tokens}, threads={self._threads})"
        )


def _static(size: Any) -> int | None:
    return size if isinstance(size, int) and size > 0 else None


def _has_tokens(encoding: Any) -> bool:
    # special_tokens_mask is 1 on [CLS]/[SEP]/[PAD]; any 0 is a real token.
    return 0 in encoding.special_tokens_mask
