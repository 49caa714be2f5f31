"""Follow-up questions: the original question (ceiling), the follow-up alone (floor) and the
follow-up in its conversation, on SQuAD 2.0 (English) and PIAF (French) dev questions.

    python benchmarks/conversations.py                      # retrieval, 60 pairs a language
    python benchmarks/conversations.py --answers 20         # and answer F1 on 20 of them

Pairs are built from real questions on one article (dev split as ``fiable eval
import-squad`` assigns it): the first turn is a question of the article, the follow-up is
another question of the same article whose mention of the subject (the article title, or
its last word: "Tesla") is replaced by a pronoun ("When was Tesla's AC motor patented?" ->
"When was its AC motor patented?"; French: "il"/"son"). The first turn's answer in the
conversation is its gold answer. Conditions: ``ceiling`` the original question,
``floor`` the follow-up as typed, ``merge`` and ``model`` the follow-up made standalone
(``followup_rewrite``). Retrieval: the gold paragraph among the 3 passages shown (hit@3)
over every paragraph of the articles drawn; answers: token F1 and contains-gold with the
default generator. Also the time to make a question standalone (p50/p95) and the share of
follow-ups and of first questions that take the fast path (no rewrite).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.conversations import Exchange, needs_context, standalone_question  # noqa: E402
from fiable.evaluation import import_squad, load_dataset  # noqa: E402
from fiable.evaluation import metrics as m  # noqa: E402
from fiable.ingest import RECORD_PREFIX, TextRecord  # noqa: E402

PRONOUNS = {"en": ("it", "its"), "fr": ("celui-ci", "celui-ci")}
_FR_FIXES = ((r"\bd'celui-ci", "de celui-ci"), (r"\bau celui-ci", "à celui-ci"),
             (r"\bdu celui-ci", "de celui-ci"), (r"\bl'celui-ci", "celui-ci"))
CONDITIONS = ("ceiling", "floor", "merge", "model")


def subject_forms(title: str) -> list[str]:
    words = title.split()
    forms = [title]
    if len(words) > 1 and len(words[-1]) > 3:
        forms.append(words[-1])
    return forms


def follow_up(question: str, title: str, language: str) -> str | None:
    """``question`` with its mention of ``title`` replaced by a pronoun, or None."""
    plain, possessive = PRONOUNS[language]
    for form in subject_forms(title):
        f = re.escape(form)
        patterns = ([(rf"\b(?:the\s+)?{f}'s\b", possessive), (rf"\b(?:the\s+)?{f}\b", plain)]
                    if language == "en" else
                    [(rf"\b(?:de\s+la|du|de\s+l'|des|de|d')\s*{f}\b", "de celui-ci"),
                     (rf"\b(?:la|le|l'|les)\s*{f}\b", plain), (rf"\b{f}\b", plain)])
        for pattern, pronoun in patterns:
            out, n = re.subn(pattern, pronoun, question, count=1, flags=re.IGNORECASE)
            if n:
                for bad, good in _FR_FIXES if language == "fr" else ():
                    out = re.sub(bad, good, out)
                if any(w.lower() in out.lower() for w in title.split() if len(w) > 3):
                    return None  # the subject is still named
                return out[0].upper() + out[1:]
    return None


def build_pairs(name: str, src: Path, language: str, n: int, folder: Path, seed: int
                ) -> tuple[list[dict], list[dict]]:
    """``n`` (first, follow-up) pairs of dev questions and the paragraphs of their articles."""
    import_squad(src, folder)
    data = load_dataset(folder, split="dev")
    corpus = {d["_id"]: d for d in map(json.loads, (folder / "corpus.jsonl").open(encoding="utf-8"))}
    by_article: dict[str, list] = defaultdict(list)
    for q in data.questions:
        if q.answerable and q.doc_ids:
            by_article[q.doc_ids[0].split("-")[0]].append(q)
    rng = random.Random(seed)
    pairs: list[dict] = []
    for article in sorted(by_article):
        qs = by_article[article]
        title = corpus[qs[0].doc_ids[0]]["title"]
        candidates = [(q, f) for q in qs if (f := follow_up(q.question, title, language))]
        rng.shuffle(candidates)
        for q, f in candidates[:max(1, n // 20)]:
            first = next((o for o in qs if o.id != q.id and any(
                s.lower() in o.question.lower() for s in subject_forms(title))), None)
            if first is None:
                continue
            pairs.append({"set": name, "language": language, "article": article, "title": title,
                          "first": first.question, "first_answer": first.answers[0],
                          "question": q.question, "follow_up": f, "answers": list(q.answers),
                          "gold": q.doc_ids[0]})
    rng.shuffle(pairs)
    pairs = pairs[:n]
    articles = {p["article"] for p in pairs}
    docs = [d for pid, d in corpus.items() if pid.split("-")[0] in articles]
    return pairs, docs


def standalone(pair: dict, condition: str, ws: Workspace) -> tuple[str, str, float]:
    if condition == "ceiling":
        return pair["question"], "original", 0.0
    if condition == "floor":
        return pair["follow_up"], "as typed", 0.0
    made = standalone_question(pair["follow_up"], [Exchange(pair["first"], pair["first_answer"])],
                               generator_factory=lambda: ws.generator, mode=condition,
                               language=pair["language"])
    return made.question, made.method, made.seconds


def run_set(pairs: list[dict], docs: list[dict], answers: int, out: list[dict],
            conditions: tuple[str, ...] = CONDITIONS) -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, \
            Workspace.open(Path(tmp) / "ws", create=True, log_asks=False) as ws:
        ws.ingest_records([TextRecord(d["_id"], d["title"], d["text"]) for d in docs],
                          collection="bench")
        for condition in conditions:
            hits, f1s, contains, seconds, methods = [], [], [], [], defaultdict(int)
            for i, pair in enumerate(pairs):
                question, method, took = standalone(pair, condition, ws)
                methods[method] += 1
                if condition in ("merge", "model"):
                    seconds.append(took)
                found = [h.chunk.source.removeprefix(RECORD_PREFIX)
                         for h in ws.search(question, k=3)]
                hits.append(float(pair["gold"] in found))
                row = {"condition": condition, **pair, "asked": question, "method": method,
                       "hit3": hits[-1], "seconds": took}
                if i < answers:  # through the pipeline, as a user's conversation reaches it
                    a = (ws.ask(question) if condition in ("ceiling", "floor") else
                         ws.ask(pair["follow_up"], overrides={"followup_rewrite": condition},
                                history=[Exchange(pair["first"], pair["first_answer"])]))
                    text = "" if a.abstained else " ".join(s.text for s in a.sentences)
                    f1s.append(m.token_f1(text, pair["answers"]))
                    contains.append(float(m.answer_contains(text, pair["answers"])))
                    row.update(answer=text, f1=f1s[-1], abstained=a.abstained,
                               abstain_code=a.abstain_code)
                out.append(row)
            p50 = f"{statistics.median(seconds) * 1000:.0f}" if seconds else "-"
            p95 = (f"{sorted(seconds)[int(0.95 * (len(seconds) - 1))] * 1000:.0f}"
                   if seconds else "-")
            rows.append([pairs[0]["set"], condition, str(len(pairs)), f"{m.mean(hits):.3f}",
                         f"{m.mean(f1s):.3f}" if f1s else "-",
                         f"{m.mean(contains):.3f}" if contains else "-", p50, p95,
                         ", ".join(f"{k} {v}" for k, v in sorted(methods.items()))])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=60, help="follow-up pairs per language")
    ap.add_argument("--answers", type=int, default=0, help="also answer the first N pairs")
    ap.add_argument("--sets", default="squad2,piaf", help="squad2, piaf or both")
    ap.add_argument("--conditions", default=",".join(CONDITIONS),
                    help=f"some of {', '.join(CONDITIONS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results"
                    / "conversations.jsonl")
    a = ap.parse_args()
    if a.pairs < 1 or a.answers < 0:
        ap.error("--pairs must be 1 or more and --answers 0 or more")
    sources = {"squad2": (DATA / "squad2" / "dev-v2.0.json", "en"),
               "piaf": (DATA / "piaf" / "piaf-v1.1.json", "fr")}
    conditions = tuple(c.strip() for c in a.conditions.split(",") if c.strip())
    if not conditions or any(c not in CONDITIONS for c in conditions):
        ap.error(f"--conditions {a.conditions!r}: choose among {', '.join(CONDITIONS)}")
    names = [s.strip() for s in a.sets.split(",") if s.strip()]
    if not names or any(s not in sources for s in names):
        ap.error(f"--sets {a.sets!r}: choose among {', '.join(sources)}")
    print(f"# follow-up questions\nmachine: {machine()}\nrerun: python "
          f"benchmarks/conversations.py {' '.join(sys.argv[1:])}")
    rows, out = [], []
    started = time.perf_counter()
    for name in names:
        src, language = sources[name]
        if not src.exists():
            sys.exit(f"{src} not found: set FIABLE_BENCH_DATA to the folder holding {name}/")
        with tempfile.TemporaryDirectory() as tmp:
            pairs, docs = build_pairs(name, src, language, a.pairs, Path(tmp) / name, a.seed)
        print(f"{name}: {len(pairs)} pairs over {len(docs)} paragraphs; e.g. "
              f"{pairs[0]['first']!r} then {pairs[0]['follow_up']!r}", file=sys.stderr)
        rows += run_set(pairs, docs, a.answers, out, conditions)
        firsts = [needs_context(p["first"], language) for p in pairs]
        follows = [needs_context(p["follow_up"], language) for p in pairs]
        print(f"{name}: fast path (no rewrite) for {firsts.count(False)}/{len(firsts)} first "
              f"questions asked as follow-ups and {follows.count(False)}/{len(follows)} "
              f"follow-ups", file=sys.stderr)
    print(table(rows, ["set", "condition", "pairs", "hit@3", "answer F1", "contains gold",
                       "standalone p50 ms", "p95 ms", "methods"]))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out),
                     encoding="utf-8")
    print(f"\nper pair: {a.out}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
