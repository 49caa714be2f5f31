"""Ray vs local ingestion throughput on one machine, and the projection beyond it.

Same corpus (N SciFact abstracts written as .txt files), same model (MiniLM int8 ONNX),
fresh workspace for each run, in one process, one after the other:

1. the embedder alone (1 thread) on exactly the chunk texts the ingests embed;
2. the local executor with threads=1 and threads=2;
3. Ray with 1 and 2 workers, one actor each with threads=1 (one CPU per worker), on a
   local Ray started as `fiable ingest --executor ray` starts it; that start (cluster +
   actors + model load) is timed apart from the ingest;
4. the driver alone: the same ingest with an executor that hands back the documents Ray
   prepared at once (read + hash + skip check + store writes: the part that does not
   scale out).

Overhead per document = (ingest time - embedder-alone time at the same CPUs) / documents.
The projection multiplies the measured per-worker rate, capped by the driver's rate.

    python benchmarks/ray_ingest.py               # 300 abstracts (~4 min on 2 cores)
    python benchmarks/ray_ingest.py --docs 1000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS must not fight the models

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, scifact, table, write_corpus  # noqa: E402

import ray  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.chunking import embedding_text  # noqa: E402
from fiable.executors.ray import RayExecutor  # noqa: E402
from fiable.ingest import FileFailure, FileJob, PreparedDocument, ingest_paths  # noqa: E402

COMMAND = "python benchmarks/ray_ingest.py " + " ".join(sys.argv[1:])


def open_ws(path: Path, threads: int) -> Workspace:
    return Workspace.open(path, create=True, embedder="minilm-l6-v2", generator="fake",
                          threads=threads)


class Replay:
    """An executor that hands back documents prepared before: the driver's cost alone."""

    def __init__(self, model_id: str, prepared: dict[str, PreparedDocument]) -> None:
        self.model_id, self.prepared = model_id, prepared

    def map(self, jobs: Iterable[FileJob]) -> Iterator[PreparedDocument | FileFailure]:
        for job in jobs:
            yield self.prepared[job.source]


def run_local(folder: Path, ws_path: Path, threads: int) -> tuple[float, int, Workspace]:
    ws = open_ws(ws_path, threads)
    ws.embedder.embed_documents(["warm up"])  # load the model outside the timed part
    t0 = time.perf_counter()
    report = ws.ingest([folder], executor="local")
    return time.perf_counter() - t0, report.chunks, ws


def run_ray(folder: Path, ws_path: Path, workers: int,
            batch_files: int) -> tuple[float, float, int, Workspace]:
    """Start Ray as `fiable ingest --executor ray` does (local, loopback), then ingest."""
    ws = open_ws(ws_path, 1)
    t0 = time.perf_counter()
    options = {"batch_files": batch_files} if batch_files else {}
    with RayExecutor(ws.settings, address="", workers=workers, **options) as executor:
        start_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = ingest_paths([folder], store=ws.store, settings=ws.settings, executor=executor)
        ingest_s = time.perf_counter() - t0
    assert report.ok and not ray.is_initialized()
    return start_s, ingest_s, report.chunks, ws


