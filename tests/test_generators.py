"""The three generators: the shared contract, plus each one's own behaviour.

Integration tests (``-m integration``) run SmolLM2-135M with llama.cpp in-process and behind
llama.cpp's own OpenAI-compatible HTTP server (started by xllamacpp on 127.0.0.1).
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import tempfile
import threading
from pathlib import Path

import httpx
import pytest

from fiable.errors import GeneratorError, ModelNotFoundError
from fiable.generators.base import ChatMessage, GenerationOptions, Generator, Usage
from fiable.generators.fake import FakeGenerator, parse_passages
from fiable.generators.llamacpp import LlamaCppGenerator
from fiable.generators.openai_compat import OpenAICompatibleGenerator

from tests.conftest import SERVER_KEY
from tests.contracts.generator import GeneratorContract, collect

USER = ChatMessage("user", "hello")
OPTS = GenerationOptions()

SEA = (
    "The sea covers most of the planet and holds countless fish, whales and tiny plankton. "
    "Waves are raised by the wind, and tides by the moon, twice a day along every coast. "
    "Sailors have crossed it for thousands of years, guided by stars and later by compasses."
)

RAG_PROMPT = """Passages:
[1] Title: Leave policy | Section: Annual leave | Page: 2
Employees receive 25 days of paid leave per year. Leave requests go through the HR portal.

[2] Title: Expenses | Section: Travel
Train travel is reimbursed in second class for every business trip inside the country.
Taxis need a manager's approval.

[3] Title: Security
Badges must be worn at all times.

