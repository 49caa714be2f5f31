"""Ask with experts, top to bottom: guard, route (split + gate per part), answer the parts
in parallel, merge, one trace.

    route:  question -> split (heuristic, or the generator with a JSON grammar)
            -> per part: gate (experts the caller may read, scored) -> collections + expert
    parts:  a thread per part runs the ordinary pipeline (:func:`fiable.ask.ask_events`) on
            the part's collections with its expert's settings (prompt templates, verify
            policy, generator). Generation on one local model is serialized (a lock per
            generator); an OpenAI-compatible generator runs parts at once. Past the
            request's time budget (``experts_budget``) a part stops and abstains alone.
    merge:  :func:`fiable.experts.merge.merge_answers` (sources renumbered across parts).

The trace has a ``route`` span (split, one ``gate`` child per part with the candidates'
scores and weights, the chosen experts) and one ``part`` span per sub-question holding that
part's own pipeline spans.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import uuid
from collections.abc import Collection
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..answer import AskEvent, Done, Retrieved, Token
from ..ask import AskRequest, _check_question, ask_events
from ..embedders.base import Embedder, Vectors
from ..errors import FiableError, GeneratorError, UserError
from ..generators.base import ChatMessage, GenerationOptions, Generator, Usage
from ..observability.tracing import Span, Tracer
from ..settings import Settings
from ..store.base import Store
from .config import Expert, check_collections
from .gate import Gate, GateResult
from .merge import PartOutcome, merge_answers
from .split import Split, split_question

__all__ = ["ExpertsRuntime", "ask_experts_events", "route_question"]

logger = logging.getLogger(__name__)

_GRACE_S = 1.0  # how long past the budget the request waits for parts to notice it


class _OutOfTime(Exception):
    """The request's time budget ran out inside a part."""


class _QueryMemo:
    """The embedder, remembering query vectors for one request (the gate's vector is the
    retrieval's: the question is embedded once)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._lock = threading.Lock()
        self._vectors: dict[str, Vectors] = {}

    model_id = property(lambda self: self._embedder.model_id)
    dimension = property(lambda self: self._embedder.dimension)
    max_tokens = property(lambda self: self._embedder.max_tokens)

    def count_tokens(self, text: str) -> int:
        return self._embedder.count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._embedder.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        with self._lock:
            cached = self._vectors.get(text)
        if cached is None:
            cached = self._embedder.embed_query(text)
            with self._lock:
                self._vectors[text] = cached
        return cached


class _Budgeted:
    """A generator whose streams stop at the request's deadline and, when ``lock`` is
    given, run one at a time (a single local model)."""

    def __init__(self, generator: Generator, lock: threading.Lock | None, deadline: float) -> None:
        self._generator = generator
        self._lock = lock
        self._deadline = deadline

    model_id = property(lambda self: self._generator.model_id)
    context_size = property(lambda self: self._generator.context_size)

    @property
    def last_usage(self) -> Usage | None:
        return self._generator.last_usage

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        if self._lock is not None:
            if not self._lock.acquire(timeout=max(0.0, self._deadline - time.perf_counter())):
                raise _OutOfTime("waited for the local model until the time budget ran out")
        try:
            stream = self._generator.stream(messages, options)
            try:
                for piece in stream:
                    yield piece
                    if time.perf_counter() > self._deadline:
                        raise _OutOfTime("the time budget ran out during generation")
            finally:
                close = getattr(stream, "close", None)
                if callable(close):
                    close()
        finally:
            if self._lock is not None:
                self._lock.release()


def _concurrent(generator: Generator) -> bool:
    """Whether ``generator`` serves several streams at once (a remote endpoint)."""
    from ..generators.openai_compat import OpenAICompatibleGenerator

    return isinstance(generator, OpenAICompatibleGenerator)


class ExpertsRuntime:
    """What a workspace keeps between ``--experts`` questions: the gate (with its cached
    collection summaries), the experts' own generators and one lock per local model."""

    def __init__(self, store: Store, embedder: Embedder,
                 make_generator: Callable[[Settings], Generator], *,
                 embedder_for: Callable[[str], Embedder] | None = None) -> None:
        self.gate = Gate(store, embedder, embedder_for=embedder_for)
        self._make_generator = make_generator
        self._lock = threading.Lock()
        self._generators: dict[tuple[str, str, str], Generator] = {}
        self._model_locks: dict[int, threading.Lock] = {}

    def generator(self, settings: Settings, default: Callable[[], Generator],
                  expert: Expert | None) -> Generator:
        """The expert's own generator (built once), or the workspace's."""
        if expert is None or not expert.generator:
            return default()
        key = (expert.generator, expert.generator_url, expert.generator_model)
        with self._lock:
            found = self._generators.get(key)
            if found is None:
                found = self._make_generator(settings)
                self._generators[key] = found
            return found

    def model_lock(self, generator: Generator) -> threading.Lock | None:
        if _concurrent(generator):
            return None
        with self._lock:
            return self._model_locks.setdefault(id(generator), threading.Lock())

    def close(self) -> None:
        with self._lock:
            generators, self._generators = list(self._generators.values()), {}
        for g in generators:
            close = getattr(g, "close", None)
            if callable(close):
                close()


