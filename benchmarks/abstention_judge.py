"""Can a local Qwen model judge answerability better than the cheap classifier? (SQuAD 2.0)

    python benchmarks/abstention.py --dev 100 --test 100 --workspace WS     # stores the runs
    python benchmarks/abstention_judge.py --from-runs WS --model qwen2.5-coder-0.5b
    python benchmarks/abstention_judge.py --from-runs WS --model qwen2.5-coder-1.5b --prompt strict

For each question of the stored "abstention dev/test" runs (the answers and the passages
they were shown, see ``benchmarks/abstention.py``), the model reads the same passages and
the question and says yes or no: "do the passages contain the answer to this exact
question?". The probability of "yes" (from the first token's log-probabilities, yes and
no variants summed and renormalised) is used like the classifier's P(answerable):

- AUROC of P(yes) against the gold answerable flag, on every question and on those the
  generator answered, beside the classifier's and their mean's;
- the abstention thresholds (``min_relevance``, ``support_threshold`` and a threshold on
  the score) chosen on dev exactly as ``benchmarks/abstention.py`` chooses them (best
  abstention F1 within 5 points of answer F1), then applied to test;
- the judge's time per question.

This is an experiment, not a pipeline setting: the Generator contract streams text and
exposes no log-probabilities; the judge reads them through
``LlamaCppGenerator.next_token_logprobs``.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, machine, table  # noqa: E402
from abstention import WEIGHTS, _hits, auroc, stored_runs  # noqa: E402

from fiable import Workspace, models  # noqa: E402
from fiable.errors import FiableError  # noqa: E402
from fiable.generators.base import ChatMessage  # noqa: E402
from fiable.generators.llamacpp import LlamaCppGenerator  # noqa: E402
from fiable.evaluation import import_squad, load_dataset  # noqa: E402
from fiable.evaluation.calibrate import calibrate_abstention, outcome  # noqa: E402

PROMPTS = {
    "plain": "You decide whether a question can be answered from the given passages. Answer "
             "with one word: yes or no.",
    "strict": "You are a strict reading-comprehension checker. Many questions are written to "
              "look answerable but are not: they change a name, a number, a date, or add a "
              "negation or a condition the passages do not support. Answer yes only if the "
              "passages state the exact answer to the question as asked. Answer with one "
              "word: yes or no.",
}
USER = ("Passages:\n{passages}\n\nQuestion: {question}\n\n"
        "Do the passages contain the answer to this exact question? Answer yes or no.")


class Judge:
    """P(yes) from the log-probabilities of the reply's first token (yes and no variants
    summed, then renormalised)."""

    def __init__(self, generator: LlamaCppGenerator, prompt: str) -> None:
        self.generator = generator
        self.system = PROMPTS[prompt]

    def p_yes(self, question: str, passages: list[str]) -> float:
        text = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1))
        top = self.generator.next_token_logprobs(
            [ChatMessage("system", self.system),
             ChatMessage("user", USER.format(passages=text, question=question))], top=10)
        mass = {w: sum(math.exp(lp) for t, lp in top.items() if t.strip().lower() == w)
                for w in ("yes", "no")}
        total = mass["yes"] + mass["no"]
        return mass["yes"] / total if total else 0.5


def score(runs: dict[str, list[dict]], ws_dir: Path, folder: Path, judge: Judge
          ) -> tuple[dict[str, list[dict]], list[float]]:
    text = {q.id: q.question for split in runs for q in load_dataset(folder, split=split).questions}
    seconds: list[float] = []
    with Workspace.open(ws_dir, log_asks=False) as ws:
        for split, items in runs.items():
            for n, it in enumerate(items, 1):
                hits = _hits(ws, text[it["id"]], it["sources"])
                t0 = time.perf_counter()
                it["judge"] = judge.p_yes(text[it["id"]], [h.chunk.text for h in hits])
                seconds.append(time.perf_counter() - t0)
                if n % 20 == 0:
                    print(f"{split}: {n}/{len(items)}", file=sys.stderr)
    return runs, seconds


SCORES = {"classifier": lambda it: it["answerability"], "judge": lambda it: it["judge"],
          "mean of both": lambda it: (it["answerability"] + it["judge"]) / 2}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--from-runs", type=Path, required=True, metavar="WS",
                    help="workspace holding the runs of benchmarks/abstention.py --workspace WS")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--prompt", choices=sorted(PROMPTS), default="plain")
    ap.add_argument("--dev", type=int, default=100)
    ap.add_argument("--test", type=int, default=100)
    a = ap.parse_args()
    folder = Path(tempfile.mkdtemp()) / "squad2"
    import_squad(DATA / "squad2" / "dev-v2.0.json", folder)
    try:
        path = models.resolve_file(a.model, "model.gguf", model_dir=models.default_model_dir())
        runs = stored_runs(a.from_runs, folder, WEIGHTS)
    except FiableError as exc:
        sys.exit(f"{exc.message}\n  {exc.hint or ''}")
    if set(runs) != {"dev", "test"}:
        sys.exit(f"{a.from_runs} holds no stored abstention runs for both splits (found: "
                 f"{', '.join(sorted(runs)) or 'none'}): make them with `python "
                 f"benchmarks/abstention.py --dev {a.dev} --test {a.test} --workspace {a.from_runs}`")
    runs = {"dev": runs["dev"][: a.dev], "test": runs["test"][: a.test]}
    with LlamaCppGenerator(path, n_ctx=4096, model_id=a.model) as generator:
        runs, seconds = score(runs, a.from_runs, folder, Judge(generator, a.prompt))

    print(f"\nSQuAD 2.0 answerability judge: {a.model}, prompt {a.prompt!r}, {machine()}\n")
    rows = []
    for split, items in runs.items():
        answered = [it for it in items if not it["abstained"]]
        rows.append([f"{split} ({len(items)}, {sum(not it['answerable'] for it in items)} "
                     "unanswerable)"]
                    + [f"{auroc([f(it) for it in group], [it['answerable'] for it in group]):.3f}"
                       for f in SCORES.values() for group in (items, answered)])
    print(table(rows, ["split"] + [f"AUROC {name} ({group})" for name in SCORES
                                   for group in ("all", "answered")]))
    rows = []
    for name, f in SCORES.items():
        dev = [dict(it, answerability=f(it)) for it in runs["dev"]]
        test = [dict(it, answerability=f(it)) for it in runs["test"]]
        c = calibrate_abstention(dev)
        o = outcome(test, c.min_relevance, c.support_threshold, c.answerability_threshold)
        base = outcome(test, 0.0, 0.0)
        rows.append([name, f"{c.min_relevance} / {c.support_threshold} / "
                     f"{c.answerability_threshold}", f"{c.chosen['abstention.f1']:.3f}",
                     f"{base['f1']:.3f} -> {o['f1']:.3f}", f"{o['abstention.precision']:.3f}",
                     f"{o['abstention.recall']:.3f}", f"{o['abstention.f1']:.3f}"])
    print()
    print(table(rows, ["score", "dev-chosen relevance / support / score thresholds",
                       "dev abstention F1", "test answer F1 (none -> chosen)", "test abstention P",
                       "test abstention R", "test abstention F1"]))
    s = sorted(seconds)
    print(f"\njudge time per question: p50 {s[len(s) // 2]:.2f} s, p95 {s[int(len(s) * 0.95)]:.2f} s "
          f"over {len(s)} questions (prompt: the passages the answer was shown and the question)")
    print(f"\nrerun: python benchmarks/abstention_judge.py --from-runs {a.from_runs} --model "
          f"{a.model} --prompt {a.prompt} --dev {a.dev} --test {a.test}")


if __name__ == "__main__":
    main()
