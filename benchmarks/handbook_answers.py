"""Answer quality on the bundled handbook's 28 gold questions (23 answerable, 5 not).

Runs ``Workspace.ask`` end to end (retrieval, prompt, generation, citation mapping) and
prints, per configuration, side by side:

- answered: an answerable question whose answer contains a gold answer (normalised text);
- abstained: an unanswerable question answered "Not in the documents.";
- cited: share of answer sentences with at least one citation;
- citation precision: share of cited sources that are the question's gold document;
- flagged: right answers with a sentence the verifier labels unsupported (shown to the
  reader as "not supported by the sources"), and wrong answers flagged so;
- latency p50/p95 of the whole ask.

    python benchmarks/handbook_answers.py                        # default settings
    python benchmarks/handbook_answers.py --configs top_k=3 top_k=5 top_k=5,citation_markers=true
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, percentile, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.samples import handbook_dir, handbook_questions  # noqa: E402


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return re.sub(r"\s+", " ", re.sub(r"[^\w€ ]", " ", text)).strip()


def parse_config(spec: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in spec.split(",") if item)


def run(ws: Workspace) -> list[str]:
    answered = abstained = n_ans = n_unans = 0
    cited_sentences = sentences = 0
    good_cites = cites = 0
    right_flagged = wrong_flagged = wrong = 0
    latencies = []
    for q in handbook_questions():
        a = ws.ask(q["question"])
        latencies.append(a.timings["total"])
        if q["answerable"]:
            n_ans += 1
            right = (not a.abstained) and any(norm(g) in norm(a.text) for g in q["answers"])
            answered += right
            if not a.abstained:
                flagged = any(s.label == "unsupported" for s in a.sentences)
                right_flagged += right and flagged
                wrong += not right
                wrong_flagged += (not right) and flagged
                sentences += len(a.sentences)
                cited_sentences += sum(1 for s in a.sentences if s.citations)
                for src in a.cited_sources:
                    cites += 1
                    good_cites += Path(src.source).name == q["source"]
        else:
            n_unans += 1
            abstained += a.abstained
    return [f"{answered}/{n_ans}", f"{abstained}/{n_unans}",
            f"{cited_sentences / max(sentences, 1):.0%}", f"{good_cites / max(cites, 1):.0%}",
            f"{right_flagged}/{answered}", f"{wrong_flagged}/{wrong}",
            f"{percentile(latencies, 50):.1f}", f"{percentile(latencies, 95):.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default="qwen2.5-coder-0.5b")
    parser.add_argument("--configs", nargs="*", default=[""],
                        help="settings overrides, e.g. top_k=5,citation_markers=true")
    args = parser.parse_args()
    print(f"# handbook answers, generator {args.generator}\nmachine: {machine()}\n"
          f"rerun: python benchmarks/handbook_answers.py {' '.join(sys.argv[1:])}")
    tmp = Path(tempfile.mkdtemp(prefix="fiable-hb-"))
    rows = []
    try:
        for spec in args.configs:
            ws = Workspace.open(tmp / "ws", create=True, generator=args.generator, log_asks=False,
                                **parse_config(spec))
            ws.ingest([handbook_dir()])
            rows.append([spec or "defaults", *run(ws)])
            ws.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(table(rows, ["settings", "answered", "abstained", "cited sentences",
                       "citation precision", "right answers flagged",
                       "wrong answers flagged", "p50 s", "p95 s"]))


if __name__ == "__main__":
    main()