def route_question(
    question: str, experts: Sequence[Expert], gate: Gate, settings: Settings, *,
    readable: Collection[str] | None = None, embedder: Embedder | None = None,
    split_generator: Callable[[], Generator] | None = None,
) -> tuple[Split, list[GateResult]]:
    """The split of ``question`` and the gate's decision for each part (no answer):
    what ``fiable experts test`` shows."""
    generator = None
    if settings.experts_split == "model" and split_generator is not None:
        generator = split_generator()
    split = split_question(question, settings.experts_split, generator)
    routes = [gate.route(part, experts, readable=readable, top_k=settings.experts_top_k,
                         temperature=settings.experts_temperature,
                         threshold=settings.experts_threshold,
                         min_score=settings.experts_min_score,
                         vector=None if embedder is None else embedder.embed_query(part))
              for part in split.parts]
    return split, routes


def _graft(tracer: Tracer, parent: Span, trace: Mapping[str, Any], name: str,
           **attributes: Any) -> None:
    """Copy a part's span tree under ``parent`` (its root renamed ``name``), shifted onto
    this request's clock."""
    start_ns = trace.get("start_unix_ns")
    if not start_ns:
        return
    offset = (int(start_ns) - tracer.start_unix_ns) / 1e9

    def build(span: Mapping[str, Any], base: float) -> Span:
        start = base + span["start_ms"] / 1000
        node = Span(span["name"], start, start + span["duration_ms"] / 1000,
                    dict(span.get("attributes") or {}))
        node.children = [build(c, base) for c in span.get("children") or ()]
        return node

    for root in trace.get("spans") or ():
        node = build(root, tracer.started + offset)
        node.name = name
        node.set(**attributes)
        parent.children.append(node)


