"""A GGUF model run in-process by llama.cpp, through ``xllamacpp`` (MIT, CPU wheels).

``xllamacpp.Server`` embeds llama.cpp's HTTP server. We only use its in-process entry point
(``handle_chat_completions``), but the server always opens a listening socket as well
(``hostnames`` / ``port``; an empty ``hostnames`` list crashes the process). So the socket is
a Unix socket created in a private (0700) temporary directory, which is deleted as soon as
the model is loaded: no TCP port is opened, and nothing can connect to the socket (no path
leads to it). A random API key guards the HTTP routes as a second fence (in-process calls
do not go through that check).

Behaviour found by experiment with xllamacpp 2026.10 (llama.cpp server, single slot):

- With ``"stream": True``, ``handle_chat_completions(request, callback)`` blocks and calls
  ``callback(chunk_dict)`` once per chunk, from the calling thread. When the callback returns
  ``True`` the call returns and llama.cpp cancels the task ("cancel task" in its log); the
  next request starts at once. An exception inside the callback is swallowed and also stops
  the stream, so the callback here never raises. The first chunk (the ``role`` delta) only
  arrives after the prompt is evaluated, so a stream closed during prompt evaluation stops
  when that evaluation ends (about 250 prompt tokens/s on 2 cores with SmolLM2-135M).
- Request errors (a malformed request) raise ``ValueError`` from the call itself; an error
  found later (a prompt over the context size) comes as a chunk ``{"error": {...}}``.
- Threads: llama.cpp's threads meet at a barrier after every step, so a thread that loses
  its core to another process stalls all of them. On this 2-core machine, with another
  CPU-bound process running (an embedding benchmark), SmolLM2 decoded at 0.3-8 tokens/s with
  2 threads against 73-86 tokens/s with 1 thread (``cpuparams.poll = 0`` did not help).
  On a quiet machine, though, 2 threads answered twice as fast as 1 (handbook questions
  with Qwen2.5-0.5B: 2.7 s against 5.0 s p50; decode 27.6 against 21.9 tokens/s, see
  ``benchmarks/``), so the default is every CPU available; pass ``n_threads`` (the
  ``threads`` setting) lower on a machine shared with other CPU-bound work.
- ``CommonParams.verbosity`` is the threshold of llama.cpp's log (0: nothing, not even
  errors; 1: errors; 2: warnings; 3, the default: info). It is process-wide and set when a
  server starts. We use 0 unless ``verbose=True``: no file-descriptor redirection is needed.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from .._cpus import available_cpus
from ..errors import GeneratorError, ModelNotFoundError
from .base import ChatMessage, GenerationOptions, Usage, chat_request, first_token_logprobs

__all__ = ["LlamaCppGenerator", "default_threads"]

log = logging.getLogger(__name__)

_GGUF_MAGIC = b"GGUF"
_PULL_HINT = "run `fiable models pull smollm2-135m`, or give the path of an existing .gguf file"


class _Stream:
    """State shared by a stream's consumer and its worker thread."""

    __slots__ = ("cancel", "closed", "owner", "queue", "worker")

    def __init__(self) -> None:
        self.owner = threading.get_ident()  # the consumer's thread
        self.cancel = threading.Event()
        self.closed = False  # cancelled by LlamaCppGenerator.close(), not by the consumer
        self.queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.worker: threading.Thread | None = None


def _error_text(error: Any) -> tuple[str, str | None]:
    if isinstance(error, dict):
        message = str(error.get("message") or error)
        kind = error.get("type")
        return message, str(kind) if kind else None
    return str(error), None


