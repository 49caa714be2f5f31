"""The answer decision on dev splits: each gate's false refusals and false answers, replayed.

    python benchmarks/answer_decision.py --squad 50             # 50 + 50 SQuAD 2.0 dev questions
    python benchmarks/answer_decision.py --evalset              # the evaluation set's dev split
    python benchmarks/answer_decision.py --replay OUT.jsonl     # thresholds again, no generation
    python benchmarks/answer_decision.py --squad 150 --skip 50 --out FIT.jsonl   # rows to fit on
    python benchmarks/answer_decision.py --fit FIT.jsonl,EVAL.jsonl --replay OUT.jsonl

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

The answer decision after generation (:mod:`fiable.trust.decision`) is replayed the same
way: each row keeps its features (the classifier's score, the model's refusal probability,
the answer's binding), ``--fit ROWS`` fits its logistic weights on other rows (the SQuAD dev
questions after ``--skip``, the evaluation set's dev split weighing half as much) and prints
them, and the table gains the rows of (``answerability_threshold``, ``answer_threshold``)
pairs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, fit_logistic, machine, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.evaluation import import_squad, load_dataset  # noqa: E402
from fiable.evaluation import metrics as m  # noqa: E402
from fiable.evaluation.runner import ingest_corpus  # noqa: E402
from fiable.trust.decision import decide  # noqa: E402

OPEN = {"min_relevance": 0.0, "verify": "flag", "answerability": "classifier",
        "answerability_threshold": 0.0, "answer_threshold": 0.0}
THRESHOLDS = (0.0, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6)
AFTER = tuple((t, t_after) for t in (0.3, 0.4, 0.5, 0.55) for t_after in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5))


def squad_questions(n: int, folder: Path, skip: int = 0) -> tuple[list[dict], Path]:
    import_squad(DATA / "squad2" / "dev-v2.0.json", folder)
    pool = list(load_dataset(folder, split="dev").questions)
    answerable = [q for q in pool if q.answerable][skip:skip + n]
    unanswerable = [q for q in pool if not q.answerable][skip:skip + n]
    return [{"id": q.id, "question": q.question, "answerable": q.answerable,
             "answers": list(q.answers), "kind": "squad"}
            for pair in zip(answerable, unanswerable) for q in pair], folder


def collect(questions: list[dict], ws: Workspace, collection: str, out: Path) -> list[dict]:
    rows = []
    with out.open("w", encoding="utf-8") as f:
        for i, q in enumerate(questions, start=1):
            a = ws.ask(q["question"], collections=[collection], overrides=OPEN)
            text = "" if a.abstained else " ".join(s.text for s in a.sentences)
            after = (a.answerability or {}).get("after") or {}
            row = {**q, "p": (a.answerability or {}).get("score"), "relevance": a.relevance,
                   "text": text, "code": a.abstain_code, "after": after.get("features"),
                   "quoted": any(s.method == "quote" for s in a.sentences),
                   "seconds": a.timings.get("total")}
            rows.append(row)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            print(f"  [{i}/{len(questions)}] p={row['p']} {text[:70]!r}", file=sys.stderr)
    return rows


def after_score(row: dict, weights: dict[str, dict[str, float]] | None) -> float | None:
    """The recorded answer's P(answerable) after generation under ``weights`` (``with`` /
    ``without`` the refusal feature; the module's when None); None for a row with no model
    answer (the model refused, or the answer is a quote)."""
    features = row.get("after")
    if not features:
        return None
    from fiable.trust.binding import Binding

    key = "with" if "refusal" in features else "without"
    w = None if weights is None else weights[key]
    p = row["p"] if row["p"] is not None else 0.5
    return decide(p, features.get("refusal"), Binding("", None, {
        k: v for k, v in features.items() if k not in ("answerability", "refusal")}), 0.0, w).score


def replay(rows: list[dict], weights: dict[str, dict[str, float]] | None = None) -> str:
    """The table of every threshold pair on ``rows``: ``answerability_threshold`` alone
    (answer_threshold 0), then pairs with the answer decision under ``weights``."""
    body = []
    after = {id(r): after_score(r, weights) for r in rows}
    for t, t_after in [(t, 0.0) for t in THRESHOLDS] + list(AFTER):
        f1s, contains, predicted, truth = [], [], [], []
        for r in rows:
            kept = (r["p"] or 0.0) >= t and (after[id(r)] is None or after[id(r)] >= t_after)
            text = r["text"] if kept else ""
            predicted.append(not text)
            truth.append(not r["answerable"])
            if r["answerable"]:
                f1s.append(m.token_f1(text, r["answers"]))
                contains.append(float(m.answer_contains(text, r["answers"])))
        ab = m.abstention_scores(predicted, truth)
        answerable = [p for p, u in zip(predicted, truth) if not u]
        unanswerable = [p for p, u in zip(predicted, truth) if u]
        body.append([f"{t:.2f}", f"{t_after:.2f}", f"{m.mean(f1s):.3f}", f"{m.mean(contains):.3f}",
                     f"{ab['precision']:.3f}", f"{ab['recall']:.3f}", f"{ab['f1']:.3f}",
                     f"{sum(answerable)}/{len(answerable)}",
                     f"{len(unanswerable) - sum(unanswerable)}/{len(unanswerable)}"])
    quoted = sum(bool(r.get("quoted")) for r in rows)
    answered = [r for r in rows if after[id(r)] is not None]
    labels = tuple(r["answerable"] for r in answered)
    aurocs = (f"\nAUROC (answerable or not) over the {len(answered)} model answers: classifier "
              f"{auroc(tuple(r['p'] or 0.0 for r in answered), labels):.3f}, answer decision "
              f"{auroc(tuple(after[id(r)] for r in answered), labels):.3f}")
    return (table(body, ["answerability_threshold", "answer_threshold", "answer F1",
                         "contains gold", "abstention P", "abstention R", "abstention F1",
                         "wrong refusals", "answers to unanswerable"])
            + f"\n\nquoted (the model gave no answer): {quoted}/{len(rows)}; model refusals "
              f"left: {sum(r.get('code') == 'model_refused' for r in rows)}/{len(rows)}"
            + aurocs)


def auroc(scores: tuple[float, ...], positive: tuple[bool, ...]) -> float:
    """Area under the ROC curve, ties counted half (NaN with one class only)."""
    pos = [s for s, y in zip(scores, positive) if y]
    neg = [s for s, y in zip(scores, positive) if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def fit(rows: list[dict], l2: float = 1.0, evalset_share: float = 0.5
        ) -> dict[str, dict[str, float]]:
    """The answer decision's weights, with and without the refusal feature, on the rows
    with a model answer (answerable or not); evaluation-set rows together weigh
    ``evalset_share`` of the SQuAD ones."""
    from fiable.trust.decision import DECISION_FEATURES, _logit

    used = [r for r in rows if r.get("after")]
    squad = sum(r["kind"] == "squad" for r in used)
    other = len(used) - squad
    weight = [1.0 if r["kind"] == "squad" else evalset_share * squad / max(other, 1) for r in used]
    out = {}
    for key, names in (("with", DECISION_FEATURES),
                       ("without", [n for n in DECISION_FEATURES if n != "refusal"])):
        x = [[_logit(r["p"] if r["p"] is not None else 0.5) if n == "answerability"
              else r["after"].get(n, 0.0) for n in names] for r in used]
        bias, raw = fit_logistic(x, [float(r["answerable"]) for r in used], weight, l2)
        out[key] = {"bias": round(bias, 3), **{n: round(float(v), 3) for n, v in zip(names, raw)}}
    print(f"fitted on {len(used)} model answers ({squad} SQuAD dev, {other} evaluation set dev, "
          f"{sum(r['answerable'] for r in used)} answerable):\nWEIGHTS = {out['with']}\n"
          f"WEIGHTS_WITHOUT_REFUSAL = {out['without']}", file=sys.stderr)
    return out


def read_rows(path: Path, ap: argparse.ArgumentParser) -> list[dict]:
    """The rows of a previous run, or a usage error naming what is wrong with the file."""
    if not path.is_file():
        ap.error(f"{path}: no such file; give the JSONL a previous run wrote (--out)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not {"p", "text", "answerable", "answers"} <= row.keys():
                raise ValueError("missing p, text, answerable or answers")
        except ValueError as exc:
            ap.error(f"{path}, line {number}: not a row of this benchmark ({exc})")
        rows.append(row)
    if not rows:
        ap.error(f"{path}: no rows; the run that wrote it asked nothing")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", type=int, default=0, help="N answerable + N unanswerable dev questions")
    ap.add_argument("--evalset", action="store_true", help="the evaluation set's dev split")
    ap.add_argument("--skip", type=int, default=0, help="skip the first N SQuAD dev questions "
                    "of each kind (the first 50 are kept to choose thresholds)")
    ap.add_argument("--replay", type=Path, help="a previous run's JSONL: replay, no generation")
    ap.add_argument("--fit", help="comma-separated JSONL files of earlier runs: fit the answer "
                    "decision's weights on them (then replay --replay, or the new run, with them)")
    ap.add_argument("--generator", help="another generator than the default (catalog name)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results"
                    / "answer_decision.jsonl")
    a = ap.parse_args()
    print(f"# answer decision on dev\nmachine: {machine()}\nrerun: python "
          f"benchmarks/answer_decision.py {' '.join(sys.argv[1:])}")
    weights = None
    if a.fit:
        weights = fit([r for name in a.fit.split(",") for r in read_rows(Path(name), ap)])
    if a.replay:
        print(replay(read_rows(a.replay, ap), weights))
        return
    if a.squad < 0 or a.skip < 0:
        ap.error(f"--squad {a.squad} --skip {a.skip}: give numbers of questions of each kind, "
                 "--squad 1 or more, --skip 0 or more")
    if not a.squad and not a.evalset:
        ap.error("give --squad N, --evalset or --replay FILE")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, \
            Workspace.open(Path(tmp) / "ws", create=True, log_asks=False,
                           **({"generator": a.generator} if a.generator else {})) as ws:
        if a.evalset:
            from fiable.samples import evalset_dir, evalset_questions

            questions = [q for q in evalset_questions() if q["split"] == "dev"]
            ws.ingest([evalset_dir()], collection="evalset")
            collection = "evalset"
        else:
            questions, folder = squad_questions(a.squad, Path(tmp) / "squad2", a.skip)
            ingest_corpus(ws, load_dataset(folder, split="dev", limit=1), "squad2")
            collection = "squad2"
        rows = collect(questions, ws, collection, a.out)
    print(replay(rows, weights))
    print(f"answers: {a.out}")


if __name__ == "__main__":
    main()
