"""The answer decision on dev splits: each gate's false refusals and false answers, replayed.

    python benchmarks/answer_decision.py --squad 50             # 50 + 50 SQuAD 2.0 dev questions
    python benchmarks/answer_decision.py --evalset              # the evaluation set's dev split
    python benchmarks/answer_decision.py --replay OUT.jsonl     # thresholds again, no generation

One pass asks every question with the default generator and prompt but every gate open
(``min_relevance`` 0, ``answerability = classifier`` at threshold 0, so P(answerable) is
recorded and never refuses; the quote fallback is on). Each gate is then a threshold on the
recorded numbers, so the table below replays every threshold exactly without generating
again (temperature 0): for ``answerability_threshold`` t, a question with P(answerable) < t
is refused, else the recorded answer (the model's, or the quote when the model gave none)
is kept. Rows: answer F1 and contains-gold on answerable questions, abstention P/R/F1 (the
positive class being unanswerable), wrong refusals and answers to unanswerable questions.
Only dev splits are read: SQuAD's dev split as ``fiable eval import-squad`` assigns it,
the evaluation set's ``dev`` questions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.evaluation import import_squad, load_dataset  # noqa: E402
from fiable.evaluation import metrics as m  # noqa: E402
from fiable.evaluation.runner import ingest_corpus  # noqa: E402

OPEN = {"min_relevance": 0.0, "verify": "flag", "answerability": "classifier",
        "answerability_threshold": 0.0}
THRESHOLDS = (0.0, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6)


def squad_questions(n: int, folder: Path) -> tuple[list[dict], Path]:
    import_squad(DATA / "squad2" / "dev-v2.0.json", folder)
    pool = list(load_dataset(folder, split="dev").questions)
    answerable = [q for q in pool if q.answerable][:n]
    unanswerable = [q for q in pool if not q.answerable][:n]
    return [{"id": q.id, "question": q.question, "answerable": q.answerable,
             "answers": list(q.answers), "kind": "squad"}
            for pair in zip(answerable, unanswerable) for q in pair], folder


def collect(questions: list[dict], ws: Workspace, collection: str, out: Path) -> list[dict]:
    rows = []
    with out.open("w", encoding="utf-8") as f:
        for i, q in enumerate(questions, start=1):
            a = ws.ask(q["question"], collections=[collection], overrides=OPEN)
            text = "" if a.abstained else " ".join(s.text for s in a.sentences)
            row = {**q, "p": (a.answerability or {}).get("score"), "relevance": a.relevance,
                   "text": text, "code": a.abstain_code,
                   "quoted": any(s.method == "quote" for s in a.sentences),
                   "seconds": a.timings.get("total")}
            rows.append(row)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            print(f"  [{i}/{len(questions)}] p={row['p']} {text[:70]!r}", file=sys.stderr)
    return rows


def replay(rows: list[dict]) -> str:
    body = []
    for t in THRESHOLDS:
        f1s, contains, predicted, truth = [], [], [], []
        for r in rows:
            text = r["text"] if (r["p"] or 0.0) >= t else ""
            predicted.append(not text)
            truth.append(not r["answerable"])
            if r["answerable"]:
                f1s.append(m.token_f1(text, r["answers"]))
                contains.append(float(m.answer_contains(text, r["answers"])))
        ab = m.abstention_scores(predicted, truth)
        answerable = [p for p, u in zip(predicted, truth) if not u]
        unanswerable = [p for p, u in zip(predicted, truth) if u]
        body.append([f"{t:.2f}", f"{m.mean(f1s):.3f}", f"{m.mean(contains):.3f}",
                     f"{ab['precision']:.3f}", f"{ab['recall']:.3f}", f"{ab['f1']:.3f}",
                     f"{sum(answerable)}/{len(answerable)}",
                     f"{len(unanswerable) - sum(unanswerable)}/{len(unanswerable)}"])
    quoted = sum(bool(r.get("quoted")) for r in rows)
    return (table(body, ["answerability_threshold", "answer F1", "contains gold", "abstention P",
                         "abstention R", "abstention F1", "wrong refusals",
                         "answers to unanswerable"])
            + f"\n\nquoted (the model gave no answer): {quoted}/{len(rows)}; model refusals "
              f"left: {sum(r.get('code') == 'model_refused' for r in rows)}/{len(rows)}")


def read_rows(path: Path, ap: argparse.ArgumentParser) -> list[dict]:
    """The rows of a previous run, or a usage error naming what is wrong with the file."""
    if not path.is_file():
        ap.error(f"--replay {path}: no such file; give the JSONL a previous run wrote (--out)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not {"p", "text", "answerable", "answers"} <= row.keys():
                raise ValueError("missing p, text, answerable or answers")
        except ValueError as exc:
            ap.error(f"--replay {path}, line {number}: not a row of this benchmark ({exc})")
        rows.append(row)
    if not rows:
        ap.error(f"--replay {path}: no rows; the run that wrote it asked nothing")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", type=int, default=0, help="N answerable + N unanswerable dev questions")
    ap.add_argument("--evalset", action="store_true", help="the evaluation set's dev split")
    ap.add_argument("--replay", type=Path, help="a previous run's JSONL: replay, no generation")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results"
                    / "answer_decision.jsonl")
    a = ap.parse_args()
    print(f"# answer decision on dev\nmachine: {machine()}\nrerun: python "
          f"benchmarks/answer_decision.py {' '.join(sys.argv[1:])}")
    if a.replay:
        print(replay(read_rows(a.replay, ap)))
        return
    if a.squad < 0:
        ap.error(f"--squad {a.squad}: give a number of questions of each kind, 1 or more")
    if not a.squad and not a.evalset:
        ap.error("give --squad N, --evalset or --replay FILE")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, \
            Workspace.open(Path(tmp) / "ws", create=True, log_asks=False) as ws:
        if a.evalset:
            from fiable.samples import evalset_dir, evalset_questions

            questions = [q for q in evalset_questions() if q["split"] == "dev"]
            ws.ingest([evalset_dir()], collection="evalset")
            collection = "evalset"
        else:
            questions, folder = squad_questions(a.squad, Path(tmp) / "squad2")
            ingest_corpus(ws, load_dataset(folder, split="dev", limit=1), "squad2")
            collection = "squad2"
        rows = collect(questions, ws, collection, a.out)
    print(replay(rows))
    print(f"answers: {a.out}")


if __name__ == "__main__":
    main()