class LlamaCppGenerator:
    """A :class:`~fiable.generators.base.Generator` running a GGUF file with llama.cpp.

    ``n_ctx`` is the context window (prompt + answer) in tokens; ``n_threads`` defaults to
    :func:`default_threads` (the CPUs available, see the module docstring). One
    generation runs at a time per instance: a second ``stream`` from another thread waits
    for the first; one from the thread that holds an open stream raises GeneratorError.
    Use ``close()`` (or ``with``) to free the model.

    After a finished stream, ``last_usage`` holds the token counts, ``tokens_per_second``
    the decoding speed and ``time_to_first_token`` the seconds from the request to the first
    piece (all ``None`` after a cancelled stream).
    """

    def __init__(
        self,
        model_path: Path | str,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        model_id: str | None = None,
        verbose: bool = False,
    ) -> None:
        path = Path(model_path).expanduser()
        if n_ctx <= 0:
            raise GeneratorError(f"llama.cpp: n_ctx must be positive, got {n_ctx}")
        if n_threads is not None and n_threads <= 0:
            raise GeneratorError(f"llama.cpp: n_threads must be positive, got {n_threads}")
        _check_gguf(path)

        import xllamacpp  # imported here: loading the extension is not free

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = n_ctx
        threads = n_threads if n_threads is not None else default_threads()
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = 3 if verbose else 0
        params.n_parallel = 1
        params.ui = False
        params.n_threads_http = 1
        params.api_keys = [secrets.token_urlsafe(32)]
        socket_dir = _private_socket_dir()
        if socket_dir is not None:
            params.hostnames = [os.path.join(socket_dir, "s.sock")]
        else:  # no Unix sockets: loopback only, on a free port, behind the random key
            params.hostnames = ["127.0.0.1"]
            params.port = 0

        started = time.perf_counter()
        try:
            server = xllamacpp.Server(params)
        except Exception as exc:
            raise GeneratorError(
                f"llama.cpp could not load the model file {path}",
                hint="the file may be truncated or corrupt, or hold a model architecture this "
                "xllamacpp build does not support: pull it again (`fiable models pull ...`); "
                "create the generator with verbose=True to see llama.cpp's log",
            ) from exc
        finally:
            if socket_dir is not None:
                shutil.rmtree(socket_dir, ignore_errors=True)
        log.debug("llama.cpp loaded %s in %.2f s", path.name, time.perf_counter() - started)

        self._server: Any = server
        self._path = path
        self._model_id = model_id or path.name
        self._n_ctx = n_ctx
        self.n_threads = threads
        self._lock = threading.Lock()  # one generation at a time
        self._state = threading.Lock()  # guards _active and _server
        self._active: _Stream | None = None
        self._last_usage: Usage | None = None
        self.first_logprobs: dict[str, float] | None = None  # see the Generator contract
        self.tokens_per_second: float | None = None
        self.time_to_first_token: float | None = None

    # -- Generator contract -------------------------------------------------------------

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def context_size(self) -> int:
        return self._n_ctx

    @property
    def last_usage(self) -> Usage | None:
        return self._last_usage

    @property
    def model_path(self) -> Path:
        return self._path

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        request = {**chat_request(messages, options), "stream_options": {"include_usage": True}}
        return self._stream(request)

    def next_token_logprobs(self, messages: Sequence[ChatMessage], top: int = 10
                            ) -> dict[str, float]:
        """The ``top`` most likely first tokens of the reply to ``messages`` with their
        natural-log probabilities (what a yes/no judge's P(yes) is read from). Not part of
        the Generator contract: an OpenAI-compatible server may not return them."""
        if not 1 <= top <= 20:
            raise GeneratorError(f"llama.cpp: top must be between 1 and 20, got {top}")
        request = {**chat_request(messages, GenerationOptions(max_tokens=1, temperature=0.0)),
                   "stream": False, "logprobs": True, "top_logprobs": top}
        if self._active is not None and self._active.owner == threading.get_ident():
            raise GeneratorError(
                f"llama.cpp ({self._model_id}): a stream of this generator is still open in "
                "this thread", hint="read it to the end or close() it first")
        with self._lock:  # one request at a time, like a stream
            with self._state:
                server = self._server
            if server is None:
                raise GeneratorError(f"llama.cpp: the generator for {self._model_id} is closed",
                                     hint="create a new LlamaCppGenerator")
            reply = server.handle_chat_completions(request)
        if not isinstance(reply, dict):
            raise GeneratorError(f"llama.cpp ({self._model_id}) gave no completion: {reply!r}")
        if "error" in reply or "code" in reply and "message" in reply:
            self._raise_chunk_error(reply.get("error", reply))
        try:
            tokens = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            return {t["token"]: float(t["logprob"]) for t in tokens}
        except (KeyError, IndexError, TypeError) as exc:
            raise GeneratorError(f"llama.cpp ({self._model_id}) returned no log-probabilities",
                                 hint="this xllamacpp build may not support them") from exc

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Cancel a running generation and free the model. Safe to call twice."""
        with self._state:
            server, self._server = self._server, None
            active = self._active
        if active is not None:
            active.closed = True
            active.cancel.set()
            if active.worker is not None and active.worker is not threading.current_thread():
                active.worker.join()
        del server  # the worker thread holds its own reference while it runs

    def __enter__(self) -> "LlamaCppGenerator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LlamaCppGenerator({str(self._path)!r}, n_ctx={self._n_ctx})"

    # -- internals ----------------------------------------------------------------------

    def _stream(self, request: dict[str, Any]) -> Iterator[str]:
        self._last_usage = None
        self.first_logprobs = None
        self.tokens_per_second = None
        self.time_to_first_token = None
        if request["max_tokens"] <= 0:
            return
        active = self._active
        if active is not None and active.owner == threading.get_ident():
            # waiting for the lock would wait forever: that open stream is ours
            raise GeneratorError(
                f"llama.cpp ({self._model_id}): another stream of this generator is still open "
                "in this thread",
                hint="read the previous stream to the end or close() it before starting another",
            )
        with self._lock:
            state = _Stream()
            with self._state:
                server = self._server
                if server is None:
                    raise GeneratorError(
                        f"llama.cpp: the generator for {self._model_id} is closed",
                        hint="create a new LlamaCppGenerator",
                    )
                self._active = state

            def callback(chunk: Any) -> bool:
                if state.cancel.is_set():
                    return True
                state.queue.put(("chunk", chunk))
                return state.cancel.is_set()

            def work() -> None:
                try:
                    server.handle_chat_completions(request, callback)
                except BaseException as exc:  # re-raised by the consumer
                    state.queue.put(("error", exc))
                else:
                    state.queue.put(("done", None))

            started = time.perf_counter()
            first_piece: float | None = None
            usage: Usage | None = None
            timings: dict[str, Any] | None = None
            state.worker = threading.Thread(target=work, name="fiable-llamacpp", daemon=True)
            state.worker.start()
            try:
                while True:
                    kind, payload = state.queue.get()
                    if kind == "done":
                        if state.closed:
                            raise GeneratorError(
                                f"llama.cpp: the generator for {self._model_id} was closed "
                                "during the generation",
                                hint="close the generator only after its streams",
                            )
                        break
                    if kind == "error":
                        raise GeneratorError(
                            f"llama.cpp rejected the request: {payload}",
                            hint="this is a bug in fiable or an unsupported option",
                        ) from payload
                    if not isinstance(payload, dict):
                        continue
                    if "error" in payload or "code" in payload and "message" in payload:
                        self._raise_chunk_error(payload.get("error", payload))
                    if isinstance(payload.get("usage"), dict):
                        usage = _usage(payload["usage"]) or usage
                    if isinstance(payload.get("timings"), dict):
                        timings = payload["timings"]
                    for choice in payload.get("choices") or ():
                        delta = choice.get("delta") or {}
                        content = delta.get("content")
                        if isinstance(content, str) and content:
                            if first_piece is None:
                                first_piece = time.perf_counter() - started
                                self.first_logprobs = first_token_logprobs(choice)
                            yield content
            finally:
                state.cancel.set()
                state.worker.join()
                with self._state:
                    self._active = None
            if usage is None and timings is not None:
                usage = _usage_from_timings(timings)
            self._last_usage = usage
            self.time_to_first_token = first_piece
            if timings is not None and timings.get("predicted_per_second"):
                self.tokens_per_second = float(timings["predicted_per_second"])

    def _raise_chunk_error(self, error: Any) -> None:
        message, kind = _error_text(error)
        if kind == "exceed_context_size_error":
            raise GeneratorError(
                f"llama.cpp ({self._model_id}): {message}",
                hint=f"shorten the prompt (fewer or shorter passages) or raise the context "
                f"size (n_ctx, now {self._n_ctx})",
            )
        raise GeneratorError(
            f"llama.cpp ({self._model_id}) failed: {message}",
            hint="check the request options; create the generator with verbose=True to see "
            "llama.cpp's log",
        )


def default_threads() -> int:
    """The CPUs this process may use: see the module docstring."""
    return available_cpus()


def _private_socket_dir() -> str | None:
    """A new 0700 directory for the server's Unix socket, or None where there are none."""
    if os.name != "posix":
        return None
    for parent in (None, "/tmp"):
        directory = tempfile.mkdtemp(prefix="fiable-llama-", dir=parent)
        if len(os.path.join(directory, "s.sock")) < 100:  # sun_path holds 104-108 bytes
            return directory
        os.rmdir(directory)
    return None


def _check_gguf(path: Path) -> None:
    if not path.exists():
        raise ModelNotFoundError(f"model file not found: {path}", hint=_PULL_HINT)
    if not path.is_file():
        raise ModelNotFoundError(f"not a model file: {path}", hint=_PULL_HINT)
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise GeneratorError(
            f"cannot read the model file {path}: {exc.strerror or exc}",
            hint="check the file's permissions",
        ) from exc
    if magic != _GGUF_MAGIC:
        raise GeneratorError(
            f"{path} is not a GGUF model file (it starts with {magic!r}, not b'GGUF')",
            hint="llama.cpp needs a .gguf file: " + _PULL_HINT,
        )


def _usage(raw: dict[str, Any]) -> Usage | None:
    try:
        return Usage(int(raw["prompt_tokens"]), int(raw["completion_tokens"]))
    except (KeyError, TypeError, ValueError):
        return None


def _usage_from_timings(timings: dict[str, Any]) -> Usage | None:
    try:
        prompt = int(timings.get("prompt_n", 0)) + int(timings.get("cache_n", 0))
        return Usage(prompt, int(timings["predicted_n"]))
    except (KeyError, TypeError, ValueError):
        return None