def ask_experts_events(
    question: str,
    *,
    experts: Sequence[Expert],
    runtime: ExpertsRuntime,
    store: Store,
    embedder: Embedder,
    settings: Settings,
    part_settings: Callable[[Expert | None, Sequence[str] | None], Settings],
    default_generator: Callable[[], Generator],
    readable: Collection[str] | None = None,
    top_k: int | None = None,
    dense_route: Callable[[Sequence[str] | None], tuple[Embedder, Any]] | None = None,
) -> Iterator[AskEvent]:
    """Answer ``question`` with experts (see module docstring): ``Retrieved`` (every part's
    sources, renumbered), one ``Token`` with the merged text, then ``Done``.

    ``part_settings(expert, collections)`` gives the settings a part runs with (the
    workspace's for those collections, the request's overrides, the expert's own);
    ``readable`` (None = all) is what the caller may read: experts over anything else are
    never candidates, and the fallback searches readable collections only."""
    started = time.perf_counter()
    deadline = started + settings.experts_budget
    trace_id = uuid.uuid4().hex
    created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    tracer = Tracer(trace_id, "ask", started=started, mode="experts")
    memo = _QueryMemo(embedder)

    def budgeted(generator: Generator) -> Generator:
        return _Budgeted(generator, runtime.model_lock(generator), deadline)  # type: ignore[return-value]
    with tracer.span("guard") as guard:
        question = _check_question(question, settings)
        if not experts:
            raise UserError("no experts are declared in this workspace",
                            hint='add one with `fiable experts add NAME --collection C '
                                 '--description "..."` or an [experts."NAME"] table in '
                                 "fiable.toml")
        names = [c.name for c in store.collections()]
        shown = names if readable is None else [n for n in names if n in set(readable)]
        check_collections(experts, names, shown=shown)
        guard.set(question_chars=len(question), experts=len(experts))

    with tracer.span("route", split_mode=settings.experts_split) as route:
        split, routes = route_question(
            question, experts, runtime.gate, settings, readable=readable, embedder=memo,
            split_generator=lambda: budgeted(default_generator()))
        by_name = {e.name: e for e in experts}
        t = route.start
        for i, (part, gate) in enumerate(zip(split.parts, routes)):
            names_ = list(gate.scores)
            tracer.add("gate", t, t + gate.seconds, parent=route, part=i + 1,
                       experts=names_, scores=[gate.scores[n] for n in names_],
                       weights=[gate.weights[n] for n in names_], chosen=list(gate.chosen),
                       fallback=gate.fallback, reason=gate.reason,
                       collections=None if gate.collections is None else list(gate.collections))
            t += gate.seconds
        route.set(split=split.method, parts=len(split.parts), split_ms=round(split.seconds * 1000, 3),
                  model_error=split.model_error,
                  chosen=["+".join(g.chosen) or "fallback" for g in routes])

    def run_part(index: int, part: str, gate: GateResult) -> PartOutcome:
        t0 = time.perf_counter()
        expert = by_name[gate.chosen[0]] if gate.chosen else None
        base = dict(index=index, question=part, gate=gate,
                    expert=None if expert is None else expert.name)
        if t0 > deadline:
            return PartOutcome(**base, status="timeout", error="the time budget ran out before "
                               "this part started", seconds=0.0)
        part_config = part_settings(expert, gate.collections)

        def generator() -> Generator:
            return budgeted(runtime.generator(part_config, default_generator, expert))

        part_embedder, groups = memo, None
        if dense_route is not None:  # collections embedded by other models than the gate's
            routed, groups = dense_route(gate.collections)
            if groups is not None or routed.model_id != memo.model_id:
                part_embedder = routed
        events = ask_events(AskRequest(part, gate.collections, top_k), store=store,
                            embedder=part_embedder, generator_factory=generator,
                            settings=part_config, dense_groups=groups)
        try:
            for event in events:
                if isinstance(event, Done):
                    a = event.answer
                    status = ("abstained" if a.abstained else
                              "flagged" if a.unsupported_sentences else "answered")
                    return PartOutcome(**base, status=status, answer=a, messages=event.messages,
                                       trace=event.trace, seconds=time.perf_counter() - t0)
                if time.perf_counter() > deadline:
                    raise _OutOfTime("the time budget ran out")
        except _OutOfTime as exc:
            return PartOutcome(**base, status="timeout",
                               error=f"{exc} ({settings.experts_budget:g} s, experts_budget)",
                               seconds=time.perf_counter() - t0)
        except UserError:
            raise
        except (FiableError, GeneratorError) as exc:
            logger.warning("expert part failed", extra={"trace_id": trace_id, "part": index + 1,
                                                        "error": exc.message})
            return PartOutcome(**base, status="error", error=exc.message,
                               seconds=time.perf_counter() - t0)
        finally:
            events.close()
        return PartOutcome(**base, status="error", error="the pipeline ended without an answer",
                           seconds=time.perf_counter() - t0)

    t_parts = time.perf_counter()
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=max(1, min(settings.experts_parallel, len(split.parts))),
        thread_name_prefix="fiable-expert")
    try:
        futures = [pool.submit(run_part, i, p, g)
                   for i, (p, g) in enumerate(zip(split.parts, routes))]
        concurrent.futures.wait(futures, timeout=max(0.0, deadline - time.perf_counter()) + _GRACE_S)
        outcomes: list[PartOutcome] = []
        for i, (future, part, gate) in enumerate(zip(futures, split.parts, routes)):
            if future.done():
                outcomes.append(future.result())  # re-raises a UserError from the part
            else:
                future.cancel()
                outcomes.append(PartOutcome(
                    i, part, gate, gate.chosen[0] if gate.chosen else None, "timeout",
                    error=f"the time budget ran out ({settings.experts_budget:g} s, "
                          "experts_budget)", seconds=time.perf_counter() - t_parts))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    t_parts_end = time.perf_counter()
    parts_span = tracer.add("parts", t_parts, t_parts_end, parts=len(outcomes),
                            parallel=settings.experts_parallel,
                            statuses=[o.status for o in outcomes],
                            budget_s=settings.experts_budget)
    for o in outcomes:
        _graft(tracer, parts_span, o.trace, "part", index=o.index + 1, expert=o.expert,
               status=o.status)
    timings = {"route": round(sum(g.seconds for g in routes) + split.seconds, 4),
               "split": round(split.seconds, 4),
               "parts": round(t_parts_end - t_parts, 4)}
    ended = time.perf_counter()
    timings["total"] = round(ended - started, 4)
    answer = merge_answers(question, outcomes, trace_id=trace_id, created_at=created_at,
                           embedder_model=embedder.model_id,
                           verification=None if settings.verify == "off" else settings.verify,
                           timings=timings)
    decision = ("abstained-after" if answer.abstained and answer.generator_model else
                "abstained-before" if answer.abstained else
                "flagged" if answer.unsupported_sentences else "answered")
    policy = Span("policy", t_parts_end, ended).set(
        decision=decision, parts=len(outcomes),
        answered=sum(o.status in ("answered", "flagged") for o in outcomes),
        abstained=sum(o.status == "abstained" for o in outcomes),
        timed_out=sum(o.status == "timeout" for o in outcomes),
        failed=sum(o.status == "error" for o in outcomes))
    # before the parts: readers take the first `policy` span as the request's decision
    tracer.root.children.insert(tracer.root.children.index(parts_span), policy)
    trace = tracer.finish(at=ended, decision=decision, experts=sorted(
        {o.expert for o in outcomes if o.expert}))
    passages: list[dict[str, Any]] = []
    offset = 0
    for o in outcomes:
        for p in o.trace.get("passages", []):
            passages.append({**p, "part": o.index + 1,
                             "number": None if p.get("number") is None else p["number"] + offset})
        offset += len(o.answer.sources) if o.answer is not None else 0
    trace["passages"] = passages
    trace["route"] = {"split": split.to_dict(), "gates": [g.to_dict() for g in routes]}
    messages = tuple({**m, "part": str(o.index + 1)} for o in outcomes for m in o.messages)
    yield Retrieved(answer.sources)
    yield Token(answer.text)
    yield Done(answer, messages, trace)
