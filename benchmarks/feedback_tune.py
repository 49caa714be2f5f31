"""``fiable feedback tune`` on simulated users: feedback on SQuAD 2.0 dev answers tunes the
collection's fusion and abstention settings; before/after on the held-out feedback and on
the test split.

    python benchmarks/feedback_tune.py --feedback 100 --test 60     # ~15 min on 2 cores

1. The SQuAD 2.0 dev set (``import_squad``: paragraphs as the corpus, questions split
   dev/test by a hash of their id) is ingested into collection ``squad2`` of a workspace
   with the default models (Qwen2.5-Coder-0.5B, MiniLM) and the shipped settings.
2. ``--feedback`` questions of the dev split are asked as users would (the ask log keeps
   them); a simulated user rates each answer: up when it contains a gold answer, down
   otherwise with the gold answer as a correction; on an unanswerable question, up for
   "Not in the documents." and down for any answer.
3. ``fiable.feedback.tune.tune(..., dry_run=True)`` proposes settings from the tune part of
   that feedback, reports the held-out part, and runs the test split's first ``--test``
   questions with the current and the proposed settings (``fiable eval`` metrics).

The workspace and the asked feedback are kept in ``benchmarks/results/cache/feedback_tune``
(delete it to start over); a rerun only repeats step 3.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, machine, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.evaluation import import_squad, load_dataset  # noqa: E402
from fiable.evaluation.metrics import answer_contains  # noqa: E402
from fiable.evaluation.runner import ingest_corpus  # noqa: E402
from fiable.feedback.records import capture  # noqa: E402
from fiable.feedback.tune import tune  # noqa: E402
from fiable.settings import Settings  # noqa: E402

CACHE = Path(__file__).resolve().parent / "results" / "cache" / "feedback_tune"
COLLECTION = "squad2"


def simulated_feedback(ws: Workspace, folder: Path, n: int) -> dict[str, int]:
    """Ask the dev split's first ``n`` questions and rate them; cached per question id."""
    done_path = CACHE / "feedback.json"
    done: dict[str, dict] = json.loads(done_path.read_text()) if done_path.exists() else {}
    dataset = load_dataset(folder, split="dev", limit=n)
    counts = {"up": 0, "down": 0, "corrections": 0, "abstained": 0}
    started = time.perf_counter()
    asked = 0
    for q in dataset.questions:
        if q.id not in done:
            a = ws.ask(q.question, collections=[COLLECTION])
            asked += 1
            if q.answerable:
                good = not a.abstained and answer_contains(a.text, q.answers)
            else:
                good = a.abstained
            record = {"trace_id": a.trace_id, "rating": "up" if good else "down",
                      "principal": "simulated-user"}
            if not good and q.answerable:
                record["correction"] = q.answers[0]
            capture(ws.store, record, pii_detector=ws.pii_detector)
            done[q.id] = {"trace_id": a.trace_id, "good": good, "abstained": a.abstained,
                          "correction": "correction" in record}
            done_path.write_text(json.dumps(done))
        d = done[q.id]
        counts["up" if d["good"] else "down"] += 1
        counts["corrections"] += d["correction"]
        counts["abstained"] += d["abstained"]
    if asked:
        print(f"asked {asked} questions in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feedback", type=int, default=100, help="dev questions asked and rated")
    ap.add_argument("--test", type=int, default=60, help="test questions for before/after")
    a = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    folder = CACHE / "squad2"
    if not (folder / "questions.jsonl").exists():
        import_squad(DATA / "squad2" / "dev-v2.0.json", folder)
    with Workspace.open(CACHE / "ws", create=True, log_asks=True) as ws:
        ingest_corpus(ws, load_dataset(folder, split="dev", limit=1), COLLECTION)
        counts = simulated_feedback(ws, folder, a.feedback)
        started = time.perf_counter()
        result = tune(ws, COLLECTION, dry_run=True,
                      dataset=load_dataset(folder, split="test", limit=a.test))
        seconds = time.perf_counter() - started
    defaults = Settings()
    print(f"\nSQuAD 2.0, {defaults.generator} + {defaults.embedder}, {machine()}")
    print(f"feedback: {a.feedback} dev questions rated by a simulated user: {counts['up']} up, "
          f"{counts['down']} down ({counts['corrections']} with the gold answer as correction); "
          f"{counts['abstained']} answers were abstentions; {result.judged} judgements "
          f"(left out: {result.skipped or 'none'})\n")
    rows = []
    for name, part in (("fusion", result.fusion), ("abstention", result.abstention)):
        if part is None:
            continue
        fmt = lambda v: ", ".join(f"{k}={x}" for k, x in v.items())  # noqa: E731
        rows.append([name, fmt(part.current), fmt(part.proposed), part.metric,
                     f"{part.tune_before:.3f} -> {part.tune_after:.3f} (n={part.tune_n})",
                     f"{part.held_out_before:.3f} -> {part.held_out_after:.3f} "
                     f"(n={part.held_out_n})"])
    print(table(rows, ["tuned", "current", "proposed", "metric", "tune part", "held-out part"]))
    ev = result.evaluation
    if ev is not None:
        print(f"\nSQuAD 2.0 test split, first {ev['items']} questions, current -> proposed "
              f"settings ({result.changes or 'no change'}):\n")
        names = ["f1", "answered", "f1_all", "abstention.precision", "abstention.recall",
                 "abstention.f1", "context_recall", "citation_precision"]
        print(table([[n, f"{ev['before'][n]:.3f}", f"{ev['after'][n]:.3f}"] for n in names
                     if ev["before"].get(n) is not None and ev["after"].get(n) is not None],
                    ["metric", "current", "proposed"]))
    for note in result.notes:
        print(note)
    print(f"\ntune step (candidates + grid + the test split asked twice): {seconds:.0f} s")
    print(f"rerun: python benchmarks/feedback_tune.py --feedback {a.feedback} --test {a.test}")


if __name__ == "__main__":
    main()
