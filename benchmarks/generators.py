"""Every generator that runs offline here, on the same dev questions at the defaults.

    python benchmarks/generators.py --squad 30                 # 0.5B and 1.5B, ~25 min
    python benchmarks/generators.py --squad 30 --generators qwen2.5-coder-0.5b

For each generator (a catalog name; pulled with ``fiable models pull``): the same SQuAD 2.0
dev questions (N answerable + N unanswerable, as ``fiable eval import-squad`` splits them)
and the bundled evaluation set's dev split, asked through ``Workspace.ask`` with every
other setting at its default: answer token F1 and contains-gold on answerable questions,
abstention precision / recall / F1, wrong refusals, answers to unanswerable questions, and
on 2 cores the time to the first token and to the full answer (p50 / p95 of the questions
the model was asked), and the whole ask (p50). Dev splits only: test splits stay unseen.
Per-question rows: ``results/generators.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine, percentile, table  # noqa: E402
from answer_decision import squad_questions  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.evaluation import load_dataset  # noqa: E402
from fiable.evaluation import metrics as m  # noqa: E402
from fiable.evaluation.runner import ingest_corpus  # noqa: E402

GENERATORS = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


def ask_all(ws: Workspace, questions: list[dict], collection: str, generator: str, out) -> list[dict]:
    rows = []
    for i, q in enumerate(questions, start=1):
        a = ws.ask(q["question"], collections=[collection])
        text = "" if a.abstained else " ".join(s.text for s in a.sentences)
        row = {**q, "generator": generator, "text": text, "code": a.abstain_code,
               "first_token": a.timings.get("first_token"), "generate": a.timings.get("generate"),
               "total": a.timings.get("total")}
        rows.append(row)
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()
        print(f"  {generator} [{i}/{len(questions)}] {text[:70]!r}", file=sys.stderr)
    return rows


def summary(rows: list[dict]) -> list[str]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    ab = m.abstention_scores([not r["text"] for r in rows], [not r["answerable"] for r in rows])
    first = [r["first_token"] for r in rows if r["first_token"] is not None]
    full = [r["generate"] for r in rows if r["generate"] is not None]

    def p(values: list[float], q: float) -> str:
        return f"{percentile(values, q):.2f}" if values else "-"

    return [f"{m.mean([m.token_f1(r['text'], r['answers']) for r in answerable]):.3f}",
            f"{m.mean([float(m.answer_contains(r['text'], r['answers'])) for r in answerable]):.3f}",
            f"{ab['precision']:.3f}", f"{ab['recall']:.3f}", f"{ab['f1']:.3f}",
            f"{sum(not r['text'] for r in answerable)}/{len(answerable)}",
            f"{sum(bool(r['text']) for r in unanswerable)}/{len(unanswerable)}",
            p(first, 50), p(first, 95), p(full, 50), p(full, 95),
            p([r["total"] for r in rows], 50)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", type=int, default=30, help="N answerable + N unanswerable dev questions")
    ap.add_argument("--no-evalset", action="store_true", help="leave out the evaluation set's dev split")
    ap.add_argument("--generators", default=",".join(GENERATORS), help="catalog names, comma-separated")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results"
                    / "generators.jsonl")
    a = ap.parse_args()
    generators = [g.strip() for g in a.generators.split(",") if g.strip()]
    if a.squad < 0 or not generators or (a.squad == 0 and a.no_evalset):
        ap.error("give --squad 1 or more (or the evaluation set) and at least one generator")
    print(f"# generators on dev questions, defaults\nmachine: {machine()}\nrerun: python "
          f"benchmarks/generators.py {' '.join(sys.argv[1:])}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    body = []
    with a.out.open("w", encoding="utf-8") as out, tempfile.TemporaryDirectory() as tmp:
        sets = []
        if a.squad:
            questions, folder = squad_questions(a.squad, Path(tmp) / "squad2")
            sets.append(("SQuAD 2.0 dev", "squad2", questions, folder))
        if not a.no_evalset:
            from fiable.samples import evalset_dir, evalset_questions

            sets.append(("evaluation set dev", "evalset",
                         [{**q, "answers": list(q.get("answers") or [])}
                          for q in evalset_questions() if q["split"] == "dev"], None))
        for generator in generators:
            with Workspace.open(Path(tmp) / generator, create=True, log_asks=False,
                                generator=generator) as ws:
                for name, collection, questions, folder in sets:
                    if folder is not None:
                        ingest_corpus(ws, load_dataset(folder, split="dev", limit=1), collection)
                    else:
                        ws.ingest([evalset_dir()], collection=collection)
                    rows = ask_all(ws, questions, collection, generator, out)
                    body.append([name, generator, str(len(rows)), *summary(rows)])
    print(table(body, ["set", "generator", "questions", "answer F1", "contains gold",
                       "abstention P", "R", "F1", "wrong refusals", "answers to unanswerable",
                       "first token p50 s", "p95", "full answer p50 s", "p95", "ask p50 s"]))
    print(f"\nper question: {a.out}")


if __name__ == "__main__":
    main()
