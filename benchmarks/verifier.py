"""Unsupported-sentence detection on a labelled set built from SQuAD 2.0 (dev subset).

    python benchmarks/verifier.py                 # AUROC on test, weights as shipped
    python benchmarks/verifier.py --fit           # fit the logistic weights on dev, then test
    python benchmarks/verifier.py --judge 60      # also the cascade with the Qwen judge (60 pairs)
    python benchmarks/verifier.py --dataset piaf  # the same sets built from PIAF (French)
    python benchmarks/verifier.py --dataset piaf --english-rules  # ablation: English stemmer

Each answerable question gives claims against its paragraph, in four sets:

- ``sentence``: the paragraph sentence holding the gold answer (supported), and the same
  sentence with the answer swapped for a plausible wrong one (unsupported);
- ``answer``: an answer-like claim, the question followed by the gold answer
  ("What river is larger than the Rhine? Danube."), and the same with the wrong answer;
  nothing in it is copied from the paragraph, as in a model's paraphrased answer.

The wrong answer is another question's gold answer of the same shape (a number for a
number, a capitalised name for a name, else any short answer) that the paragraph does not
contain, drawn with a fixed seed. ``mixed-sentence`` and ``mixed-answer`` are the same
claims with a **mixed-fact** wrong answer instead: a value of the same shape taken from
another sentence of the same paragraph (a real value attached to the wrong thing, the
commonest error of a small reader; issue 23). The weights are fitted on the first two sets
only; the mixed sets measure what they miss. Columns: AUROC, the share of correct claims
labelled unsupported (flagged to the reader) and of wrong ones. Questions are split dev/test as ``fiable eval import-squad`` does; weights and
thresholds are fitted on dev only. Prints AUROC, the verification time per sentence, and
that time as a share of generating one answer sentence with the same model.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, machine, percentile, table  # noqa: E402

from fiable.evaluation import import_squad, load_dataset  # noqa: E402
from fiable.sentences import sentence_spans  # noqa: E402
from fiable.trust.verifier import (WEIGHTS, WEIGHTS_LEXICAL, CascadeVerifier, Claim,  # noqa: E402
                                   features)

_NUM = re.compile(r"^\W*\d[\d,.]*\W*$")


def shape(answer: str) -> str:
    if _NUM.match(answer) or re.search(r"\d", answer):
        return "number"
    if answer[:1].isupper():
        return "name"
    return "other"


SOURCES = {"squad": ("SQuAD 2.0", DATA / "squad2" / "dev-v2.0.json"),
           "piaf": ("PIAF (French)", DATA / "piaf" / "piaf-v1.1.json")}


_NUMBER_TOKEN = re.compile(r"(?<![\w.,])\d[\d,.]*\d(?![\w])|(?<![\w.,])\d(?![\w.,])")
_NAME_RUN = re.compile(r"(?<![\w'])(?:[A-Z][\w'-]+)(?:\s+(?:of\s+|de\s+)?[A-Z][\w'-]+)*")


def same_passage_values(answer: str, context: str, sentence: str) -> list[str]:
    """Values of ``answer``'s shape found elsewhere in ``context``, not in ``answer``: the
    mixed-fact negatives (a real value of the passage attached to the wrong thing). Numbers
    for a number, capitalised names for a name, drawn outside the answer's own sentence."""
    rest = context.replace(sentence, " ")
    kind = shape(answer)
    if kind == "number":
        found = _NUMBER_TOKEN.findall(rest)
    elif kind == "name":
        found = [m.group(0) for m in _NAME_RUN.finditer(rest) if len(m.group(0)) > 2]
    else:
        return []
    own = answer.lower()
    return sorted({v for v in found if v.lower() not in own and own not in v.lower()
                   and v.lower() not in sentence.lower()})


