"""fiable beside LlamaIndex, LangChain and Haystack: same data, same MiniLM, same GGUF, one run.

    python benchmarks/peers/run.py                     # everything (about an hour on 2 cores)
    python benchmarks/peers/run.py --scifact-docs 1000 --squad-questions 30   # a quick look

Each system runs in its own process and virtualenv (``setup.sh`` builds the peers' venvs;
fiable never depends on them) through the same protocol (README.md). The driver prepares
the data, serves the GGUF generator through llama.cpp's OpenAI-compatible server (the same
server answers every system, with temperature 0 and the same token limit), and computes
every metric itself with ``fiable.evaluation.metrics``:

- SciFact (BEIR, test qrels): ingest time, query p50/p95, nDCG@10, recall@10;
- SQuAD 2.0 (imported with ``fiable eval import-squad``; the test split's first N
  questions, about half unanswerable): answer F1 on answerable questions, abstention F1
  on unanswerable ones (a peer abstains when its answer says it does not know; fiable when
  it answers "Not in the documents."), answer latency p50/p95.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import DATA, machine, table  # noqa: E402

from fiable.evaluation import import_squad, load_dataset  # noqa: E402
from fiable.evaluation import metrics as m  # noqa: E402

SYSTEMS = {
    "fiable": (ROOT / ".venv" / "bin" / "python", "peer_fiable.py", []),
    "fiable-torch": (ROOT / ".venv-torch" / "bin" / "python", "peer_fiable.py",
                     ["--fiable-embedder", "minilm-l6-v2-torch"]),
    "llamaindex": (HERE / ".venvs" / "llamaindex" / "bin" / "python", "peer_llamaindex.py", []),
    "langchain": (HERE / ".venvs" / "langchain" / "bin" / "python", "peer_langchain.py", []),
    "haystack": (HERE / ".venvs" / "haystack" / "bin" / "python", "peer_haystack.py", []),
    "baseline": (ROOT / ".venv" / "bin" / "python", "peer_baseline.py", []),
}
QA_ONLY = {"baseline"}  # the prompt-only baseline has no retrieval task of its own

# A peer "abstains" when its answer says the context does not hold the answer.
ABSTAINED = re.compile(
    r"\b(i (do not|don't|cannot|can't) (know|answer|find|determine)|not in the documents"
    r"|(is|are) not (mentioned|provided|stated|specified|given|included|available|found)"
    r"|(does|do) not (mention|provide|contain|specify|say|include|state)"
    r"|no (information|mention|answer)|cannot be (determined|answered|found)"
    r"|unable to (answer|find|determine)|there is no)\b", re.IGNORECASE)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare_scifact(out: Path, docs: int) -> tuple[Path, Path, dict[str, dict[str, int]]]:
    dataset = load_dataset(DATA / "scifact", split="test")
    relevant = {q.id: q.relevant for q in dataset.queries}
    wanted = {d for rel in relevant.values() for d in rel}
    out.mkdir(parents=True, exist_ok=True)
    corpus, kept = out / "scifact-corpus.jsonl", 0
    with (DATA / "scifact" / "corpus.jsonl").open(encoding="utf-8") as src, \
            corpus.open("w", encoding="utf-8") as dst:
        for line in src:
            doc = json.loads(line)
            if docs and doc["_id"] not in wanted and kept >= docs - len(wanted):
                continue
            kept += doc["_id"] not in wanted
            dst.write(json.dumps({"_id": doc["_id"], "title": doc["title"], "text": doc["text"]}) + "\n")
    queries = out / "scifact-queries.jsonl"
    queries.write_text("".join(json.dumps({"_id": q.id, "text": q.text}) + "\n"
                               for q in dataset.queries), encoding="utf-8")
    return corpus, queries, relevant


def prepare_squad(out: Path, n: int, offset: int = 0, balanced: bool = False
                  ) -> tuple[Path, Path, dict[str, Any]]:
    """The test split's questions after the first ``offset``: the next ``n``, or with
    ``balanced`` the next ``n`` answerable and ``n`` unanswerable ones (interleaved)."""
    folder = out / "squad2"
    import_squad(DATA / "squad2" / "dev-v2.0.json", folder)
    pool = list(load_dataset(folder, split="test").questions)[offset:]
    if balanced:
        answerable = [q for q in pool if q.answerable][:n]
        unanswerable = [q for q in pool if not q.answerable][:n]
        chosen = [q for pair in zip(answerable, unanswerable) for q in pair]
    else:
        chosen = pool[:n]
    questions = out / "squad2-questions.jsonl"
    questions.write_text("".join(json.dumps({"id": q.id, "question": q.question}) + "\n"
                                 for q in chosen), encoding="utf-8")
    return folder / "corpus.jsonl", questions, {q.id: q for q in chosen}


def start_server(gguf: Path, threads: int) -> tuple[Any, str]:
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = str(gguf)
    p.n_ctx = 4096
    p.cpuparams.n_threads = threads
    p.cpuparams_batch.n_threads = threads
    p.verbosity = 0
    p.ui = False
    p.hostnames = ["127.0.0.1"]
    p.port = 0
    p.api_keys = ["bench"]
    server = xllamacpp.Server(p)
    return server, f"{server.listening_address}/v1"


def run_system(name: str, args: list[str], out: Path, logs: Path) -> dict[str, Any] | None:
    python, script, extra = SYSTEMS[name]
    if not python.exists():
        log(f"skip {name}: {python} missing (run benchmarks/peers/setup.sh, or scripts/test.sh for .venv-torch)")
        return None
    cmd = [str(python), str(HERE / script), *args, *extra, "--out", str(out)]
    log(f"run {name}: {' '.join(shlex.quote(c) for c in cmd)}")
    t0 = time.perf_counter()
    with (logs / f"{name}.log").open("w") as err:
        proc = subprocess.run(cmd, stderr=err, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": ""})
    if proc.returncode != 0:
        log(f"{name} FAILED (exit {proc.returncode}); see {logs / (name + '.log')}")
        return None
    log(f"{name} done in {time.perf_counter() - t0:.0f} s: {proc.stdout.strip()}")
    return json.loads(out.read_text(encoding="utf-8"))


def retrieval_row(name: str, r: dict[str, Any], relevant: dict[str, dict[str, int]],
                  mode: str | None = None) -> list[str]:
    ranked = {qid: (v["modes"][mode] if mode else v["ranked"]) for qid, v in r["retrieval"].items()}
    ndcg = m.mean(m.ndcg_at_k(ranked.get(q, []), rel, 10) for q, rel in relevant.items())
    rec = m.mean(m.recall_at_k(ranked.get(q, []), rel, 10) for q, rel in relevant.items())
    secs = [v["seconds"] * 1000 for v in r["retrieval"].values()]
    label = name if mode is None else f"{name} ({mode} only)"
    timing = ["", "", "", ""] if mode else [f"{r['chunks']:,}", f"{r['ingest_seconds']:.0f}",
                                            f"{m.percentile(secs, 50):.1f}", f"{m.percentile(secs, 95):.1f}"]
    return [label, *timing, f"{ndcg:.3f}", f"{rec:.3f}"]


def qa_row(name: str, r: dict[str, Any], gold: dict[str, Any]) -> list[str]:
    f1s, contains, predicted, truth, secs = [], [], [], [], []
    for qid, q in gold.items():
        a = r["qa"].get(qid, {"answer": "", "seconds": float("nan")})
        abstained = bool(a.get("abstained")) or bool(ABSTAINED.search(a["answer"])) or not a["answer"].strip()
        predicted.append(abstained)
        truth.append(not q.answerable)
        secs.append(a["seconds"])
        if q.answerable:
            text = "" if abstained else a["answer"]
            f1s.append(m.token_f1(text, q.answers))
            contains.append(float(m.answer_contains(text, q.answers)))
    ab = m.abstention_scores(predicted, truth)
    return [name, f"{m.mean(f1s):.3f}", f"{m.mean(contains):.3f}", f"{ab['precision']:.3f}",
            f"{ab['recall']:.3f}", f"{ab['f1']:.3f}", f"{m.percentile(secs, 50):.2f}",
            f"{m.percentile(secs, 95):.2f}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--tasks", default="retrieval,qa")
    ap.add_argument("--scifact-docs", type=int, default=0, help="0: the whole corpus (5,183)")
    ap.add_argument("--squad-questions", type=int, default=100,
                    help="questions (with --squad-balanced: answerable and as many unanswerable)")
    ap.add_argument("--squad-offset", type=int, default=0,
                    help="skip the test split's first N questions (earlier tuning saw them)")
    ap.add_argument("--squad-balanced", action="store_true",
                    help="N answerable + N unanswerable instead of the split's own mix")
    ap.add_argument("--generator", default="qwen2.5-coder-0.5b")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top-k", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results" / "peers")
    ap.add_argument("--skip-setup", action="store_true")
    a = ap.parse_args()
    command = "python benchmarks/peers/run.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    tasks = {t.strip() for t in a.tasks.split(",")}
    if not a.skip_setup and any(s in ("llamaindex", "langchain", "haystack") for s in systems):
        subprocess.run(["bash", str(HERE / "setup.sh")], check=True)
    from fiable import models
    from fiable.models.store import default_model_dir

    mdir = default_model_dir()
    embedder_dir = models.resolve_file("minilm-l6-v2-torch", "sentence-transformers", model_dir=mdir)
    gguf = models.resolve_file(a.generator, "model.gguf", model_dir=mdir)
    out, logs = a.out_dir, a.out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    common = ["--embedder", str(embedder_dir), "--threads", str(a.threads)]
    results: dict[str, dict[str, dict[str, Any]]] = {"retrieval": {}, "qa": {}}
    lines: list[str] = []
    if "retrieval" in tasks:
        corpus, queries, relevant = prepare_scifact(out, a.scifact_docs)
        for name in (s for s in systems if s not in QA_ONLY):
            r = run_system(name, ["--corpus", str(corpus), "--queries", str(queries), "--k", "10", *common],
                           out / f"{name}-scifact.json", logs)
            if r:
                results["retrieval"][name] = r
        rows = []
        for name, r in results["retrieval"].items():
            rows.append(retrieval_row(name, r, relevant))
            if name.startswith("fiable") and "modes" in next(iter(r["retrieval"].values())):
                rows += [retrieval_row(name, r, relevant, mode) for mode in ("bm25", "dense")]
        docs = sum(1 for _ in corpus.open())
        lines += [f"SciFact test ({len(relevant)} queries, {docs:,} abstracts): ingest = split + embed + "
                  "index; query = one hybrid retrieval (embedding the query included)", "",
                  table(rows, ["system", "chunks", "ingest s", "query p50 ms", "query p95 ms",
                               "nDCG@10", "recall@10"]), ""]
    if "qa" in tasks:
        corpus, questions, gold = prepare_squad(out, a.squad_questions, a.squad_offset,
                                                 a.squad_balanced)
        server, url = start_server(gguf, a.threads)
        try:
            for name in systems:
                r = run_system(name, ["--corpus", str(corpus), "--questions", str(questions),
                                      "--llm-base-url", url, "--llm-model", a.generator,
                                      "--llm-api-key", "bench", "--top-k", str(a.top_k),
                                      "--max-tokens", str(a.max_tokens), *common],
                               out / f"{name}-squad2.json", logs)
                if r:
                    results["qa"][name] = r
        finally:
            del server
        unanswerable = sum(not q.answerable for q in gold.values())
        rows = [qa_row(name, r, gold) for name, r in results["qa"].items()]
        lines += [f"SQuAD 2.0 dev subset: {len(gold)} test-split questions after the first "
                  f"{a.squad_offset} ({len(gold) - unanswerable} "
                  f"answerable, {unanswerable} unanswerable) against all {sum(1 for _ in corpus.open())} "
                  f"paragraphs; generator {a.generator} (llama.cpp server, temperature 0, "
                  f"max {a.max_tokens} tokens, top {a.top_k} passages)", "",
                  table(rows, ["system", "answer F1", "contains gold", "abstention P", "abstention R",
                               "abstention F1", "answer p50 s", "answer p95 s"]), ""]
    pipelines = {n: r.get("pipeline", "") for task in results.values() for n, r in task.items()}
    versions = {n: r.get("versions", {}) for task in results.values() for n, r in task.items()}
    report = "\n".join([
        f"# fiable and its peers, {time.strftime('%Y-%m-%d')}", "",
        f"command: `{command}`", f"machine: {machine()}, {platform.platform()}", "",
        *lines,
        "Pipelines:", *(f"- {n}: {p}" for n, p in pipelines.items()), "",
        "Versions:", *(f"- {n}: " + ", ".join(f"{k} {v}" for k, v in vs.items() if v)
                       for n, vs in versions.items()),
    ])
    print(report)
    (out / "report.md").write_text(report + "\n", encoding="utf-8")
    log(f"wrote {out / 'report.md'}; per-system results in {out}/*.json, logs in {logs}")


if __name__ == "__main__":
    main()
