"""Answer quality per question kind on the bundled evaluation set (Ferrand Holt Instruments).

Ingests ``src/fiable/samples/evalset/`` (10 documents: English and French, Markdown, text,
HTML, PDF, DOCX) into a temporary workspace with the default settings and models (MiniLM
embedder, Qwen2.5-Coder-0.5B generator) unless ``--config`` says otherwise, asks every
question of ``evalset-questions.jsonl`` through ``Workspace.ask`` and prints, per kind:

- n, and accuracy: an answerable question is right when fiable did not refuse and its
  answer contains a gold answer (``fiable.evaluation.metrics.answer_contains``: normalised
  text, whole words); an unanswerable or off-topic question is right when fiable refused;
- cited gold: share of answerable questions where a gold document is among the cited
  sources (retrieved gold: among the passages shown to the model);

then, overall: wrong refusals (share of answerable questions refused), answers to
unanswerable questions (share of unanswerable and off-topic questions answered), p50 / p95
seconds per question. Per-question results go to ``benchmarks/results/evalset/``.

    python benchmarks/evalset.py                         # every question, default settings
    python benchmarks/evalset.py --split dev --limit 10
    python benchmarks/evalset.py --config top_k=5 verify=abstain
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, percentile, table  # noqa: E402
from handbook_answers import parse_config  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.evaluation.metrics import answer_contains  # noqa: E402
from fiable.samples import evalset_dir, evalset_questions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "evalset"
KINDS = ("single", "table", "exception", "superseded", "two_documents", "french_over_english",
         "french", "unanswerable_on_topic", "off_topic")


def ask_all(ws: Workspace, questions: list[dict]) -> list[dict]:
    rows = []
    for i, q in enumerate(questions, start=1):
        a = ws.ask(q["question"])
        text = " ".join(s.text for s in a.sentences) if a.sentences else a.text
        cited = [Path(s.source).name for s in a.cited_sources] if not a.abstained else []
        shown = [Path(s.source).name for s in a.sources]
        gold = set(q["doc_ids"])
        if q["answerable"]:
            correct = not a.abstained and answer_contains(text, q["answers"])
        else:
            correct = a.abstained
        rows.append({
            "id": q["id"], "kind": q["kind"], "language": q["language"], "split": q["split"],
            "question": q["question"], "gold": q["answers"], "gold_docs": q["doc_ids"],
            "answer": a.text, "abstained": a.abstained, "abstain_reason": a.abstain_reason,
            "cited_sources": list(dict.fromkeys(cited)), "retrieved": list(dict.fromkeys(shown)),
            "cited_gold": bool(gold & set(cited)) if gold else None,
            "retrieved_gold": bool(gold & set(shown)) if gold else None,
            "correct": bool(correct), "seconds": round(a.timings.get("total", 0.0), 3),
            "relevance": a.relevance, "support": a.support, "answer_language": a.language,
        })
        mark = "ok " if correct else "BAD"
        print(f"  [{i:>2}/{len(questions)}] {mark} {q['id']} {rows[-1]['seconds']:.1f}s "
              f"{'(refused) ' if a.abstained else ''}{a.text[:90]!r}", file=sys.stderr)
    return rows


def share(values: list[bool]) -> str:
    return f"{sum(values)}/{len(values)} ({sum(values) / len(values):.0%})" if values else "-"


def report(rows: list[dict]) -> str:
    lines = []
    body = []
    for kind in KINDS:
        group = [r for r in rows if r["kind"] == kind]
        if not group:
            continue
        answerable = [r for r in group if r["gold_docs"]]
        body.append([kind, str(len(group)), share([r["correct"] for r in group]),
                     share([r["cited_gold"] for r in answerable]) if answerable else "-",
                     share([r["retrieved_gold"] for r in answerable]) if answerable else "-"])
    body.append(["all", str(len(rows)), share([r["correct"] for r in rows]),
                 share([r["cited_gold"] for r in rows if r["gold_docs"]]),
                 share([r["retrieved_gold"] for r in rows if r["gold_docs"]])])
    lines.append(table(body, ["kind", "n", "accuracy", "cited gold", "retrieved gold"]))
    answerable = [r for r in rows if r["gold_docs"]]
    unanswerable = [r for r in rows if not r["gold_docs"]]
    seconds = [r["seconds"] for r in rows]
    lines.append("")
    lines.append(f"wrong refusals (answerable refused): {share([r['abstained'] for r in answerable])}")
    lines.append(f"answers to unanswerable / off-topic questions: "
                 f"{share([not r['abstained'] for r in unanswerable])}")
    lines.append(f"seconds per question: p50 {percentile(seconds, 50):.1f}, "
                 f"p95 {percentile(seconds, 95):.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions")
    parser.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                        help="settings overrides for the workspace, e.g. top_k=5 verify=abstain")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON results")
    args = parser.parse_args()
    settings = parse_config(",".join(args.config))
    questions = [q for q in evalset_questions() if args.split == "all" or q["split"] == args.split]
    if args.limit:
        questions = questions[:args.limit]
    print(f"# evalset answers ({len(questions)} questions, split {args.split})\n"
          f"machine: {machine()}\n"
          f"rerun: python benchmarks/evalset.py {' '.join(sys.argv[1:])}".rstrip())
    tmp = Path(tempfile.mkdtemp(prefix="fiable-evalset-"))
    try:
        with Workspace.open(tmp / "ws", create=True, log_asks=False, **settings) as ws:
            t0 = time.perf_counter()
            ingest = ws.ingest([evalset_dir()], collection="evalset")
            ingest_s = time.perf_counter() - t0
            if ingest.failed:
                sys.exit(f"ingest failed: {ingest.failed}")
            used = {k: ws.settings.redacted().get(k) for k in
                    ("embedder", "generator", "top_k", "fusion", "min_relevance", "verify",
                     "answerability", "answer_language", *settings)}
            print(f"settings: {', '.join(f'{k}={v}' for k, v in used.items())}\n"
                  f"ingest: {len(ingest.added)} files, {ingest.chunks} chunks, {ingest_s:.1f} s")
            rows = ask_all(ws, questions)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(rows)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"evalset-{args.split}-{stamp}.json"
    path.write_text(json.dumps({"command": "python benchmarks/evalset.py " + " ".join(sys.argv[1:]),
                                "machine": machine(), "settings": used, "split": args.split,
                                "report": text, "questions": rows},
                               indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