def build(split: str, limit: int, kind: str, seed: int = 0, dataset: str = "squad"
          ) -> list[tuple[Claim, int]]:
    """Claims of ``kind``: ``sentence`` / ``answer`` with a wrong answer from another
    question (absent from the passage), ``mixed-sentence`` / ``mixed-answer`` with a wrong
    value taken from the same passage."""
    folder = Path(tempfile.mkdtemp()) / dataset
    import_squad(SOURCES[dataset][1], folder)
    contexts = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (folder / "corpus.jsonl").open()}
    items = [q for q in load_dataset(folder, split=split).questions if q.answerable]
    pool: dict[str, list[str]] = {}
    for q in items:
        pool.setdefault(shape(q.answers[0]), []).append(q.answers[0])
    rng = random.Random(seed)
    out: list[tuple[Claim, int]] = []
    for q in items:
        context, answer = contexts[q.doc_ids[0]], q.answers[0]
        at = context.find(answer)
        if at < 0:
            continue
        sentence = next((context[s:e] for s, e in sentence_spans(context) if s <= at < e), None)
        if not sentence or answer not in sentence or len(sentence) > 400:
            continue
        if kind.startswith("mixed"):
            choices = same_passage_values(answer, context, sentence)
        else:
            choices = [a for a in pool[shape(answer)] if a.lower() not in context.lower()]
        if not choices:
            continue
        other = rng.choice(choices)
        if kind in ("sentence", "mixed-sentence"):
            right, wrong = sentence, sentence.replace(answer, other, 1)
        else:
            right, wrong = f"{q.question.strip()} {answer}.", f"{q.question.strip()} {other}."
        out.append((Claim(right, (context,), q.question), 1))
        out.append((Claim(wrong, (context,), q.question), 0))
        if limit and len(out) >= 2 * limit:
            break
    return out


KINDS = ("sentence", "answer", "mixed-sentence", "mixed-answer")


def flagged(supports, labels: list[int]) -> str:
    """Share of the correct claims labelled unsupported (flagged to the reader)."""
    right = [s for s, y in zip(supports, labels) if y]
    return f"{sum(s.label == 'unsupported' for s in right) / max(len(right), 1):.1%}"


def caught(supports, labels: list[int]) -> str:
    """Share of the wrong claims labelled unsupported."""
    wrong = [s for s, y in zip(supports, labels) if not y]
    return f"{sum(s.label == 'unsupported' for s in wrong) / max(len(wrong), 1):.1%}"


