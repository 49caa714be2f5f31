"""The Generator contract (see ``fiable.generators.base``), as a reusable test suite.

Subclass :class:`GeneratorContract` and override the ``generator`` fixture (any scope)::

    class TestMyGenerator(GeneratorContract):
        @pytest.fixture
        def generator(self):
            return MyGenerator(...)

Override ``messages`` when the generator needs a particular prompt (the extractive fake
needs passages). The prompt must make the generator write a long answer: more than
``long_tokens`` tokens for the length and stop tests, and far more than 100 pieces for the
cancellation tests to tell a cancelled stream from a finished one.

The cancellation tests time "close a long stream, then make a 3-token call" against
``cancel_budget_s`` plus 100 times the seconds per piece measured on that same stream, so a
machine slowed down by other work slows both sides alike.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from fiable.errors import GeneratorError
from fiable.generators.base import ChatMessage, GenerationOptions, Generator

__all__ = ["GeneratorContract", "collect"]


def collect(generator: Generator, messages, options: GenerationOptions) -> list[str]:
    """All pieces of one stream."""
    return list(generator.stream(messages, options))


class GeneratorContract:
    #: fixed seconds allowed for closing a long stream plus a fresh 3-token call
    cancel_budget_s: float = 3.0
    #: max_tokens of the streams closed early
    long_stream_tokens: int = 2048
    #: pieces read to measure the speed before closing
    probe_pieces: int = 16
    #: tokens of the reference answer used by the length / stop tests
    long_tokens: int = 24

    @pytest.fixture
    def generator(self) -> Generator:
        raise NotImplementedError("override the `generator` fixture")

    @pytest.fixture
    def messages(self) -> list[ChatMessage]:
        return [
            ChatMessage("system", "You are a helpful assistant."),
            ChatMessage("user", "Write a long paragraph about the sea, its waves and its fish."),
        ]

    def options(self, **changes) -> GenerationOptions:
        values = {"max_tokens": self.long_tokens, "temperature": 0.0, "seed": 0}
        values.update(changes)
        return GenerationOptions(**values)

    # -- identity -------------------------------------------------------------------------

    def test_satisfies_the_protocol(self, generator):
        assert isinstance(generator, Generator)

    def test_model_id_is_a_non_empty_string(self, generator):
        assert isinstance(generator.model_id, str) and generator.model_id.strip()

    def test_context_size_is_positive(self, generator):
        assert isinstance(generator.context_size, int) and generator.context_size > 0

    # -- streaming ------------------------------------------------------------------------

    def test_stream_yields_non_empty_str_pieces(self, generator, messages):
        pieces = collect(generator, messages, self.options())
        assert pieces, "no output at all"
        assert all(isinstance(p, str) and p for p in pieces), pieces
        assert "".join(pieces).strip()

    def test_deterministic_at_temperature_zero(self, generator, messages):
        first = "".join(collect(generator, messages, self.options()))
        second = "".join(collect(generator, messages, self.options()))
        assert first == second

    def test_max_tokens_bounds_the_length(self, generator, messages):
        long = "".join(collect(generator, messages, self.options()))
        short_pieces = collect(generator, messages, self.options(max_tokens=4))
        short = "".join(short_pieces)
        assert 1 <= len(short_pieces) <= 4  # a piece is one token or more
        usage = generator.last_usage
        if usage is not None:
            assert 1 <= usage.completion_tokens <= 4
        assert len(short) < len(long), "the prompt must give answers longer than 4 tokens"
        assert long.startswith(short)

    def test_last_usage_after_a_finished_stream(self, generator, messages):
        pieces = collect(generator, messages, self.options(max_tokens=6))
        usage = generator.last_usage
        if usage is None:
            pytest.skip("this backend does not report usage")
        assert usage.prompt_tokens > 0
        assert len(pieces) <= usage.completion_tokens <= 6

    def test_stop_string_is_not_included(self, generator, messages):
        full = "".join(collect(generator, messages, self.options()))
        words = re.findall(r"[A-Za-z]{3,}", full)
        assert len(words) >= 3, f"answer too short to pick a stop word: {full!r}"
        stop = words[len(words) // 2]
        cut = full.index(stop)
        stopped = "".join(collect(generator, messages, self.options(stop=(stop,))))
        assert stop not in stopped
        assert stopped.rstrip() == full[:cut].rstrip()

    def test_several_messages_and_roles(self, generator, messages):
        conversation = [
            *messages,
            ChatMessage("assistant", "The sea covers most of the Earth."),
            messages[-1],
        ]
        assert "".join(collect(generator, conversation, self.options(max_tokens=4))).strip()

    # -- cancellation ---------------------------------------------------------------------

    def _open_long_stream(self, generator, messages):
        """A stream asked for many tokens, a few pieces in, and its seconds per piece."""
        stream = generator.stream(messages, self.options(max_tokens=self.long_stream_tokens))
        first = next(stream)
        assert isinstance(first, str) and first
        started = time.perf_counter()
        for _ in range(self.probe_pieces):
            next(stream)
        return stream, (time.perf_counter() - started) / self.probe_pieces

    def _budget(self, per_piece: float) -> float:
        # Uncancelled, the next call would wait for hundreds of pieces; cancelled, for about
        # one piece plus a 3-token call. Relative to the measured speed, so that a loaded
        # machine slows both sides alike.
        return self.cancel_budget_s + 100 * per_piece

    def test_closing_early_cancels_promptly_and_stays_usable(self, generator, messages):
        stream, per_piece = self._open_long_stream(generator, messages)
        started = time.perf_counter()
        stream.close()
        again = collect(generator, messages, self.options(max_tokens=3))
        elapsed = time.perf_counter() - started
        assert again and all(isinstance(p, str) and p for p in again)
        budget = self._budget(per_piece)
        assert elapsed < budget, f"close + a 3-token call took {elapsed:.2f} s (budget {budget:.2f} s)"

    def test_breaking_out_of_a_for_loop_cancels(self, generator, messages):
        probe, per_piece = self._open_long_stream(generator, messages)
        probe.close()
        started = time.perf_counter()
        for _piece in generator.stream(messages, self.options(max_tokens=self.long_stream_tokens)):
            started = time.perf_counter()
            break  # the iterator is dropped here: CPython closes it at once
        again = collect(generator, messages, self.options(max_tokens=3))
        elapsed = time.perf_counter() - started
        assert again
        budget = self._budget(per_piece)
        assert elapsed < budget, f"break + a 3-token call took {elapsed:.2f} s (budget {budget:.2f} s)"

    def test_an_unstarted_stream_costs_nothing(self, generator, messages):
        stream = generator.stream(messages, self.options(max_tokens=2048))
        del stream
        assert collect(generator, messages, self.options(max_tokens=2))

    def test_concurrent_streams_both_complete(self, generator, messages):
        results: list[str] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                results.append("".join(collect(generator, messages, self.options(max_tokens=5))))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        assert len(results) == 2 and all(results)
        assert results[0] == results[1]

    def test_errors_are_generator_errors(self, generator):
        """Malformed input fails with GeneratorError, or is accepted; never anything else."""
        try:
            collect(generator, [ChatMessage("user", "")], self.options(max_tokens=2))
        except GeneratorError:
            pass
