"""A generator that streams from an OpenAI-compatible server (llama.cpp's llama-server,
Ollama, vLLM, LM Studio, a hosted API...).

``POST {base_url}/chat/completions`` with ``"stream": true``; the answer comes back as
server-sent events (``data: {chunk}`` lines, ending with ``data: [DONE]``). Usage is asked
for with ``stream_options.include_usage``; servers that ignore it leave ``last_usage`` at
``None`` (llama.cpp's ``timings`` are used when present), and a server that rejects the field
is asked again without it.

The API key is sent only in the ``Authorization`` header: it is never logged and is
removed from any server message quoted in an error.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Iterator, Sequence

import httpx

from ..errors import GeneratorError
from .base import ChatMessage, GenerationOptions, Usage, chat_request, first_token_logprobs

__all__ = ["OpenAICompatibleGenerator"]

log = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 300
_API_KEY_ENV = "FIABLE_GENERATOR_API_KEY"
_STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class OpenAICompatibleGenerator:
    """A :class:`~fiable.generators.base.Generator` backed by ``{base_url}/chat/completions``.

    ``base_url`` is the API root, usually ending in ``/v1`` (``http://127.0.0.1:8080/v1``).
    ``timeout`` bounds the connection and each wait for data (the prompt evaluation before
    the first piece included). ``context_size`` is the served model's context window, which
    the API does not report. Pass ``client`` to share an ``httpx.Client`` (it is then not
    closed by ``close()``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        context_size: int = 4096,
        client: httpx.Client | None = None,
    ) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise GeneratorError(
                f"OpenAI-compatible generator: invalid server URL {base_url!r}",
                hint="set `generator_url` to the API root, e.g. http://127.0.0.1:8080/v1",
            )
        if not model:
            raise GeneratorError(
                "OpenAI-compatible generator: no model name given",
                hint="set `generator_model` to a model the server serves (GET /v1/models)",
            )
        if context_size <= 0:
            raise GeneratorError(
                f"OpenAI-compatible generator: context_size must be positive, got {context_size}"
            )
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._api_key = api_key or None
        self._timeout = timeout
        self._context_size = context_size
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0))
        )
        self._include_usage = True
        self._last_usage: Usage | None = None
        self.first_logprobs: dict[str, float] | None = None  # see the Generator contract
        self._lock = threading.Lock()  # guards _include_usage / _last_usage updates

    # -- Generator contract -------------------------------------------------------------

    @property
    def model_id(self) -> str:
        return self._model

    @property
    def context_size(self) -> int:
        return self._context_size

    @property
    def last_usage(self) -> Usage | None:
        return self._last_usage

    @property
    def base_url(self) -> str:
        return self._base_url

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        body = {"model": self._model, **chat_request(messages, options)}
        return self._stream(body)

    # -- other API ----------------------------------------------------------------------

    def list_models(self) -> list[str]:
        """The model names the server offers (``GET {base_url}/models``)."""
        url = f"{self._base_url}/models"
        response = self._send(self._client.build_request("GET", url, headers=self._headers()))
        try:
            if response.status_code != 200:
                response.read()
                self._raise_http_error(response, url)
            payload = response.read()
        finally:
            response.close()
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise GeneratorError(
                f"the OpenAI-compatible server at {self._base_url} answered GET /models with "
                f"something that is not JSON: {self._quote(payload)}",
                hint="check that `generator_url` points at the API root (usually ending in /v1)",
            ) from exc
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            entries = data.get("models", []) if isinstance(data, dict) else []
        names = []
        for entry in entries:
            if isinstance(entry, dict):
                name = entry.get("id") or entry.get("name") or entry.get("model")
                if name:
                    names.append(str(name))
        return names

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> "OpenAICompatibleGenerator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # no API key in here
        return f"OpenAICompatibleGenerator({self._base_url!r}, model={self._model!r})"

    # -- internals ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _stream(self, body: dict[str, Any]) -> Iterator[str]:
        self._last_usage = None
        self.first_logprobs = None
        if body["max_tokens"] <= 0:
            return
        url = f"{self._base_url}/chat/completions"
        response = self._open_stream(url, body)
        usage: Usage | None = None
        if response.headers.get("content-type", "").startswith("application/json"):
            # a server that ignores "stream": one chat.completion object
            try:
                response.read()
            finally:
                response.close()
            chunk = self._parse_chunk(response.text)
            for choice in chunk.get("choices") or ():
                message = choice.get("message") if isinstance(choice, dict) else None
                content = message.get("content") if isinstance(message, dict) else None
                if isinstance(content, str) and content:
                    yield content
            raw_usage = chunk.get("usage")
            self._last_usage = _usage(raw_usage) if isinstance(raw_usage, dict) else None
            return
        first = True
        try:
            for data in self._events(response):
                if data == "[DONE]":
                    break
                chunk = self._parse_chunk(data)
                if chunk.get("error"):
                    error = chunk["error"]
                    message = error.get("message", error) if isinstance(error, dict) else error
                    raise GeneratorError(
                        f"the OpenAI-compatible server at {self._base_url} failed while "
                        f"generating: {self._quote(str(message))}",
                        hint="see the server's log; a shorter prompt may help",
                    )
                raw_usage = chunk.get("usage")
                if isinstance(raw_usage, dict):
                    usage = _usage(raw_usage) or usage
                elif usage is None and isinstance(chunk.get("timings"), dict):
                    usage = _usage_from_timings(chunk["timings"])
                for choice in chunk.get("choices") or ():
                    if not isinstance(choice, dict):
                        continue
                    delta = choice.get("delta") or {}
                    content = delta.get("content") if isinstance(delta, dict) else None
                    if isinstance(content, str) and content:
                        if first:
                            first = False
                            self.first_logprobs = first_token_logprobs(choice)
                        yield content
        finally:
            response.close()  # on early close too: the server sees the disconnect and stops
        self._last_usage = usage

    def _open_stream(self, url: str, body: dict[str, Any]) -> httpx.Response:
        with_usage = self._include_usage
        request_body = dict(body, stream_options={"include_usage": True}) if with_usage else body
        response = self._send(
            self._client.build_request("POST", url, json=request_body, headers=self._headers())
        )
        if response.status_code == 200:
            return response
        try:
            response.read()
        finally:
            response.close()
        if with_usage and response.status_code in (400, 422) and "stream_options" in response.text:
            # an older server that rejects the field: ask again without it, from now on
            log.info("%s rejects stream_options; usage will not be reported", self._base_url)
            with self._lock:
                self._include_usage = False
            return self._open_stream(url, body)
        self._raise_http_error(response, url)
        raise AssertionError("unreachable")

    def _send(self, request: httpx.Request) -> httpx.Response:
        log.debug("%s %s", request.method, request.url.path)  # no query string, no userinfo
        for attempt in (1, 2):
            try:
                return self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                raise GeneratorError(
                    f"cannot reach the OpenAI-compatible server at {self._base_url} "
                    f"({self._describe(exc)})",
                    hint="start the server, or check the `generator_url` setting",
                ) from exc
            except httpx.TimeoutException as exc:
                raise GeneratorError(
                    f"the OpenAI-compatible server at {self._base_url} did not answer within "
                    f"{self._timeout:g} s",
                    hint="the server may be overloaded or the prompt long: check the server, or "
                    "raise the generator timeout",
                ) from exc
            except _STALE_CONNECTION as exc:
                # a kept-alive connection the server had closed (llama-server closes it after
                # a stream while advertising keep-alive): one retry on a new connection
                if attempt == 2:
                    raise GeneratorError(
                        f"the OpenAI-compatible server at {self._base_url} closed the "
                        f"connection ({self._describe(exc)})",
                        hint="check the server's log, and that `generator_url` is right",
                    ) from exc
                log.debug("retrying %s after %s", request.url.path, type(exc).__name__)
            except httpx.HTTPError as exc:
                raise GeneratorError(
                    f"request to the OpenAI-compatible server at {self._base_url} failed "
                    f"({self._describe(exc)})",
                    hint="check the `generator_url` setting",
                ) from exc
        raise AssertionError("unreachable")

    def _events(self, response: httpx.Response) -> Iterator[str]:
        """The ``data`` payloads of the response's server-sent events."""
        try:
            for line in response.iter_lines():
                if not line or line.startswith(":"):
                    continue  # event separator, comment or keep-alive ping
                field, sep, value = line.partition(":")
                if not sep or field not in ("data", "event", "id", "retry"):
                    raise GeneratorError(
                        f"the OpenAI-compatible server at {self._base_url} sent a malformed "
                        f"event-stream line: {self._quote(line)}",
                        hint="check that `generator_url` points at an OpenAI-compatible API",
                    )
                if field == "data":
                    yield value[1:] if value.startswith(" ") else value
        except httpx.TimeoutException as exc:
            raise GeneratorError(
                f"the OpenAI-compatible server at {self._base_url} stopped sending for more "
                f"than {self._timeout:g} s",
                hint="check the server, or raise the generator timeout",
            ) from exc
        except httpx.HTTPError as exc:
            raise GeneratorError(
                f"the connection to the OpenAI-compatible server at {self._base_url} broke "
                f"during the answer ({self._describe(exc)})",
                hint="check the server's log",
            ) from exc

    def _parse_chunk(self, data: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise GeneratorError(
                f"the OpenAI-compatible server at {self._base_url} sent an event that is not "
                f"JSON: {self._quote(data)}",
                hint="check that `generator_url` points at an OpenAI-compatible API",
            ) from exc
        if not isinstance(chunk, dict):
            raise GeneratorError(
                f"the OpenAI-compatible server at {self._base_url} sent an unexpected event: "
                f"{self._quote(data)}",
                hint="check that `generator_url` points at an OpenAI-compatible API",
            )
        return chunk

    def _raise_http_error(self, response: httpx.Response, url: str) -> None:
        status = response.status_code
        detail = self._quote(_error_message(response))
        where = f"the OpenAI-compatible server at {self._base_url}"
        if status in (401, 403):
            hint = (
                f"set {_API_KEY_ENV} (the `generator_api_key` setting) to a key this server accepts"
                if self._api_key is None
                else f"the API key was refused: check {_API_KEY_ENV} (the `generator_api_key` setting)"
            )
            raise GeneratorError(f"{where} refused the request (HTTP {status}): {detail}", hint=hint)
        if status == 404:
            raise GeneratorError(
                f"{where} answered HTTP 404 for {url}: {detail}",
                hint=f"check the model name {self._model!r} (GET {self._base_url}/models lists "
                "the served models) and that `generator_url` is the API root (usually ending in /v1)",
            )
        if status == 429:
            raise GeneratorError(
                f"{where} is rate-limiting requests (HTTP 429): {detail}",
                hint="wait and retry, or lower the request rate",
            )
        if 400 <= status < 500:
            raise GeneratorError(
                f"{where} rejected the request (HTTP {status}): {detail}",
                hint="check `generator_model` and the generation settings; a shorter prompt may help",
            )
        raise GeneratorError(
            f"{where} failed (HTTP {status}): {detail}",
            hint="see the server's log",
        )

    def _quote(self, text: str | bytes) -> str:
        """``text`` shortened for an error message, without the API key."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = " ".join(text.split())
        if self._api_key:
            text = text.replace(self._api_key, "***")
        if len(text) > _MAX_ERROR_CHARS:
            text = text[:_MAX_ERROR_CHARS] + "..."
        return text or "(empty body)"

    def _describe(self, exc: Exception) -> str:
        return self._quote(str(exc) or type(exc).__name__)


def _error_message(response: httpx.Response) -> str:
    """The server's own error message: OpenAI's ``{"error": {"message": ...}}`` and variants."""
    text = response.text
    try:
        payload = json.loads(text)
    except ValueError:
        return text
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            for key in ("message", "detail", "msg"):
                if error.get(key):
                    return str(error[key])
        elif isinstance(error, str):
            return error
        if payload.get("detail"):
            return str(payload["detail"])
    return text


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
