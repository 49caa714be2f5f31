"""The HTTP server under load, on loopback, with a bounded count and time.

1. Overhead: `POST /v1/ask` (a `fiable serve` process) vs `Workspace.ask` in process, same
   workspace, same deterministic fake generator, same questions, sequential — goal: p50
   difference <= 10 ms.
2. 32 concurrent clients, fake generator: each asks, then rates the answer (feedback).
   Latency p50/p95, throughput, status counts (goal: 0 unexpected errors; 503 only when
   the queue is full), and "nothing lost": every 200 answer is in the ask log and every
   201 feedback is stored.
3. 4 concurrent clients with the real small model (Qwen2.5-Coder 0.5B unless --generator).

    python benchmarks/server_load.py                    # ~3 min
    python benchmarks/server_load.py --requests 10 --real-requests 2 --generator smollm2-135m
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, percentile, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.samples import handbook_dir, handbook_questions  # noqa: E402

RERUN = "python benchmarks/server_load.py " + " ".join(sys.argv[1:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(workspace: Path, env: dict[str, str]) -> Iterator[str]:
    """A `fiable serve` process on a free loopback port; yields its URL once ready."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "fiable", "-w", str(workspace), "serve",
                             "--port", str(port)], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"server did not start: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def overhead(workspace: Path, env: dict[str, str], questions: list[str], rounds: int) -> None:
    with served(workspace, env) as url, httpx.Client(base_url=url, timeout=60) as client, \
            Workspace.open(workspace, embedder="hashing", generator="fake",
                           min_relevance=0.05) as ws:
        for q in questions[:5]:  # warm both
            ws.ask(q)
            client.post("/v1/ask", json={"question": q})
        local, remote = [], []
        for _ in range(rounds):
            for q in questions:
                t = time.perf_counter()
                ws.ask(q)
                local.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                r = client.post("/v1/ask", json={"question": q})
                remote.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
    rows = [["Workspace.ask in process", f"{percentile(local, 50):.1f}",
             f"{percentile(local, 95):.1f}"],
            ["POST /v1/ask (server process)", f"{percentile(remote, 50):.1f}",
             f"{percentile(remote, 95):.1f}"]]
    print(f"\n1. overhead, fake generator, {len(local)} questions each, sequential:")
    print(table(rows, ["path", "p50 ms", "p95 ms"]))
    print(f"server overhead at p50: {percentile(remote, 50) - percentile(local, 50):+.1f} ms "
          "(goal <= 10 ms)")


async def load(url: str, clients: int, per_client: int, questions: list[str],
               timeout: float) -> dict:
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    answered: list[str] = []
    feedback_ok = 0
    unexpected: list[str] = []

    async def one(i: int, client: httpx.AsyncClient) -> None:
        nonlocal feedback_ok
        for j in range(per_client):
            q = questions[(i * per_client + j) % len(questions)]
            t = time.perf_counter()
            try:
                r = await client.post("/v1/ask", json={"question": q})
            except httpx.HTTPError as exc:
                statuses["transport error"] += 1
                unexpected.append(repr(exc))
                continue
            elapsed = (time.perf_counter() - t) * 1000
            statuses[str(r.status_code)] += 1
            if r.status_code == 200:
                latencies.append(elapsed)
                trace = r.json()["trace_id"]
                answered.append(trace)
                f = await client.post("/v1/feedback", json={"trace_id": trace,
                                                             "rating": "up"})
                feedback_ok += f.status_code == 201
            elif r.status_code == 503 and r.json()["error"]["code"] in ("queue_full",
                                                                         "queue_timeout"):
                await asyncio.sleep(float(r.headers.get("retry-after", "1")) / 10)
            else:
                unexpected.append(f"{r.status_code} {r.text[:200]}")

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=timeout,
                                 limits=httpx.Limits(max_connections=clients)) as client:
        await asyncio.gather(*(one(i, client) for i in range(clients)))
    seconds = time.perf_counter() - started
    return {"statuses": statuses, "latencies": latencies, "answered": answered,
            "feedback": feedback_ok, "unexpected": unexpected, "seconds": seconds}


def report_load(title: str, result: dict, workspace: Path, env: dict[str, str]) -> None:
    lat = result["latencies"]
    ok = len(result["answered"])
    with Workspace.open(workspace, **{k.removeprefix("FIABLE_").lower(): v
                                      for k, v in env.items()
                                      if k.startswith("FIABLE_")}) as ws:
        logged = {r["trace_id"] for r in ws.store.asks(limit=100_000)}
        stored_feedback = {f["trace_id"] for f in ws.store.feedback(limit=100_000)}
    lost_answers = [t for t in result["answered"] if t not in logged]
    lost_feedback = result["feedback"] - len(stored_feedback & set(result["answered"]))
    print(f"\n{title}")
    print(table([[str(sum(result["statuses"].values())), ", ".join(
        f"{k}: {v}" for k, v in sorted(result["statuses"].items())),
        f"{percentile(lat, 50):.0f}", f"{percentile(lat, 95):.0f}",
        f"{ok / result['seconds']:.2f}", str(len(result["unexpected"])),
        f"{len(lost_answers)} / {max(0, lost_feedback)}"]],
        ["requests", "statuses", "answer p50 ms", "answer p95 ms", "answers/s",
         "unexpected errors",
         "lost answers / feedback"]))
    for line in result["unexpected"][:5]:
        print("  unexpected:", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10, help="questions per fake client")
    parser.add_argument("--real-requests", type=int, default=3, help="per real-model client")
    parser.add_argument("--generator", default="qwen2.5-coder-0.5b")
    parser.add_argument("--rounds", type=int, default=3, help="overhead rounds")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    questions = [q["question"] for q in handbook_questions()]
    root = Path(tempfile.mkdtemp(prefix="fiable-load-"))
    try:
        fake_env = {"FIABLE_EMBEDDER": "hashing", "FIABLE_GENERATOR": "fake",
                    "FIABLE_MIN_RELEVANCE": "0.05"}
        fake_ws = root / "fake"
        with Workspace.open(fake_ws, create=True, embedder="hashing", generator="fake") as ws:
            ws.ingest([handbook_dir()], collection="hr")
        overhead(fake_ws, fake_env, questions, args.rounds)

        with served(fake_ws, fake_env) as url:
            result = asyncio.run(load(url, 32, args.requests, questions, timeout=120))
        report_load(f"2. 32 concurrent clients x {args.requests} questions, fake generator, "
                    "queue 16:", result, fake_ws, fake_env)

        real_env = {"FIABLE_GENERATOR": args.generator}
        real_ws = root / "real"
        with Workspace.open(real_ws, create=True) as ws:
            ws.ingest([handbook_dir()], collection="hr")
        with served(real_ws, real_env) as url:
            result = asyncio.run(load(url, 4, args.real_requests, questions, timeout=300))
        report_load(f"3. 4 concurrent clients x {args.real_requests} questions, "
                    f"{args.generator} on 2 cores (one answer at a time):", result, real_ws,
                    real_env)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nrerun: {RERUN}")


if __name__ == "__main__":
    main()