Question: How many days of leave?"""


# ---------------------------------------------------------------------------------------
# FakeGenerator
# ---------------------------------------------------------------------------------------


class TestScriptedFakeContract(GeneratorContract):
    @pytest.fixture
    def generator(self):
        return FakeGenerator(responses=[SEA] * 100)


class TestExtractiveFakeContract(GeneratorContract):
    @pytest.fixture
    def generator(self):
        return FakeGenerator.extractive()

    @pytest.fixture
    def messages(self):
        return [ChatMessage("system", "Answer from the passages."), ChatMessage("user", RAG_PROMPT)]


class TestFakeGenerator:
    def test_scripted_responses_in_order_word_by_word(self):
        gen = FakeGenerator(responses=["One two  three.", "Second answer."])
        assert collect(gen, [USER], OPTS) == ["One ", "two  ", "three."]
        assert collect(gen, [USER], OPTS) == ["Second ", "answer."]
        assert gen.model_id == "fake-scripted" and gen.context_size == 4096
        assert gen.remaining == 0

    def test_scripted_raises_when_exhausted(self):
        gen = FakeGenerator(responses=["Only one."])
        collect(gen, [USER], OPTS)
        with pytest.raises(GeneratorError) as info:
            collect(gen, [USER], OPTS)
        assert "used up" in info.value.message and info.value.hint

    def test_records_the_exact_messages_and_options(self):
        gen = FakeGenerator.extractive()
        messages = [ChatMessage("system", "sys"), ChatMessage("user", RAG_PROMPT)]
        options = GenerationOptions(max_tokens=7, stop=("x",))
        collect(gen, messages, options)
        assert gen.calls == [messages]
        assert gen.options_calls == [options]

    def test_extractive_answers_from_the_first_two_passages(self):
        gen = FakeGenerator.extractive()
        text = "".join(collect(gen, [ChatMessage("user", RAG_PROMPT)], OPTS))
        assert text == (
            "Employees receive 25 days of paid leave per year. [1] "
            "Train travel is reimbursed in second class for every business trip inside the "
            "country. [2]"
        )
        assert gen.model_id == "fake-extractive"

    def test_extractive_reads_the_last_user_message(self):
        gen = FakeGenerator.extractive()
        messages = [
            ChatMessage("user", RAG_PROMPT),
            ChatMessage("assistant", "Employees receive 25 days. [1]"),
            ChatMessage("user", "Passages:\n[4] Title: Other\nParking is free. Really.\n\nQuestion: Parking?"),
        ]
        assert "".join(collect(gen, messages, OPTS)) == "Parking is free. [4]"

    def test_extractive_without_passages_does_not_know(self):
        gen = FakeGenerator.extractive()
        assert "".join(collect(gen, [ChatMessage("user", "What is the leave policy?")], OPTS)) == (
            "I don't know."
        )
        assert "".join(collect(gen, [], OPTS)) == "I don't know."

    def test_parse_passages(self):
        assert parse_passages(RAG_PROMPT) == [
            (1, "Employees receive 25 days of paid leave per year. Leave requests go through the HR portal."),
            (2, "Train travel is reimbursed in second class for every business trip inside the "
                "country. Taxis need a manager's approval."),
            (3, "Badges must be worn at all times."),
        ]
        # text on the header line, a blank line inside a passage, "[n]" inside the text
        prompt = "[1] Plain text first.\n\nStill passage one [2] here.\n\n[2] Second.\n\nQuestion: q"
        assert parse_passages(prompt) == [
            (1, "Plain text first. Still passage one [2] here."),
            (2, "Second."),
        ]
        assert parse_passages("no passages here\n[1] not a header") == []

    def test_max_tokens_counts_words_and_stop_cuts(self):
        gen = FakeGenerator(responses=[SEA, SEA, SEA])
        assert collect(gen, [USER], GenerationOptions(max_tokens=3)) == ["The ", "sea ", "covers "]
        assert gen.last_usage == Usage(prompt_tokens=1, completion_tokens=3)
        text = "".join(collect(gen, [USER], GenerationOptions(stop=("fish", "planet"))))
        assert text == "The sea covers most of the "
        assert collect(gen, [USER], GenerationOptions(max_tokens=0)) == []

    def test_last_usage_is_none_until_the_stream_finishes(self):
        gen = FakeGenerator(responses=[SEA])
        stream = gen.stream([USER], OPTS)
        next(stream)
        assert gen.last_usage is None
        list(stream)
        assert gen.last_usage is not None and gen.last_usage.completion_tokens == len(SEA.split())


# ---------------------------------------------------------------------------------------
# LlamaCppGenerator: failures that need no model
# ---------------------------------------------------------------------------------------


class TestLlamaCppErrors:
    def test_missing_file(self, tmp_path):
        with pytest.raises(ModelNotFoundError) as info:
            LlamaCppGenerator(tmp_path / "nope.gguf")
        assert str(tmp_path / "nope.gguf") in info.value.message
        assert "fiable models pull smollm2-135m" in info.value.hint

    def test_directory(self, tmp_path):
        with pytest.raises(ModelNotFoundError):
            LlamaCppGenerator(tmp_path)

    def test_not_a_gguf_file(self, tmp_path):
        path = tmp_path / "model.gguf"
        path.write_bytes(b"<html>not a model</html>")
        with pytest.raises(GeneratorError) as info:
            LlamaCppGenerator(path)
        assert str(path) in info.value.message and "GGUF" in info.value.message

    def test_corrupt_gguf_fails_cleanly_and_quietly(self, tmp_path, capfd):
        path = tmp_path / "broken.gguf"
        path.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 64)
        before = set(os.listdir(tempfile.gettempdir()))
        with pytest.raises(GeneratorError) as info:
            LlamaCppGenerator(path, n_ctx=512)
        assert str(path) in info.value.message and info.value.hint
        captured = capfd.readouterr()
        assert captured.err == "" and captured.out == ""  # llama.cpp's log is off
        leftovers = {n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("fiable-llama-")}
        assert not leftovers

    def test_bad_arguments(self, tmp_path):
        with pytest.raises(GeneratorError):
            LlamaCppGenerator(tmp_path / "x.gguf", n_ctx=0)


# ---------------------------------------------------------------------------------------
# LlamaCppGenerator with SmolLM2 (integration)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2(smollm2_gguf) -> Path:
    return smollm2_gguf


@pytest.fixture(scope="module")
def llama(smollm2):
    with LlamaCppGenerator(smollm2, n_ctx=1024) as generator:
        yield generator


def _listening_tcp_inodes() -> set[str]:
    """Inodes of this process's sockets that listen on TCP (IPv4 or IPv6)."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[8:-1])
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A":  # TCP_LISTEN
                listening.add(fields[9])
    return mine & listening


@pytest.mark.integration
class TestLlamaCppContract(GeneratorContract):

    @pytest.fixture
    def generator(self, llama):
        return llama