def one_round(folder: Path, tmp: Path, batch_files: int) -> dict[str, float]:
    """Seconds of each configuration, and the chunk count, in one round."""
    out: dict[str, float] = {}
    out["local1"], chunks, ws = run_local(folder, tmp / "local1", 1)
    rows = ws.store._query(  # the exact texts the ingest embedded
        "SELECT k.text, d.title FROM chunks k JOIN documents d ON d.id = k.document_id")
    texts = [embedding_text(r["title"], (), r["text"]) for r in rows]
    t0 = time.perf_counter()
    ws.embedder.embed_documents(texts)
    out["embed1"] = time.perf_counter() - t0
    ws.close()
    out["local2"], chunks2, ws = run_local(folder, tmp / "local2", 2)
    ws.close()
    out["start1"], out["ray1"], chunks_r1, ws = run_ray(folder, tmp / "ray1", 1, batch_files)
    prepared = {d.source: PreparedDocument(d.source, d.title, d.format, d.pages, d.metadata,
                                           list(d.chunks), d.vectors)
                for d in ws.store.export_documents("default")}
    model_id = ws.store.embedding_model() or ""
    ws.close()
    out["start2"], out["ray2"], chunks_r2, ws = run_ray(folder, tmp / "ray2", 2, batch_files)
    ws.close()
    ws = open_ws(tmp / "driver", 1)
    t0 = time.perf_counter()
    ingest_paths([folder], store=ws.store, settings=ws.settings, executor=Replay(model_id, prepared))
    out["driver"] = time.perf_counter() - t0
    ws.close()
    assert chunks == chunks2 == chunks_r1 == chunks_r2 == len(texts), "runs stored other chunks"
    out["chunks"] = chunks
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300, help="SciFact abstracts to ingest")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every run (median kept)")
    parser.add_argument("--batch-files", type=int, default=0,
                        help="files per Ray actor call (0: the executor's default)")
    args = parser.parse_args()
    print(f"# Ray vs local ingestion\nmachine: {machine()}, ray {ray.__version__}\nrerun: {COMMAND}")
    corpus = scifact()[0][: args.docs]
    n = len(corpus)
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / "corpus"
        write_corpus(corpus, folder)
        for r in range(args.rounds):
            rounds.append(one_round(folder, tmp / f"round{r}", args.batch_files))
    t = {key: statistics.median(x[key] for x in rounds) for key in rounds[0]}
    chunks = int(t["chunks"])

    def row(what: str, cpus: int, seconds: float, embed_s: float, start: str = "") -> list[str]:
        over = (seconds - embed_s) / n * 1000
        return [what, str(cpus), f"{seconds:.1f}", f"{n / seconds:.2f}", f"{chunks / seconds:.1f}",
                f"{over:+.1f}", start]

    print(f"\n## {n} SciFact abstracts as .txt files, {chunks} chunks, MiniLM int8 ONNX"
          f" (median of {args.rounds} round(s))\n")
    print(table([
        ["embedder alone, 1 thread", "1", f"{t['embed1']:.1f}", f"{n / t['embed1']:.2f}",
         f"{chunks / t['embed1']:.1f}", "", ""],
        row("local, threads=1", 1, t["local1"], t["embed1"]),
        row("local, threads=2", 2, t["local2"], t["embed1"] / 2),
        row("ray, 1 worker x 1 thread", 1, t["ray1"], t["embed1"], f"{t['start1']:.1f}"),
        row("ray, 2 workers x 1 thread", 2, t["ray2"], t["embed1"] / 2, f"{t['start2']:.1f}"),
    ], ["executor", "model CPUs", "ingest s", "docs/s", "chunks/s",
        "overhead ms/doc vs embedder alone", "start s (Ray + actors + model)"]))
    print("\n(with 2 CPUs the overhead is counted against the 1-thread embedder time halved,"
          " the ideal)")

    per_worker = n / t["ray1"]
    driver_rate = n / t["driver"]
    print(f"\nRay vs local at the same CPUs: {t['local1'] / t['ray1']:.2f}x with 1,"
          f" {t['local2'] / t['ray2']:.2f}x with 2 (> 1: Ray faster); Ray 2 workers vs 1:"
          f" {t['ray1'] / t['ray2']:.2f}x; Ray minus local per document:"
          f" {(t['ray1'] - t['local1']) / n * 1000:+.1f} ms (1 CPU),"
          f" {(t['ray2'] - t['local2']) / n * 1000:+.1f} ms (2 CPUs)")
    print(f"driver alone (read, hash, skip check, SQLite writes): {t['driver']:.2f} s ="
          f" {driver_rate:.0f} docs/s, {t['driver'] / n * 1000:.2f} ms/doc")
    print("\n## Projection beyond one machine (from the measured per-worker rate)\n")
    proj = []
    for workers in (1, 2, 8, 32, 128, 512):
        ideal = workers * per_worker
        proj.append([str(workers), f"{ideal:.0f}", f"{min(ideal, driver_rate):.0f}",
                     "driver" if ideal > driver_rate else "workers"])
    print(table(proj, ["workers (1 CPU each)", "docs/s, workers x per-worker rate",
                       "docs/s, capped by the driver", "bound by"]))
    print(f"\nper-worker rate: {per_worker:.2f} docs/s ({chunks / t['ray1']:.1f} chunks/s);"
          f" driver cap: {driver_rate:.0f} docs/s, reached at ~{driver_rate / per_worker:.0f} workers")


if __name__ == "__main__":
    main()
