"""Mixture of experts: routing, splitting and answering on three data sets at once.

    nice python benchmarks/experts.py                      # ~30-60 min on 2 busy shared cores
    nice python benchmarks/experts.py --singles 100 --compounds 12 --model-split 9

One collection and one expert per data set (``_experts_data.py``): SciFact (science
claims), SQuAD 2.0 dev (English Wikipedia), PIAF (French Wikipedia); gold routing is the
data set a question comes from. The workspace is cached under
``benchmarks/results/cache/experts-ws`` (the first build ingests ~13,600 chunks).

1. Routing on single questions (seeded sample per data set): the gate's top-1 / top-2
   against the baseline that searches all collections merged (the collection of the best
   fused hit; top-2: the first two distinct collections of the ranking). Gate latency
   (warm summaries; the question's embedding excluded: retrieval reuses it) and the
   embedding itself.
2. Retrieval per data set, nDCG@10 / recall@10 over documents: routed (the gate's
   collections) vs one merged index (all collections) vs the gold collection alone.
3. Compound questions: two questions of different data sets joined ("A? B?" or
   "A and b?"); split accuracy (heuristic), routing accuracy per part, and per part answer
   token F1 / gold-contained for ``ask --experts`` vs ``ask`` on the compound (Qwen2.5-0.5B,
   the workspace's default generator). SciFact parts have no gold answer: routing only.
4. The generator split (``experts_split = model``) forced on compounds and on single
   questions: accuracy, false splits, latency.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, mean, ndcg_at_k, percentile, recall_at_k, table  # noqa: E402
from _experts_data import CACHE, EXPERTS, Question, build, load, sample  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.evaluation.metrics import answer_contains, token_f1  # noqa: E402
from fiable.experts.config import Expert  # noqa: E402
from fiable.experts.split import split_heuristic, split_with_model  # noqa: E402
from fiable.ingest import document_key  # noqa: E402

_WH_LOWER = re.compile(r"^(What|Who|Whom|Whose|When|Where|Which|Why|How|Quel|Quelle|Quels|"
                       r"Quelles|Qui|Quand|Où|Pourquoi|Comment|Combien|Que|Is it true)\b")


def as_question(q: Question) -> str:
    text = q.text.strip().rstrip(" ?.")
    if q.dataset == "scifact":  # claims become yes/no questions
        return f"Is it true that {text[0].lower() + text[1:]}"
    return text


def compound(a: Question, b: Question, i: int) -> str | None:
    qa, qb = as_question(a), as_question(b)
    if i % 2 == 0:
        return f"{qa}? {qb}?"
    if not _WH_LOWER.match(qb):
        return None
    joiner = "et" if a.dataset == "piaf" else "and"
    return f"{qa} {joiner} {qb[0].lower() + qb[1:]}?"


def _norm(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def same_part(found: str, gold: str) -> bool:
    f, g = _norm(found), _norm(gold)
    return len(f & g) / max(len(f | g), 1) >= 0.8


def ranked_docs(hits: list) -> list[str]:
    return list(dict.fromkeys(document_key(h.chunk.source) for h in hits))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--singles", type=int, default=100, help="questions per data set")
    ap.add_argument("--compounds", type=int, default=12)
    ap.add_argument("--model-split", type=int, default=9,
                    help="compounds and single questions for the forced generator split")
    ap.add_argument("--workspace", type=Path, default=CACHE)
    ap.add_argument("--ort-no-spinning", action="store_true",
                    help="open the ONNX embedder with session.intra_op.allow_spinning=0 (its "
                    "idle threads otherwise spin for a while after each query, slowing what "
                    "runs right after: the gate)")
    a = ap.parse_args()
    if a.ort_no_spinning:
        import onnxruntime as ort

        plain_options = ort.SessionOptions

        def no_spinning() -> ort.SessionOptions:
            options = plain_options()
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return options

        ort.SessionOptions = no_spinning  # type: ignore[misc]
        print("ONNX embedder: intra-op thread spinning off\n")
    print(f"# experts benchmark\n\nmachine: {machine()}\n")
    t0 = time.perf_counter()
    build(a.workspace)
    print(f"workspace ready in {time.perf_counter() - t0:.1f} s ({a.workspace})", file=sys.stderr)
    _, questions = load()
    # threads=1: llama.cpp's threads stall each other on a machine shared with other work
    # (MODELS.md); max_answer_tokens=160 for both modes to bound the run (answers are short)
    with Workspace.open(a.workspace, log_asks=False, threads=1, max_answer_tokens=160,
                        experts_budget=600.0) as ws:
        for name, (collection, description) in EXPERTS.items():
            ws.add_expert(Expert(name, description, (collection,)))
        expert_of = {c: n for n, (c, _) in EXPERTS.items()}
        counts = {c.name: (c.documents, c.chunks) for c in ws.collections()}
        print("collections: " + ", ".join(f"{k} {d:,} documents / {n:,} chunks"
                                          for k, (d, n) in sorted(counts.items())) + "\n")
        t0 = time.perf_counter()
        ws.route("warm up")  # builds the collection summaries
        print(f"collection summaries built in {time.perf_counter() - t0:.2f} s (cold)\n")

        # 1 + 2: single questions
        singles = {d: sample(qs, a.singles) for d, qs in questions.items()}
        rows, rrows = [], []
        gate_ms: list[float] = []
        embed_ms: list[float] = []
        for dataset, qs in singles.items():
            top1 = top2 = base1 = base2 = 0
            nd = {"routed": [], "merged": [], "gold": []}
            rc = {"routed": [], "merged": [], "gold": []}
            for q in qs:
                t = time.perf_counter()
                vector = ws.embedder.embed_query(q.text)
                embed_ms.append((time.perf_counter() - t) * 1000)
                gate = ws.experts_runtime().gate.route(
                    q.text, ws.experts(), vector=vector, top_k=ws.settings.experts_top_k,
                    temperature=ws.settings.experts_temperature,
                    threshold=ws.settings.experts_threshold,
                    min_score=ws.settings.experts_min_score)
                gate_ms.append(gate.seconds * 1000)
                order = sorted(gate.scores, key=lambda n: -gate.scores[n])
                gold = expert_of[dataset]
                top1 += bool(gate.chosen) and gate.chosen[0] == gold
                top2 += gold in order[:2]
                merged = ws.search(q.text, k=10)
                cols = list(dict.fromkeys(h.chunk.collection for h in merged))
                base1 += bool(cols) and cols[0] == dataset
                base2 += dataset in cols[:2]
                routed = ws.search(q.text, k=10, collections=list(gate.collections)
                                   if gate.collections else None)
                own = ws.search(q.text, k=10, collections=[dataset])
                for key, hits in (("routed", routed), ("merged", merged), ("gold", own)):
                    docs = ranked_docs(hits)
                    nd[key].append(ndcg_at_k(docs, q.relevant, 10))
                    rc[key].append(recall_at_k(docs, q.relevant, 10))
            n = len(qs)
            rows.append([dataset, n, f"{top1 / n:.3f}", f"{top2 / n:.3f}", f"{base1 / n:.3f}",
                         f"{base2 / n:.3f}"])
            rrows.append([dataset, n] + [f"{mean(nd[k]):.3f} / {mean(rc[k]):.3f}"
                                         for k in ("routed", "merged", "gold")])
        total = sum(len(v) for v in singles.values())
        print("## 1. Routing, single questions\n")
        print(table(rows, ["data set", "questions", "gate top-1", "gate top-2",
                           "merged top-1", "merged top-2"]))
        print(f"\nall {total}: gate top-1 {sum(float(r[2]) * r[1] for r in rows) / total:.3f}, "
              f"merged top-1 {sum(float(r[4]) * r[1] for r in rows) / total:.3f}")
        print(f"gate latency (warm, embedding excluded): p50 {percentile(gate_ms, 50):.2f} ms, "
              f"p95 {percentile(gate_ms, 95):.2f} ms; question embedding p50 "
              f"{percentile(embed_ms, 50):.2f} ms, p95 {percentile(embed_ms, 95):.2f} ms\n")
        print("## 2. Retrieval per data set, nDCG@10 / recall@10\n")
        print(table(rrows, ["data set", "questions", "routed", "one merged index",
                            "gold collection only"]))

        # 3: compounds
        rng = random.Random(11)
        pairs = [("scifact", "squad2"), ("squad2", "piaf"), ("piaf", "scifact"),
                 ("squad2", "scifact"), ("piaf", "squad2"), ("scifact", "piaf")]
        used = {d: {q.id for q in qs} for d, qs in singles.items()}
        pool = {d: [q for q in qs if q.id not in used[d]] for d, qs in questions.items()}
        compounds: list[tuple[str, Question, Question]] = []
        i = 0
        while len(compounds) < a.compounds:
            da, db = pairs[i % len(pairs)]
            qa, qb = rng.choice(pool[da]), rng.choice(pool[db])
            text = compound(qa, qb, len(compounds))
            i += 1
            if text is not None:
                compounds.append((text, qa, qb))
        split_ok = route_ok = parts_total = 0
        split_ms: list[float] = []
        f1_experts: list[float] = []
        f1_plain: list[float] = []
        has_experts: list[bool] = []
        has_plain: list[bool] = []
        abst_experts = abst_plain = 0
        t_experts: list[float] = []
        t_plain: list[float] = []
        for k, (text, qa, qb) in enumerate(compounds, start=1):
            s = split_heuristic(text)
            split_ms.append(s.seconds * 1000)
            golds = [as_question(qa), as_question(qb)]
            ok = len(s.parts) == 2 and all(same_part(f, g) for f, g in zip(s.parts, golds))
            split_ok += ok
            t = time.perf_counter()
            answer = ws.ask_experts(text)
            t_experts.append(time.perf_counter() - t)
            t = time.perf_counter()
            plain = ws.ask(text)
            t_plain.append(time.perf_counter() - t)
            for j, q in enumerate((qa, qb)):
                parts_total += 1
                part = answer.parts[j] if ok and j < len(answer.parts) else None
                route_ok += part is not None and part["expert"] == expert_of[q.dataset]
                if not q.answers:
                    continue
                ptext = part["text"] if part is not None else ""
                abst_experts += part is None or part["status"] in ("abstained", "timeout", "error")
                abst_plain += plain.abstained
                f1_experts.append(token_f1(ptext, q.answers))
                f1_plain.append(0.0 if plain.abstained else token_f1(
                    re.sub(r"\s*\[\d+\]", "", plain.text), q.answers))
                has_experts.append(answer_contains(ptext, q.answers))
                has_plain.append(not plain.abstained and answer_contains(plain.text, q.answers))
            print(f"compound {k}/{len(compounds)}: split {'ok' if ok else 'WRONG'}; "
                  f"{t_experts[-1]:.1f} s vs {t_plain[-1]:.1f} s", file=sys.stderr)
        n = len(compounds)
        scored = len(f1_experts)
        if n == 0:
            print("\nrerun: nice python benchmarks/experts.py " + " ".join(sys.argv[1:]))
            return
        print(f"\n## 3. Compound questions ({n}: two questions of different data sets)\n")
        print(f"split accuracy (heuristic): {split_ok}/{n} = {split_ok / n:.3f}; "
              f"split latency p50 {percentile(split_ms, 50):.3f} ms, "
              f"p95 {percentile(split_ms, 95):.3f} ms")
        print(f"routing accuracy per part: {route_ok}/{parts_total} = "
              f"{route_ok / parts_total:.3f}\n")
        print(table([
            ["ask --experts (split, routed)", scored, f"{mean(f1_experts):.3f}",
             f"{mean(has_experts):.3f}", abst_experts, f"{percentile(t_experts, 50):.1f}"],
            ["ask (compound unsplit, all collections)", scored, f"{mean(f1_plain):.3f}",
             f"{mean(has_plain):.3f}", abst_plain, f"{percentile(t_plain, 50):.1f}"],
        ], ["mode", "parts with gold answers", "token F1 per part", "gold in the answer",
            "parts abstained", "s per question p50"]))

        # 4: forced generator split
        m = min(a.model_split, len(compounds))
        gen = ws.generator
        ok_model = false_split = refused = 0
        model_ms: list[float] = []
        for text, qa, qb in compounds[:m]:
            t = time.perf_counter()
            try:
                parts = split_with_model(text, gen)
            except ValueError:
                parts = ()
                refused += 1
            model_ms.append((time.perf_counter() - t) * 1000)
            golds = [as_question(qa), as_question(qb)]
            ok_model += len(parts) == 2 and all(same_part(f, g) for f, g in zip(parts, golds))
        single_sample = [q for d in singles for q in singles[d][: max(1, m // 3)]]
        for q in single_sample:
            t = time.perf_counter()
            try:
                parts = split_with_model(as_question(q), gen)
            except ValueError:
                parts = ()
                refused += 1
            model_ms.append((time.perf_counter() - t) * 1000)
            false_split += len(parts) > 1
        heur_false = sum(len(split_heuristic(as_question(q)).parts) > 1
                         for d in singles for q in singles[d])
        print(f"\n## 4. Generator split (forced), {gen.model_id}\n")
        print(table([
            ["heuristic", f"{split_ok}/{n}", f"{heur_false}/{total}",
             f"{percentile(split_ms, 95):.3f}"],
            ["generator (JSON grammar)", f"{ok_model}/{m}", f"{false_split}/{len(single_sample)}",
             f"{percentile(model_ms, 95):.0f}"],
        ], ["split", "compounds split right", "single questions split (false)", "p95 ms"]))
        print(f"generator replies refused by the parser: {refused}")
    print("\nrerun: nice python benchmarks/experts.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