@pytest.mark.integration
class TestLlamaCpp:
    def test_no_reachable_listening_socket(self, smollm2):
        if not Path("/proc/self/fd").exists():
            pytest.skip("needs /proc")
        tcp_before = _listening_tcp_inodes()
        tmp_before = set(os.listdir(tempfile.gettempdir()))
        with LlamaCppGenerator(smollm2, n_ctx=512) as generator:
            assert _listening_tcp_inodes() == tcp_before  # no TCP port opened
            created = set(os.listdir(tempfile.gettempdir())) - tmp_before
            assert not {n for n in created if n.startswith("fiable-llama-")}  # no socket path
            assert collect(generator, [USER], GenerationOptions(max_tokens=2))

    def test_speed_figures_and_usage(self, llama):
        pieces = collect(llama, [USER], GenerationOptions(max_tokens=8))
        assert llama.tokens_per_second and llama.tokens_per_second > 0
        assert llama.time_to_first_token and 0 < llama.time_to_first_token < 30
        usage = llama.last_usage
        assert usage is not None and usage.prompt_tokens > 0
        assert len(pieces) <= usage.completion_tokens <= 8

    def test_figures_reset_by_a_cancelled_stream(self, llama):
        stream = llama.stream([USER], GenerationOptions(max_tokens=200))
        next(stream)
        stream.close()
        assert llama.last_usage is None and llama.tokens_per_second is None

    def test_a_second_stream_in_the_same_thread_fails_instead_of_hanging(self, llama):
        first = llama.stream([USER], GenerationOptions(max_tokens=50))
        next(first)
        with pytest.raises(GeneratorError, match="still open"):
            collect(llama, [USER], GenerationOptions(max_tokens=2))
        first.close()
        assert collect(llama, [USER], GenerationOptions(max_tokens=2))

    def test_prompt_over_the_context_size(self, llama):
        with pytest.raises(GeneratorError) as info:
            collect(llama, [ChatMessage("user", "word " * 3000)], GenerationOptions(max_tokens=2))
        assert "context size" in info.value.message and "n_ctx" in info.value.hint
        assert collect(llama, [USER], GenerationOptions(max_tokens=2))  # still usable

    def test_the_stream_reports_its_first_tokens_alternatives(self, llama):
        question = [ChatMessage("system", "Answer with one word: yes or no."),
                    ChatMessage("user", "Is Paris in France?")]
        pieces = collect(llama, question, GenerationOptions(max_tokens=3, top_logprobs=5))
        first = llama.first_logprobs
        assert first is not None and 1 <= len(first) <= 5 and all(v <= 0.0 for v in first.values())
        assert pieces[0].startswith(max(first, key=first.get))  # temperature 0: the likeliest
        collect(llama, question, GenerationOptions(max_tokens=3))
        assert llama.first_logprobs is None  # not asked for

    def test_next_token_logprobs(self, llama):
        question = [ChatMessage("system", "Answer with one word: yes or no."),
                    ChatMessage("user", "Is Paris in France?")]
        first = llama.next_token_logprobs(question, top=5)
        assert 1 <= len(first) <= 5 and all(v <= 0.0 for v in first.values())
        assert sum(math.exp(v) for v in first.values()) <= 1.0 + 1e-6
        best = max(first, key=first.get)
        # temperature 0: the most likely token is the one the stream starts with
        assert collect(llama, question, GenerationOptions(max_tokens=1, temperature=0.0))[0] == best
        assert llama.next_token_logprobs(question, top=5) == first  # deterministic
        with pytest.raises(GeneratorError, match="top must be"):
            llama.next_token_logprobs(question, top=0)
        with pytest.raises(GeneratorError) as info:
            llama.next_token_logprobs([ChatMessage("user", "word " * 3000)])
        assert "context size" in info.value.message
        stream = llama.stream([USER], GenerationOptions(max_tokens=50))
        next(stream)
        with pytest.raises(GeneratorError, match="still open"):
            llama.next_token_logprobs(question)
        stream.close()
        assert llama.next_token_logprobs(question, top=5) == first  # still usable

    def test_close_frees_the_model_and_ends_open_streams(self, smollm2):
        generator = LlamaCppGenerator(smollm2, n_ctx=512, model_id="smol")
        assert generator.model_id == "smol" and generator.context_size == 512
        stream = generator.stream([USER], GenerationOptions(max_tokens=300))
        next(stream)
        generator.close()
        with pytest.raises(GeneratorError, match="closed"):
            list(stream)
        with pytest.raises(GeneratorError, match="closed"):
            collect(generator, [USER], GenerationOptions(max_tokens=2))
        with pytest.raises(GeneratorError, match="closed"):
            generator.next_token_logprobs([USER])
        generator.close()  # twice is fine