def auroc(scores: list[float], labels: list[int]) -> float:
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def fit(x: np.ndarray, y: np.ndarray, steps: int = 4000, lr: float = 0.5) -> np.ndarray:
    """Logistic regression by gradient descent (small L2 penalty)."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        w -= lr * (x.T @ (p - y) / len(y) + 1e-3 * np.r_[0, w[1:]])
    return w


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=600, help="questions per split (0: all)")
    ap.add_argument("--fit", action="store_true", help="fit the weights on dev first")
    ap.add_argument("--judge", type=int, default=0, help="pairs to run through the judge cascade")
    ap.add_argument("--generator", default="qwen2.5-coder-0.5b")
    ap.add_argument("--dataset", choices=sorted(SOURCES), default="squad",
                    help="where the claims come from (weights are fitted on SQuAD either way)")
    ap.add_argument("--embedder", default=None, help="embedder setting (default: the workspace's)")
    ap.add_argument("--english-rules", action="store_true",
                    help="ablation: English stop words and stemmer whatever the evidence's language")
    a = ap.parse_args()
    if a.english_rules:
        import fiable.trust.signals as signals_module

        signals_module.evidence_language = lambda evidence: "en"  # type: ignore[assignment]
    from fiable import Workspace

    ws = Workspace.open(Path(tempfile.mkdtemp()) / "ws", create=True,
                        **({"embedder": a.embedder} if a.embedder else {}))
    embed = ws.embedder.embed_documents
    rows = []
    weights, lexical_weights = WEIGHTS, WEIGHTS_LEXICAL
    if a.fit:
        dev = build("dev", a.limit, "sentence") + build("dev", a.limit, "answer")
        sims = CascadeVerifier(embed)._similarities([c for c, _ in dev])
        x = np.array([features(c.sentence, c.evidence[0], s)[1] for (c, _), s in zip(dev, sims)])
        y = np.array([lab for _, lab in dev], dtype=float)
        weights = tuple(round(float(v), 2) for v in fit(x, y))
        x[:, 2] = 0.0
        lexical_weights = tuple(round(float(v), 2) for v in fit(x, y))
        print(f"fitted on dev ({len(dev)} claims): WEIGHTS = {weights}, "
              f"WEIGHTS_LEXICAL = {lexical_weights}")
    sets = {kind: build("test", a.limit, kind, dataset=a.dataset) for kind in KINDS}
    per_sentence = 0.0
    for kind, test in sets.items():
        labels = [lab for _, lab in test]
        t0 = time.perf_counter()
        supports = CascadeVerifier(embed, weights=weights).verify([c for c, _ in test])
        per_sentence = (time.perf_counter() - t0) / len(test)
        lexical = CascadeVerifier(weights=lexical_weights).verify([c for c, _ in test])
        rows += [
            [kind, "signals + embedding (default, no judge)", str(len(test)),
             f"{auroc([s.score for s in supports], labels):.3f}", flagged(supports, labels),
             caught(supports, labels), f"{per_sentence * 1000:.1f}"],
            [kind, "signals without embedder", str(len(test)),
             f"{auroc([s.score for s in lexical], labels):.3f}", flagged(lexical, labels),
             caught(lexical, labels), ""],
            [kind, "embedding similarity alone", str(len(test)),
             f"{auroc([s.details['similarity'] for s in supports], labels):.3f}", "", "", ""],
        ]
    test = sets["answer"]
    gen_time = None
    if a.judge:
        from fiable.components import make_generator
        from fiable.generators.base import ChatMessage, GenerationOptions
        from fiable.trust.judge import GeneratorJudge

        generator = make_generator(ws.settings.replace(generator=a.generator))
        sample = test[: 2 * (a.judge // 2)]
        cascade = CascadeVerifier(embed, judge=GeneratorJudge(generator), weights=weights)
        t0 = time.perf_counter()
        judged = cascade.verify([c for c, _ in sample])
        per = (time.perf_counter() - t0) / len(sample)
        asked = sum(s.method == "judge" for s in judged)
        rows.append(["answer", f"cascade with {a.generator} judge ({asked} of {len(sample)} asked)",
                     str(len(sample)), f"{auroc([s.score for s in judged], [lab for _, lab in sample]):.3f}",
                     "", "", f"{per * 1000:.1f}"])
        plain = CascadeVerifier(embed, weights=weights).verify([c for c, _ in sample])
        rows.append(["answer", "same pairs without the judge", str(len(sample)),
                     f"{auroc([s.score for s in plain], [lab for _, lab in sample]):.3f}", "",
                     "", ""])
        times = []
        for c, _ in sample[:10:2]:
            t0 = time.perf_counter()
            "".join(generator.stream([ChatMessage("user", f"{c.evidence[0]}\n\n{c.question}")],
                                     GenerationOptions(max_tokens=40)))
            times.append(time.perf_counter() - t0)
        gen_time = percentile(times, 50)
        generator.close()
    print(f"\nUnsupported-sentence detection, {SOURCES[a.dataset][0]} test split, embedder "
          f"{ws.embedder.model_id} — {machine()}\n")
    print(table(rows, ["set", "verifier", "claims", "AUROC", "correct flagged",
                       "wrong flagged", "ms / sentence"]))
    if gen_time:
        print(f"\ngenerating a 40-token answer with {a.generator}: p50 {gen_time:.2f} s; "
              f"verification without judge {per_sentence / gen_time:.1%} of it per sentence")
    print(f"\nrerun: python benchmarks/verifier.py {' '.join(sys.argv[1:])}")
    ws.close()


if __name__ == "__main__":
    main()
