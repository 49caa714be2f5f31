"""The HTTP server with the deterministic fakes: native API, OpenAI compatibility (with the
official client over a real uvicorn socket), auth, uploads, queue, errors, metrics."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fiable.server import create_app
from fiable.server.auth import hash_key, new_key
from fiable.server.bridge import stream_in_thread
from fiable.server.gate import GenerationGate, QueueFull, QueueTimeout
from tests.helpers import copy_handbook, fake_workspace, run_cli, serve_app, serve_process

QUESTION = "How many days of annual leave do employees get?"


@pytest.fixture
def ws(hr_workspace):
    return hr_workspace


@pytest.fixture
def client(ws):
    with TestClient(create_app(ws, auth=False)) as c:
        yield c


def sse_events(text: str) -> list[tuple[str | None, object]]:
    out = []
    for block in text.strip().split("\n\n"):
        event, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        out.append((event, data if data == "[DONE]" else json.loads(data)))
    return out


# -- native API -------------------------------------------------------------------------
def test_health_ready_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["store"] == "ok"
    assert "/v1/ask" in client.get("/openapi.json").json()["paths"]


def test_ask_json_has_cited_sentences_and_is_logged(client, ws):
    r = client.post("/v1/ask", json={"question": QUESTION, "collections": ["hr"]})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert "27" in answer["text"] and answer["sentences"][0]["citations"]
    assert answer["notice"] and answer["generator_model"]
    assert ws.history(trace_id=answer["trace_id"])


def test_ask_streams_retrieved_tokens_then_done(client):
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.read().decode())
    kinds = [e for e, _ in events]
    assert kinds[0] == "retrieved" and kinds[-1] == "done" and "token" in kinds
    streamed = "".join(d["text"] for e, d in events if e == "token")
    assert streamed and events[-1][1]["trace_id"]


def test_bad_requests_get_json_errors_with_codes(client):
    r = client.post("/v1/ask", json={"question": QUESTION, "collections": ["nope"]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_collection"
    assert "hr" in r.json()["error"]["hint"]
    r = client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = client.post("/v1/ask", json={"collections": ["hr"]})
    assert r.status_code == 422 and "question" in r.json()["error"]["message"]
    r = client.post("/v1/ask", json={"question": "x" * 5000})
    assert r.status_code == 413 and r.json()["error"]["code"] == "input_too_large"
    assert client.get("/v1/chunks/999999").json()["error"]["code"] == "unknown_chunk"
    assert client.get("/v1/jobs/nope").status_code == 404


def test_collections_documents_and_a_cited_passage(client):
    [hr] = client.get("/v1/collections").json()["collections"]
    assert hr["name"] == "hr" and hr["documents"] == 5
    docs = client.get("/v1/collections/hr/documents").json()["documents"]
    assert len(docs) == 5 and "pipeline" not in docs[0]
    answer = client.post("/v1/ask", json={"question": QUESTION}).json()
    number = answer["sentences"][0]["citations"][0]
    source = next(s for s in answer["sources"] if s["number"] == number)
    passage = client.get(f"/v1/chunks/{source['chunk_id']}").json()
    assert "27" in passage["text"] and passage["title"] == source["title"]


def test_feedback_is_stored_and_checked(client, ws):
    trace = client.post("/v1/ask", json={"question": QUESTION}).json()["trace_id"]
    r = client.post("/v1/feedback", json={"trace_id": trace, "rating": "down",
                                          "correction": "It is 27 working days."})
    assert r.status_code == 201
    [stored] = ws.store.feedback(trace_id=trace)
    assert stored["rating"] == "down" and stored["principal"] == "local"
    r = client.post("/v1/feedback", json={"trace_id": "no-such-trace", "rating": "up"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_trace"
    r = client.post("/v1/feedback", json={"trace_id": trace})
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_feedback"
    r = client.post("/v1/feedback", json={"trace_id": trace, "rating": "meh"})
    assert r.status_code == 422
    recent = client.get("/v1/admin/requests").json()["requests"]
    assert recent[0]["trace_id"] == trace and recent[0]["feedback"] == "down"
    assert client.get(f"/v1/traces/{trace}").json()["feedback"][0]["rating"] == "down"


def _wait_job(client, job_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_upload_ingests_in_the_background_and_becomes_answerable(client, tmp_path):
    files = [("files", ("bikes.md", b"# Bicycles\n\nThe bicycle allowance is 412 euros a "
                        b"year for every commuter.\n", "text/markdown")),
             ("files", ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf"))]
    r = client.post("/v1/documents", files=files, data={"collection": "perks"})
    assert r.status_code == 202, r.text
    job = _wait_job(client, r.json()["job_id"])
    assert job["status"] == "done" and job["done"] == 2
    assert len(job["report"]["added"]) == 1
    [failure] = job["report"]["failed"]
    assert failure["path"] == "broken.pdf" and failure["hint"]
    assert "uploads" not in json.dumps(job)  # no server paths leak to the uploader
    answer = client.post("/v1/ask", json={"question": "How much is the bicycle allowance?",
                                          "collections": ["perks"]}).json()
    assert "412" in answer["text"]


def test_upload_refuses_unsupported_and_oversized_files(tmp_path):
    ws = fake_workspace(tmp_path / "ws", max_file_mb=1)
    with TestClient(create_app(ws, auth=False)) as client:
        r = client.post("/v1/documents", files=[("files", ("tool.exe", b"MZ..", "x/y"))])
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_format"
        big = b"word " * 300_000  # 1.5 MB
        r = client.post("/v1/documents", files=[("files", ("big.txt", big, "text/plain"))])
        assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
        assert not any((tmp_path / "ws" / "uploads").glob("*/*"))  # nothing half-kept
        r = client.post("/v1/documents", data={"collection": "x"})
        assert r.status_code == 422
    ws.close()


# -- auth -------------------------------------------------------------------------------
def test_api_keys_are_required_checked_and_revocable(ws):
    key = new_key()
    ws.store.add_api_key("alice", hash_key(key))
    with TestClient(create_app(ws, auth=True)) as client:
        r = client.get("/v1/collections")
        assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"
        assert r.headers["www-authenticate"] == "Bearer"
        r = client.get("/v1/collections", headers={"Authorization": "Bearer fk-wrong"})
        assert r.json()["error"]["code"] == "invalid_api_key"
        ok = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/collections", headers=ok).status_code == 200
        assert client.get("/healthz").status_code == 200  # probes need no key
        ws.store.revoke_api_key("alice")
        assert client.get("/v1/collections", headers=ok).status_code == 401


def test_keys_cli_create_list_revoke(cli_env, capsys):
    assert run_cli(capsys, "init")[0] == 0
    code, out, _ = run_cli(capsys, "keys", "create", "bob")
    key = out.strip()
    assert code == 0 and key.startswith("fk-")
    code, out, _ = run_cli(capsys, "keys", "list", "--json")
    assert json.loads(out)[0]["name"] == "bob" and key not in out
    assert run_cli(capsys, "keys", "create", "bob")[0] == 2
    assert run_cli(capsys, "keys", "revoke", "bob")[0] == 0
    assert run_cli(capsys, "keys", "revoke", "bob")[0] == 2


def test_serve_refuses_the_network_without_keys(cli_env, capsys):
    assert run_cli(capsys, "init")[0] == 0
    code, _, err = run_cli(capsys, "serve", "--host", "0.0.0.0")
    assert code == 2 and "fiable keys create" in err


# -- queue and cancellation -------------------------------------------------------------
def test_full_queue_answers_503_with_retry_after(tmp_path):
    ws = fake_workspace(tmp_path / "ws", server_queue=0)
    with TestClient(create_app(ws, auth=False)) as client:
        r = client.post("/v1/ask", json={"question": QUESTION})
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "queue_full"
        r = client.post("/v1/ask", json={"question": QUESTION, "stream": True})
        assert r.status_code == 503  # refused before the stream starts
        assert 'fiable_rejected_total{reason="full"} 2.0' in client.get("/metrics").text
    ws.close()


def test_gate_serves_in_order_bounds_the_queue_and_times_out():
    async def scenario() -> tuple[list[int], bool, bool]:
        gate = GenerationGate(slots=1, capacity=2, timeout=0.3)
        order: list[int] = []

        async def job(i: int, hold: float) -> None:
            async with gate.slot():
                order.append(i)
                await asyncio.sleep(hold)

        first = asyncio.create_task(job(0, 0.1))
        await asyncio.sleep(0.01)
        waiters = [asyncio.create_task(job(i, 0.01)) for i in (1, 2)]
        await asyncio.sleep(0.01)
        full = False
        try:
            async with gate.slot():
                pass
        except QueueFull as exc:
            full = not isinstance(exc, QueueTimeout) and exc.retry_after >= 1
        await asyncio.gather(first, *waiters)
        blocker = asyncio.create_task(job(9, 1.0))
        await asyncio.sleep(0.01)
        timed_out = False
        try:
            async with gate.slot():
                pass
        except QueueTimeout:
            timed_out = True
        await blocker
        return order, full, timed_out

    order, full, timed_out = asyncio.run(scenario())
    assert order[:3] == [0, 1, 2] and full and timed_out


def test_closing_the_stream_stops_the_pipeline_thread():
    produced: list[int] = []
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                produced.append(i)
                yield i
                i += 1
                time.sleep(0.001)
        finally:
            closed.set()

    async def read_three() -> list[int]:
        out = []
        events = stream_in_thread(endless)
        async for item in events:
            out.append(item)
            if len(out) == 3:
                break
        await events.aclose()
        return out

    assert asyncio.run(read_three()) == [0, 1, 2]
    assert closed.wait(5)
    count = len(produced)
    time.sleep(0.05)
    assert len(produced) == count  # nothing runs after the reader left


# -- OpenAI compatibility, through the official client over a real socket ----------------
@pytest.fixture
def live_url(ws):
    with serve_app(create_app(ws, auth=False)) as url:
        yield url


def test_official_openai_client_works_unchanged(live_url):
    import openai

    client = openai.OpenAI(base_url=f"{live_url}/v1", api_key="unused-without-auth")
    assert {m.id for m in client.models.list()} == {"fiable", "fiable/hr"}
    reply = client.chat.completions.create(
        model="fiable/hr", messages=[{"role": "user", "content": QUESTION}])
    assert "27" in reply.choices[0].message.content
    extra = reply.model_extra["fiable"]
    assert extra["trace_id"] and extra["sentences"][0]["citations"] and extra["notice"]
    chunks = list(client.chat.completions.create(
        model="fiable", messages=[{"role": "user", "content": QUESTION}], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "27" in text
    assert chunks[-1].model_extra["fiable"]["sources"]
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user",
                                                                  "content": "hi"}])
    assert info.value.code == "unknown_model"
    with pytest.raises(openai.UnprocessableEntityError) as bad:
        client.with_options(max_retries=0).chat.completions.create(model="fiable",
                                                                   messages=[])
    assert bad.value.code == "invalid_request"


def test_metrics_count_answers_stages_and_feedback(client):
    trace = client.post("/v1/ask", json={"question": QUESTION}).json()["trace_id"]
    client.post("/v1/feedback", json={"trace_id": trace, "rating": "up"})
    client.post("/v1/ask", json={"question": QUESTION, "collections": ["nope"]})
    text = client.get("/metrics").text
    assert 'fiable_answers_total{outcome="answered"} 1.0' in text
    assert 'fiable_stage_seconds_count{stage="total"} 1.0' in text
    assert 'fiable_feedback_total{rating="up"} 1.0' in text
    assert 'fiable_errors_total{code="unknown_collection"} 1.0' in text
    assert 'fiable_requests_total{route="/v1/ask",status="200"} 1.0' in text


def _send_ask(url: str, i: int) -> Any:
    """A question sent whole on its own connection (the server has it once this returns)."""
    import socket
    from urllib.parse import urlsplit

    host = urlsplit(url)
    body = json.dumps({"question": f"{QUESTION} ({i})"}).encode()
    conn = socket.create_connection((host.hostname, host.port), timeout=60)
    conn.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (host.netloc.encode(), len(body))
                 + body)
    return conn


def _answer_of(conn: Any) -> str:
    """The trace id of the answer read back from ``conn`` (the server closes it after)."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    conn.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data[:500]
    return json.loads(body)["trace_id"]


def test_sigterm_finishes_the_requests_in_flight_and_loses_no_record(tmp_path):
    """SIGTERM while 8 questions are being answered or queued: every one gets its answer,
    and every answer is in the ask log afterwards."""
    import signal

    with fake_workspace(tmp_path / "ws") as w:
        w.ingest([copy_handbook(tmp_path)], collection="hr")
    env = {"FIABLE_EMBEDDER": "hashing", "FIABLE_GENERATOR": "fake",
           "FIABLE_MIN_RELEVANCE": "0.05"}
    with serve_process(tmp_path / "ws", env) as (proc, url):
        connections = [_send_ask(url, i) for i in range(8)]  # all sent before the signal
        time.sleep(0.1)  # the server has accepted them: the first answered, the rest queued
        proc.send_signal(signal.SIGTERM)
        traces = [_answer_of(c) for c in connections]
        # uvicorn drains, then re-raises the signal it caught: exit status -SIGTERM
        assert proc.wait(30) in (0, -signal.SIGTERM)
    with fake_workspace(tmp_path / "ws") as w:
        logged = {r["trace_id"] for r in w.store.asks(limit=100)}
    assert set(traces) <= logged