# ---------------------------------------------------------------------------------------
# OpenAICompatibleGenerator against llama.cpp's HTTP server (integration)
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def openai_generator(llama_server):
    with OpenAICompatibleGenerator(
        llama_server, model="smollm2", api_key=SERVER_KEY, timeout=60, context_size=1024
    ) as generator:
        yield generator


@pytest.mark.integration
class TestOpenAICompatibleContract(GeneratorContract):

    @pytest.fixture
    def generator(self, openai_generator):
        return openai_generator


@pytest.mark.integration
class TestOpenAICompatibleServer:
    def test_list_models(self, openai_generator):
        models = openai_generator.list_models()
        assert models and all(isinstance(m, str) and m for m in models)

    def test_wrong_key_is_refused_without_showing_it(self, llama_server, caplog):
        caplog.set_level(logging.DEBUG)
        with OpenAICompatibleGenerator(llama_server, model="m", api_key="sk-wrong-key-42") as gen:
            with pytest.raises(GeneratorError) as info:
                collect(gen, [USER], GenerationOptions(max_tokens=2))
        assert "401" in info.value.message and "FIABLE_GENERATOR_API_KEY" in info.value.hint
        assert "sk-wrong-key-42" not in str(info.value) and "sk-wrong-key-42" not in caplog.text

    def test_requests_after_a_stream_reuse_the_client(self, openai_generator):
        # llama-server closes a kept-alive connection after a stream: the client must cope
        for _ in range(3):
            assert collect(openai_generator, [USER], GenerationOptions(max_tokens=2))
            assert openai_generator.list_models()

    def test_prompt_over_the_context_size(self, openai_generator):
        with pytest.raises(GeneratorError) as info:
            collect(openai_generator, [ChatMessage("user", "word " * 3000)], GenerationOptions(max_tokens=2))
        assert "400" in info.value.message and "context" in info.value.message


# ---------------------------------------------------------------------------------------
# OpenAICompatibleGenerator: protocol and error mapping (httpx.MockTransport)
# ---------------------------------------------------------------------------------------

BASE = "http://llm.test/v1"
KEY = "sk-secret-ABCDEF123456"


def _sse(*events: object, done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(e) if not isinstance(e, str) else e}\n\n" for e in events]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def _chunk(content: str | None = None, **extra: object) -> dict:
    delta = {} if content is None else {"content": content}
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}], **extra}


def _generator(handler, **kwargs) -> OpenAICompatibleGenerator:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    kwargs.setdefault("api_key", KEY)
    return OpenAICompatibleGenerator(BASE, model="qwen", client=client, **kwargs)


