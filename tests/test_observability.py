"""Tracing (span tree, content capture, masking, OTLP export) and drift watch, with the
deterministic fakes; HTTP receivers (an OTLP collector, a webhook) run on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from fiable.answer import Done
from fiable.errors import ConfigError, UserError
from fiable.observability import drift
from fiable.observability.tracing import Tracer, find_span, iter_spans
from fiable.samples import handbook_questions
from tests.helpers import copy_handbook, fake_workspace, run_cli

# Questions the hashing embedder finds far from every handbook passage (best similarity
# < 0.2): with min_relevance = 0.2 they abstain before generation.
UNANSWERABLE = ["wvut frobnicate?", "plorf snarkle?", "frobnicate blorbo?", "snarkle fizzwig?",
                "blorbo zzqx?", "grault plorf?"]
TOP_LEVEL = ["guard", "retrieve", "screen", "prompt", "generate", "cite", "verify", "policy"]
EPS = 1e-6


def _answerable(n: int) -> list[str]:
    return [r["question"] for r in handbook_questions() if r["answerable"]][:n]


@contextmanager
def receiver() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """An HTTP server on 127.0.0.1 that answers 200 to every POST and keeps (path, body)."""
    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", self.headers.get("Content-Type") or "text/plain")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def drift_log(caplog):
    """caplog for the drift logger (the CLI stops ``fiable`` logs propagating to the root)."""
    logger = logging.getLogger("fiable.observability.drift")
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.WARNING)
    propagate, logger.propagate = logger.propagate, False  # each record captured once
    yield caplog
    logger.propagate = propagate
    logger.removeHandler(caplog.handler)


@pytest.fixture
def ws(tmp_path):
    workspace = fake_workspace(tmp_path / "ws", pii_ner=False, min_relevance=0.2)
    workspace.ingest([copy_handbook(tmp_path)])
    yield workspace
    workspace.close()


def _done(ws, question: str, **overrides: Any) -> Done:
    events = list(ws.ask_stream(question, overrides=overrides or None))
    assert isinstance(events[-1], Done)
    return events[-1]


def _check_nesting(span: dict[str, Any]) -> None:
    end = span["start_ms"] + span["duration_ms"]
    assert span["duration_ms"] >= 0
    previous_end = span["start_ms"]
    for child in span["children"]:
        assert child["start_ms"] >= span["start_ms"] - EPS
        assert child["start_ms"] + child["duration_ms"] <= end + EPS, (span["name"], child)
        assert child["start_ms"] >= previous_end - EPS  # siblings in order, no overlap
        previous_end = child["start_ms"] + child["duration_ms"]
        _check_nesting(child)


# -- the span tree -----------------------------------------------------------------------
def test_span_tree_shape_timings_and_attributes(ws):
    done = _done(ws, "How long is the probation period?")
    trace = done.trace
    assert trace["trace_id"] == done.answer.trace_id and trace["start_unix_ns"] > 0
    (root,) = trace["spans"]
    assert root["name"] == "ask" and root["start_ms"] == 0.0
    assert [c["name"] for c in root["children"]] == TOP_LEVEL
    retrieve = find_span(trace, "retrieve")
    assert [c["name"] for c in retrieve["children"]] == ["embed_query", "lexical", "dense", "fuse"]
    _check_nesting(root)
    assert abs(root["duration_ms"] - done.answer.timings["total"] * 1000) < 0.1
    generate = find_span(trace, "generate")["attributes"]
    assert generate["model"] == "fake-extractive" and generate["completion_tokens"] > 0
    assert generate["tokens_per_second"] > 0 and generate["first_token_ms"] >= 0
    assert abs(find_span(trace, "generate")["duration_ms"]
               - done.answer.timings["generate"] * 1000) < 0.1
    verify = find_span(trace, "verify")["attributes"]
    assert len(verify["scores"]) == verify["sentences"] == len(done.answer.sentences)
    assert verify["supported"] + verify["partly"] + verify["unsupported"] == verify["sentences"]
    assert find_span(trace, "guard")["attributes"]["question_chars"] == 33
    assert find_span(trace, "screen")["attributes"]["kept"] == len(done.answer.sources)
    assert find_span(trace, "policy")["attributes"]["decision"] == "answered"
    assert root["attributes"]["decision"] == "answered"
    # passages: ids, hashes and scores; the ones shown to the model are numbered
    shown = [p for p in trace["passages"] if p["status"] == "prompt"]
    assert [p["number"] for p in shown] == [s.number for s in done.answer.sources]
    assert [p["chunk_id"] for p in shown] == [s.chunk_id for s in done.answer.sources]
    assert all("text" not in p for p in trace["passages"])
    # stored in the ask log as it was made
    record = ws.history(trace_id=done.answer.trace_id)[0]
    assert record["trace"]["spans"] == trace["spans"]
    assert record["trace"]["passages"] == trace["passages"]
    json.dumps(trace)  # plain data


def test_decisions_before_and_after_generation(ws):
    before = _done(ws, UNANSWERABLE[0])
    assert before.answer.abstained
    assert [c["name"] for c in before.trace["spans"][0]["children"]] == [
        "guard", "retrieve", "screen", "policy"]
    policy = find_span(before.trace, "policy")["attributes"]
    assert policy["decision"] == "abstained-before" and "min_relevance" in policy["reason"]
    after = _done(ws, "How long is the probation period?", verify="abstain",
                  support_threshold=0.99)
    assert after.answer.abstained
    assert find_span(after.trace, "policy")["attributes"]["decision"] == "abstained-after"
    assert find_span(after.trace, "verify") is not None
    _check_nesting(after.trace["spans"][0])


def test_tracer_closes_what_is_left_open():
    ticks = iter(range(100))
    tracer = Tracer("t1", clock=lambda: float(next(ticks)))
    with tracer.span("outer", a=1, skipped=None) as outer:
        tracer.start("inner")  # never ended explicitly
    tracer.add("late", 5.0, 6.0, parent=tracer.root, tags=("x", "y"))
    trace = tracer.finish(at=10.0, done=True)
    (root,) = trace["spans"]
    assert outer.attributes == {"a": 1}
    names = [(depth, s["name"]) for depth, s in iter_spans(trace["spans"])]
    assert names == [(0, "ask"), (1, "outer"), (2, "inner"), (1, "late")]
    outer_d, late = root["children"]
    assert (outer_d["start_ms"], outer_d["duration_ms"]) == (1000.0, 2000.0)
    inner = outer_d["children"][0]
    assert (inner["start_ms"], inner["duration_ms"]) == (2000.0, 1000.0)  # closed with outer
    assert (late["start_ms"], late["duration_ms"], root["duration_ms"]) == (5000.0, 1000.0,
                                                                          10000.0)
    assert root["children"][1]["attributes"]["tags"] == ["x", "y"]
    assert root["attributes"] == {"done": True}


# -- content capture and masking ---------------------------------------------------------
def test_content_capture_on_and_off(tmp_path):
    handbook = copy_handbook(tmp_path)
    for capture in (True, False):
        ws = fake_workspace(tmp_path / f"ws-{capture}", pii_logs="keep", trace_content=capture)
        ws.ingest([handbook])
        done = _done(ws, "How long is the probation period?")
        record = ws.history(trace_id=done.answer.trace_id)[0]
        ws.close()
        assert record["trace"]["content"] is capture
        assert record["trace"]["spans"] and record["trace"]["passages"]
        assert all(p["content_hash"] and p["chunk_id"] for p in record["trace"]["passages"])
        dumped = json.dumps(record)
        prompt = done.messages[-1]["content"]
        if capture:
            assert record["messages"] == list(done.messages)
            assert all(s["snippet"] for s in record["answer"]["sources"])
        else:
            assert record["messages"] == [] and prompt not in dumped
            assert all(s["snippet"] == "" and s["content_hash"]
                       for s in record["answer"]["sources"])
            assert record["answer"]["text"] == done.answer.text  # the answer stays


def test_pii_masked_in_trace_content(ws, cli_env, capsys):
    address = "jane.doe@example.com"
    done = _done(ws, f"How long is the probation period? Reply to {address}")
    assert address in done.messages[-1]["content"]  # the model saw it (pii = keep)
    record = ws.history(trace_id=done.answer.trace_id)[0]
    assert address not in json.dumps(record)
    assert "<EMAIL_1>" in record["question"] and "<EMAIL_1>" in record["messages"][-1]["content"]
    ws.close()
    code, out, _ = run_cli(capsys, "-w", str(ws.path), "traces", "show", done.answer.trace_id)
    assert code == 0 and address not in out and "<EMAIL_1>" in out


# -- OTLP export --------------------------------------------------------------------------
def test_otlp_export_to_a_local_receiver(tmp_path):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    with receiver() as (url, received):
        ws = fake_workspace(tmp_path / "ws", min_relevance=0.2,
                            otlp_endpoint=f"{url}/v1/traces")
        ws.ingest([copy_handbook(tmp_path)])
        answered = _done(ws, "How long is the probation period?")
        abstained = _done(ws, UNANSWERABLE[1])
        ws.close()  # flushes the batch
    assert received and all(path == "/v1/traces" for path, _ in received)
    spans = []
    for _, body in received:
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            service = {a.key: a.value.string_value for a in rs.resource.attributes}
            assert service["service.name"] == "fiable"
            for ss in rs.scope_spans:
                spans.extend(ss.spans)
    by_trace: dict[str, list] = {}
    for s in spans:
        by_trace.setdefault(s.trace_id.hex(), []).append(s)
    assert set(by_trace) == {answered.answer.trace_id, abstained.answer.trace_id}
    for done in (answered, abstained):
        exported = by_trace[done.answer.trace_id]
        ids = {s.span_id: s for s in exported}
        expected = [(s["name"], parent) for s, parent in _with_parents(done.trace["spans"])]
        got = [(s.name, ids[s.parent_span_id].name if s.parent_span_id else None)
               for s in exported]
        assert sorted(got) == sorted(expected)
        for s in exported:  # children within their parents
            if s.parent_span_id:
                parent = ids[s.parent_span_id]
                assert parent.start_time_unix_nano <= s.start_time_unix_nano
                assert s.end_time_unix_nano <= parent.end_time_unix_nano
    generate = next(s for s in by_trace[answered.answer.trace_id] if s.name == "generate")
    attrs = {a.key: a.value for a in generate.attributes}
    assert attrs["model"].string_value == "fake-extractive"
    assert attrs["completion_tokens"].int_value > 0
    root = next(s for s in by_trace[abstained.answer.trace_id] if s.name == "ask")
    assert {a.key: a.value.string_value for a in root.attributes}["decision"] == "abstained-before"


def _with_parents(spans, parent=None):
    for s in spans:
        yield s, parent
        yield from _with_parents(s["children"], s["name"])


def test_otlp_without_the_extra_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter",
                        None)
    ws = fake_workspace(tmp_path / "ws", otlp_endpoint="http://127.0.0.1:9/v1/traces")
    ws.ingest([copy_handbook(tmp_path)])
    with pytest.raises(ConfigError) as info:
        ws.ask("How long is the probation period?")
    assert "fiable[otlp]" in (info.value.hint or "")
    assert ws.history() == []  # failed before any work
    ws.close()


# -- drift ---------------------------------------------------------------------------------
def test_drift_stable_window_then_abstentions_alert_log_and_webhook(tmp_path, drift_log):
    caplog = drift_log
    with receiver() as (url, received):
        ws = fake_workspace(tmp_path / "ws", pii_ner=False, min_relevance=0.2,
                            drift_window=10, drift_webhook=f"{url}/hook")
        ws.ingest([copy_handbook(tmp_path)])
        questions = _answerable(10)
        for q in questions:
            assert not ws.ask(q).abstained
        state = ws.drift()
        assert state.count == 10 and state.baseline_source is None and not state.alerts
        assert state.metrics["abstention_rate"] == {"value": 0.0, "baseline": None}
        stored = drift.accept_baseline(ws.store, ws.settings)
        assert stored["metrics"]["abstention_rate"] == 0.0 and stored["items"] == 10
        for q in questions:
            ws.ask(q)
        calm = {"latency_p95_ms": 1000.0}  # timings of the fakes are too small to compare
        stable = ws.drift(thresholds=calm)
        assert "accepted" in stable.baseline_source and stable.alerts == ()
        assert stable.metrics["mean_support"]["value"] is not None
        for q in UNANSWERABLE:
            assert ws.ask(q).abstained
        state = ws.drift(thresholds=calm)
        ws.close()
    (alert,) = state.alerts
    assert alert.metric == "abstention_rate" and alert.value == 0.6 and alert.baseline == 0.0
    assert alert.threshold == 0.15 and "abstention_rate" in alert.message
    assert state.to_dict()["alerts"] == [alert.to_dict()]
    assert set(state.to_dict()) == {"window", "count", "metrics", "alerts"}
    # the watch noticed it as it happened: logged once, and posted to the webhook
    logged = [r for r in caplog.records if getattr(r, "metric", None) == "abstention_rate"]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING
    payloads = [json.loads(body) for path, body in received if path == "/hook"]
    sent = [a for p in payloads for a in p["alerts"] if a["metric"] == "abstention_rate"]
    assert len(sent) == 1 and sent[0]["baseline"] == 0.0
    assert payloads[0]["event"] == "fiable.drift" and payloads[0]["state"]["window"] == 10
    assert url not in caplog.text  # the webhook is a secret


def test_drift_baseline_from_the_last_evaluation_run_and_precedence(tmp_path):
    ws = fake_workspace(tmp_path / "ws")
    assert drift.load_baseline(ws.store) is None
    ws.store.save_eval_run({"dataset": "handbook", "kind": "qa", "split": None, "items": 4,
                            "created_at": "2025-01-01T00:00:00+00:00", "metrics": {"f1": 0.5},
                            "latency": {"total": {"p50_ms": 5.0, "p95_ms": 12.5, "n": 4}}},
                           [{"abstained": True, "support": None},
                            {"abstained": True, "support": 0.2},
                            {"abstained": False, "support": 0.8},
                            {"abstained": False, "support": 0.8}])
    values, source = drift.load_baseline(ws.store)
    assert values == {"abstention_rate": 0.5, "mean_support": 0.6, "negative_feedback": None,
                      "latency_p95_ms": 12.5}
    assert source.startswith("evaluation run")
    ws.store.save_eval_run({"dataset": drift.BASELINE_DATASET, "kind": "drift", "split": None,
                            "items": 3, "created_at": "2025-01-02T00:00:00+00:00",
                            "metrics": {"abstention_rate": 0.1}}, [])
    values, source = drift.load_baseline(ws.store)
    assert values["abstention_rate"] == 0.1 and source.startswith("accepted")
    state = ws.drift(baseline={"abstention_rate": 0.3})
    assert state.metrics["abstention_rate"] == {"value": None, "baseline": 0.3}
    assert state.count == 0 and not state.alerts
    with pytest.raises(UserError, match="no drift metric"):
        ws.drift(thresholds={"nonsense": 1})
    with pytest.raises(UserError, match="no answers"):
        drift.accept_baseline(ws.store, ws.settings)
    ws.close()


def test_negative_feedback_and_latency_alerts(tmp_path):
    ws = fake_workspace(tmp_path / "ws", pii_ner=False)
    ws.ingest([copy_handbook(tmp_path)])
    for q in _answerable(10):
        answer = ws.ask(q)
        ws.store.save_feedback({"trace_id": answer.trace_id, "rating": "down", "comment": None,
                                "correction": None})
    ws.store.save_feedback({"trace_id": answer.trace_id, "rating": None, "comment": "hm",
                            "correction": None})  # not a rating: not counted
    state = ws.drift(baseline={"negative_feedback": 0.1, "latency_p95_ms": 0.001,
                               "abstention_rate": 0.0, "mean_support": 0.0})
    assert {a.metric for a in state.alerts} == {"negative_feedback", "latency_p95_ms"}
    assert state.metrics["negative_feedback"]["value"] == 1.0
    assert state.counts["negative_feedback"] == 10
    # too few values: no alert
    quiet = ws.drift(baseline={"negative_feedback": 0.1}, min_count=11)
    assert quiet.alerts == ()
    ws.close()


def test_thresholds():
    rise, fall, ratio = (drift.DEFAULT_THRESHOLDS[m] for m in (
        "abstention_rate", "mean_support", "latency_p95_ms"))
    assert rise.crossed(0.3, 0.1) and not rise.crossed(0.2, 0.1)
    assert fall.crossed(0.6, 0.75) and not fall.crossed(0.7, 0.75)
    assert ratio.crossed(160, 100) and not ratio.crossed(140, 100) and not ratio.crossed(5, 0)


def test_failing_webhook_is_logged_not_raised(tmp_path, drift_log):
    caplog = drift_log
    ws = fake_workspace(tmp_path / "ws", drift_webhook="http://127.0.0.1:9/secret-hook")
    state = drift.DriftState(window=10, count=10, metrics={}, alerts=(drift.DriftAlert(
        "abstention_rate", 0.5, 0.0, 0.15, "abstention_rate is 0.5"),))
    assert drift.notify(state, ws.settings) is False
    assert "drift webhook failed" in caplog.text and "secret-hook" not in caplog.text
    ws.close()


# -- the CLI -------------------------------------------------------------------------------
def test_cli_traces_list_and_show(cli_env, capsys):
    handbook = copy_handbook(cli_env)
    run_cli(capsys, "ingest", str(handbook))
    code, out, _ = run_cli(capsys, "ask", "How long is the probation period?", "--json")
    trace_id = json.loads(out)["trace_id"]
    code, out, _ = run_cli(capsys, "traces", "list", "--json")
    (row,) = json.loads(out)
    assert code == 0 and row["trace_id"] == trace_id and row["decision"] == "answered"
    assert row["total_ms"] > 0 and row["question"] == "How long is the probation period?"
    code, out, _ = run_cli(capsys, "traces", "list")
    assert code == 0 and trace_id in out and "answered" in out
    code, out, _ = run_cli(capsys, "traces", "show", trace_id)
    assert code == 0
    lines = out.splitlines()
    for name in ("ask", "  guard", "  retrieve", "    embed_query", "  generate", "  policy"):
        assert any(line.startswith(name + " ") for line in lines), name
    assert "decision=answered" in out and "first_token_ms=" in out
    assert "[1] prompt" in out and "score " in out and "BM25" in out
    assert "--- system ---" in out and "Passage 1 (" in out and "--- answer ---" in out
    code, out, _ = run_cli(capsys, "traces", "show", trace_id, "--json")
    shown = json.loads(out)
    assert shown["trace"]["spans"][0]["name"] == "ask" and shown["messages"]
    code, _, err = run_cli(capsys, "traces", "show", "nope")
    assert code == 2 and "fiable traces list" in err


def test_cli_watch_accept_and_alert_exit_code(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("FIABLE_MIN_RELEVANCE", "0.2")
    monkeypatch.setenv("FIABLE_DRIFT_WINDOW", "10")
    handbook = copy_handbook(cli_env)
    run_cli(capsys, "ingest", str(handbook))
    code, _, err = run_cli(capsys, "watch", "--accept")
    assert code == 2 and "no answers" in err
    ws = fake_workspace(cli_env / "ws", min_relevance=0.2, drift_window=10, pii_ner=False)
    for q in _answerable(10):
        ws.ask(q)
    code, out, _ = run_cli(capsys, "watch", "--threshold", "latency_p95_ms=1000")
    assert code == 0 and "none yet" in out and "abstention_rate" in out and "no alert" in out
    code, out, _ = run_cli(capsys, "watch", "--accept", "--threshold", "latency_p95_ms=1000")
    assert code == 0 and "baseline accepted" in out
    for q in UNANSWERABLE:
        ws.ask(q)
    ws.close()
    code, out, _ = run_cli(capsys, "watch", "--json", "--threshold", "latency_p95_ms=1000")
    state = json.loads(out)
    assert code == 1 and state["window"] == 10 and state["count"] == 10
    assert [a["metric"] for a in state["alerts"]] == ["abstention_rate"]
    assert state["metrics"]["abstention_rate"] == {"value": 0.6, "baseline": 0.0}
    code, out, _ = run_cli(capsys, "watch", "--threshold", "latency_p95_ms=1000",
                           "--threshold", "abstention_rate=0.7")
    assert code == 0 and "no alert" in out
    code, out, _ = run_cli(capsys, "watch", "--window", "4", "--threshold",
                           "latency_p95_ms=1000")
    assert "last 4 answers" in out
    code, _, err = run_cli(capsys, "watch", "--threshold", "abstention_rate")
    assert code == 2 and "METRIC=NUMBER" in err