def _sse_response(body: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


class TestOpenAICompatibleProtocol:
    def test_streams_deltas_and_sends_the_options(self):
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return _sse_response(_sse(
                {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]},
                _chunk("Hello"), _chunk(""), _chunk(" world"),
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}},
            ))

        gen = _generator(handler)
        options = GenerationOptions(max_tokens=50, temperature=0.2, seed=7, stop=("\n\n", "Q:"))
        messages = [ChatMessage("system", "be brief"), USER]
        assert collect(gen, messages, options) == ["Hello", " world"]
        assert gen.last_usage == Usage(12, 2)
        (request,) = seen
        assert request.method == "POST" and str(request.url) == f"{BASE}/chat/completions"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        body = json.loads(request.content)
        assert body == {
            "model": "qwen",
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}],
            "stream": True,
            "max_tokens": 50,
            "temperature": 0.2,
            "seed": 7,
            "stop": ["\n\n", "Q:"],
            "stream_options": {"include_usage": True},
        }
        assert isinstance(gen, Generator) and gen.model_id == "qwen" and gen.context_size == 4096

    def test_first_token_logprobs_are_asked_for_and_kept(self):
        seen: list[httpx.Request] = []
        top = [{"token": "Not", "logprob": -0.4}, {"token": "The", "logprob": -1.2}]

        def handler(request):
            seen.append(request)
            first = {"choices": [{"index": 0, "delta": {"content": "Not"}, "logprobs": {
                "content": [{"token": "Not", "logprob": -0.4, "top_logprobs": top}]}}]}
            return _sse_response(_sse(first, _chunk(" in the documents.")))

        gen = _generator(handler)
        assert collect(gen, [USER], GenerationOptions(top_logprobs=2)) == ["Not", " in the documents."]
        assert gen.first_logprobs == {"Not": -0.4, "The": -1.2}
        body = json.loads(seen[0].content)
        assert body["logprobs"] is True and body["top_logprobs"] == 2
        # not wanted: not asked for
        assert collect(gen, [USER], GenerationOptions()) == ["Not", " in the documents."]
        assert "logprobs" not in json.loads(seen[1].content)

    def test_no_key_no_seed_no_stop(self):
        seen: list[httpx.Request] = []

        def handler(request):
            seen.append(request)
            return _sse_response(_sse(_chunk("ok")))

        gen = _generator(handler, api_key=None)
        assert collect(gen, [USER], GenerationOptions(seed=None)) == ["ok"]
        body = json.loads(seen[0].content)
        assert "authorization" not in seen[0].headers
        assert "seed" not in body and "stop" not in body

    def test_tolerates_comments_other_fields_and_no_usage(self):
        body = (
            b": keep-alive\n\nevent: message\nid: 1\ndata:" + json.dumps(_chunk("a")).encode()
            + b"\n\nretry: 100\ndata: " + json.dumps(_chunk("b")).encode() + b"\n\n"
        )  # no [DONE] either
        gen = _generator(lambda request: _sse_response(body))
        assert collect(gen, [USER], OPTS) == ["a", "b"]
        assert gen.last_usage is None

    def test_llama_cpp_timings_give_usage(self):
        timings = {"prompt_n": 5, "cache_n": 10, "predicted_n": 3, "predicted_per_second": 99.0}
        gen = _generator(lambda r: _sse_response(_sse(_chunk("x"), _chunk(timings=timings))))
        collect(gen, [USER], OPTS)
        assert gen.last_usage == Usage(15, 3)

    def test_server_rejecting_stream_options_is_asked_again_without(self):
        bodies: list[dict] = []

        def handler(request):
            body = json.loads(request.content)
            bodies.append(body)
            if "stream_options" in body:
                return httpx.Response(400, json={"error": {"message": "Unrecognized request argument supplied: stream_options"}})
            return _sse_response(_sse(_chunk("fine")))

        gen = _generator(handler)
        assert collect(gen, [USER], OPTS) == ["fine"]
        assert collect(gen, [USER], OPTS) == ["fine"]
        assert ["stream_options" in b for b in bodies] == [True, False, False]

    def test_stale_kept_alive_connection_is_retried_once(self):
        calls = []

        def handler(request):
            calls.append(request)
            if len(calls) == 1:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            return _sse_response(_sse(_chunk("ok")))

        assert collect(_generator(handler), [USER], OPTS) == ["ok"]
        assert len(calls) == 2

    def test_closing_the_iterator_closes_the_response(self):
        closed = threading.Event()

        class Body(httpx.SyncByteStream):
            def __iter__(self):
                for i in range(1000):
                    yield f"data: {json.dumps(_chunk(f'w{i} '))}\n\n".encode()

            def close(self):
                closed.set()

        gen = _generator(lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Body()))
        stream = gen.stream([USER], OPTS)
        assert next(stream) == "w0 "
        assert not closed.is_set()
        stream.close()
        assert closed.is_set()
        assert gen.last_usage is None

    def test_server_ignoring_stream_gives_one_piece(self):
        body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "All at once."}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
        gen = _generator(lambda r: httpx.Response(200, json=body))
        assert collect(gen, [USER], OPTS) == ["All at once."]
        assert gen.last_usage == Usage(3, 4)

    def test_list_models(self):
        def handler(request):
            assert request.method == "GET" and str(request.url) == f"{BASE}/models"
            return httpx.Response(200, json={"object": "list", "data": [{"id": "qwen"}, {"id": "smol"}]})

        assert _generator(handler).list_models() == ["qwen", "smol"]

    def test_max_tokens_zero_sends_nothing(self):
        def handler(request):
            raise AssertionError("no request expected")

        assert collect(_generator(handler), [USER], GenerationOptions(max_tokens=0)) == []

    def test_invalid_settings(self):
        with pytest.raises(GeneratorError):
            OpenAICompatibleGenerator("llm.test", model="m")
        with pytest.raises(GeneratorError):
            OpenAICompatibleGenerator(BASE, model="")


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestOpenAICompatibleErrors:
    def test_connection_refused(self):
        url = f"http://127.0.0.1:{_closed_port()}/v1"
        with OpenAICompatibleGenerator(url, model="m", timeout=5) as gen:
            with pytest.raises(GeneratorError) as info:
                collect(gen, [USER], OPTS)
            assert f"cannot reach the OpenAI-compatible server at {url}" in info.value.message
            assert "generator_url" in info.value.hint and "start the server" in info.value.hint
            with pytest.raises(GeneratorError, match="cannot reach"):
                gen.list_models()

    @pytest.mark.parametrize("status", [401, 403])
    def test_refused_key(self, status):
        gen = _generator(lambda r: httpx.Response(status, json={"error": {"message": f"Incorrect API key provided: {KEY}"}}))
        with pytest.raises(GeneratorError) as info:
            collect(gen, [USER], OPTS)
        assert str(status) in info.value.message
        assert "FIABLE_GENERATOR_API_KEY" in info.value.hint
        assert KEY not in str(info.value)

    def test_missing_key(self):
        gen = _generator(lambda r: httpx.Response(401, text="Unauthorized"), api_key=None)
        with pytest.raises(GeneratorError) as info:
            collect(gen, [USER], OPTS)
        assert "FIABLE_GENERATOR_API_KEY" in info.value.hint

    def test_unknown_model(self):
        gen = _generator(lambda r: httpx.Response(404, json={"error": {"message": "model 'qwen' not found"}}))
        with pytest.raises(GeneratorError) as info:
            collect(gen, [USER], OPTS)
        assert "model 'qwen' not found" in info.value.message
        assert "'qwen'" in info.value.hint and "/models" in info.value.hint

    def test_server_error_quotes_the_message_truncated(self):
        body = {"error": {"message": "CUDA out of memory " + "x" * 2000, "type": "server_error"}}
        gen = _generator(lambda r: httpx.Response(500, json=body))
        with pytest.raises(GeneratorError) as info:
            collect(gen, [USER], OPTS)
        assert "500" in info.value.message and "CUDA out of memory" in info.value.message
        assert len(info.value.message) < 500

    def test_plain_text_error_body(self):
        gen = _generator(lambda r: httpx.Response(502, text="<html>Bad Gateway</html>"))
        with pytest.raises(GeneratorError, match="Bad Gateway"):
            collect(gen, [USER], OPTS)

    @pytest.mark.parametrize(
        "body",
        [
            b"data: " + json.dumps(_chunk("a")).encode() + b"\n\nthis is not sse\n\n",
            b"data: {not json}\n\n",
            b"data: [1, 2]\n\n",
            b"<html>hello</html>\n",
        ],
    )
    def test_malformed_stream(self, body):
        gen = _generator(lambda r: _sse_response(body))
        with pytest.raises(GeneratorError) as info:
            collect(gen, [USER], OPTS)
        assert info.value.hint

    def test_error_event_in_the_stream(self):
        body = _sse(_chunk("a"), {"error": {"message": "slot crashed", "code": 500}})
        with pytest.raises(GeneratorError, match="slot crashed"):
            collect(_generator(lambda r: _sse_response(body)), [USER], OPTS)

    def test_timeout(self):
        def handler(request):
            raise httpx.ReadTimeout("timed out", request=request)

        with pytest.raises(GeneratorError, match="did not answer"):
            collect(_generator(handler, timeout=3), [USER], OPTS)

    def test_connection_broken_mid_stream(self):
        class Body(httpx.SyncByteStream):
            def __iter__(self):
                yield f"data: {json.dumps(_chunk('a'))}\n\n".encode()
                raise httpx.RemoteProtocolError("peer closed connection")

        gen = _generator(lambda r: httpx.Response(200, stream=Body()))
        with pytest.raises(GeneratorError, match="broke"):
            collect(gen, [USER], OPTS)

    def test_api_key_never_in_errors_or_logs(self, caplog):
        caplog.set_level(logging.DEBUG)

        def handler(request):
            if request.url.path.endswith("/models"):
                return httpx.Response(403, text=f"key {KEY} is not allowed")
            return _sse_response(_sse(_chunk("a"), {"error": {"message": f"bad key {KEY}"}}))

        gen = _generator(handler)
        messages = []
        for call in (lambda: collect(gen, [USER], OPTS), gen.list_models):
            with pytest.raises(GeneratorError) as info:
                call()
            messages.append(str(info.value))
        assert all(KEY not in m and "***" in m for m in messages)
        assert KEY not in caplog.text
        assert KEY not in repr(gen)
        url = f"http://127.0.0.1:{_closed_port()}/v1"
        with OpenAICompatibleGenerator(url, model="m", api_key=KEY, timeout=5) as real:
            with pytest.raises(GeneratorError) as info:
                collect(real, [USER], OPTS)
        assert KEY not in str(info.value) and KEY not in caplog.text
