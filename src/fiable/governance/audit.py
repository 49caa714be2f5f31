"""The audit trail: one hash-chained record per answer and per administrative act.

Records are appended by the store (``append_audit``: sealed after the head in one
transaction, see :mod:`fiable.governance.chain`). This module builds what goes in them,
checks the chain (:func:`verify`), writes it out for auditors (:func:`export`) and applies
retention (:func:`prune`), which leaves a checkpoint so the rest still verifies.

Actions: ``answer``, ``ingest``, ``delete``, ``access`` (rights changes), ``erase``,
``settings`` (a changed ``fiable.toml``, seen when a workspace opens), ``keys``, ``audit``
(retention itself).

An answer's record holds who, when, the question (as logged: PII-masked per ``pii_logs``),
the source chunk ids with their content hashes, the model ids with their file hashes, the
prompt template version, the answer, each sentence's support, and the decision. The
question and answer texts sit in the erasable ``content`` part, everything else in the
chained ``payload``.

A chain proves that no record was edited, removed or moved *before the head*; cutting
records off the end leaves a shorter valid chain, so :func:`verify` reports the head
(``seq`` and hash) to keep outside the workspace, and ``expect_head`` checks it later.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..errors import UserError
from .chain import GENESIS, canonical, content_digest, record_hash

__all__ = ["AuditReport", "answer_entry", "export", "iter_records", "prune", "verify",
           "verify_rows"]

logger = logging.getLogger(__name__)

_BATCH = 2000


@dataclass
class AuditReport:
    """What :func:`verify` found."""

    records: int = 0
    first_seq: int | None = None
    head_seq: int | None = None
    head_hash: str | None = None
    erased: int = 0
    checkpoint: dict[str, Any] | None = None
    problem: str | None = None
    bad_seq: int | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "first_seq": self.first_seq,
                "head_seq": self.head_seq, "head_hash": self.head_hash, "erased": self.erased,
                "checkpoint": self.checkpoint, "problem": self.problem, "bad_seq": self.bad_seq,
                "seconds": round(self.seconds, 3)}


def iter_records(store: Any, *, until_seq: int | None = None, since: str | None = None,
                 until: str | None = None) -> Iterator[dict[str, Any]]:
    """Every audit record in chain order, read in batches of consecutive numbers, so that
    records appended during the walk only extend it (they are sealed after the head)."""
    after = 0
    while True:
        rows = store.audit_records(after, _BATCH, until_seq=until_seq, since=since, until=until)
        if not rows:
            return
        yield from rows
        after = int(rows[-1]["seq"])


def verify_rows(rows: Iterable[Mapping[str, Any]], *, start_seq: int = 0,
                start_hash: str = GENESIS, report: AuditReport | None = None) -> AuditReport:
    """Check a chain of rows in order, starting after ``(start_seq, start_hash)``: each
    record's hash, its link to the one before, consecutive numbers, and its content digest.
    Stops at the first bad record and names it."""
    report = report or AuditReport()
    prev_seq, prev_hash = start_seq, start_hash
    for row in rows:
        seq = int(row["seq"])
        report.records += 1
        if report.first_seq is None:
            report.first_seq = seq
        problem = None
        if seq != prev_seq + 1:
            problem = (f"record {seq} follows record {prev_seq}: "
                       f"{'records are missing' if seq > prev_seq + 1 else 'records are out of order'}")
        elif row["prev"] != prev_hash:
            problem = f"record {seq} does not link to the record before it (moved or replaced)"
        elif record_hash(row["prev"], seq, row["at"], row["actor"], row["action"],
                         row["payload"]) != row["hash"]:
            problem = f"record {seq} was modified after it was written (hash mismatch)"
        else:
            content = row.get("content")
            if content is None:
                report.erased += 1 if '"content_digest"' in row["payload"] else 0
            else:
                digest = json.loads(row["payload"]).get("content_digest")
                if digest != content_digest(content):
                    problem = f"record {seq}: its question/answer text was modified"
        if problem:
            report.problem, report.bad_seq = problem, seq
            return report
        prev_seq, prev_hash = seq, row["hash"]
    if report.records:
        report.head_seq, report.head_hash = prev_seq, prev_hash
    return report


def verify(store: Any, *, expect_head: str | None = None) -> AuditReport:
    """Verify the whole trail of ``store`` (see module docstring). ``expect_head``:
    ``"SEQ:HASH"`` noted from an earlier verification; a trail whose record SEQ is gone or
    differs has been cut or rewritten."""
    started = time.perf_counter()
    checkpoints = store.audit_checkpoints()
    start_seq, start_hash = 0, GENESIS
    report = AuditReport()
    if checkpoints:
        last = checkpoints[-1]
        start_seq, start_hash = int(last["seq"]), last["hash"]
        report.checkpoint = {"seq": start_seq, "hash": start_hash, "at": last["at"],
                             "pruned": int(last["pruned"])}
    verify_rows(iter_records(store), start_seq=start_seq, start_hash=start_hash, report=report)
    if report.ok and report.records == 0 and checkpoints:
        report.head_seq, report.head_hash = start_seq, start_hash
    if report.ok and expect_head:
        _check_head(store, report, expect_head, start_seq)
    report.seconds = time.perf_counter() - started
    log = logger.info if report.ok else logger.error
    log("audit verified", extra=report.to_dict())
    return report


def _check_head(store: Any, report: AuditReport, expect_head: str, start_seq: int) -> None:
    seq_text, _, hash_ = expect_head.partition(":")
    if not seq_text.isdigit() or len(hash_) != 64:
        raise UserError(f"--head {expect_head!r} is not SEQ:HASH",
                        hint="pass the head printed by an earlier `fiable audit verify`")
    seq = int(seq_text)
    if seq <= start_seq:
        return  # pruned by retention since: the checkpoint vouches for it
    rows = store.audit_records(seq - 1, 1)
    if not rows or int(rows[0]["seq"]) != seq:
        report.problem, report.bad_seq = (f"record {seq}, the head noted earlier, is gone: "
                                          "records were cut off the end"), seq
    elif rows[0]["hash"] != hash_:
        report.problem, report.bad_seq = (f"record {seq} differs from the head noted earlier: "
                                          "the trail was rewritten"), seq


def export(store: Any, out: Path, *, since: str | None = None, until: str | None = None) -> int:
    """Write the records between ``since`` and ``until`` (ISO dates or times; ``until``
    excluded) as JSONL, each with its chain fields, so an auditor can re-check the slice
    (``verify_rows`` from the first record's ``prev``). Returns the number written."""
    count = 0
    tmp = out.with_name(out.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for row in iter_records(store, since=since, until=until):
                record = {k: row[k] for k in ("seq", "at", "actor", "action", "prev", "hash")}
                record["payload"] = row["payload"]  # the exact hashed text
                record["content"] = row["content"]
                f.write(canonical(record) + "\n")
                count += 1
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write the audit export to {out}: {exc.strerror or exc}",
                        hint="give a file path in a folder that exists and is writable") from None
    return count


def prune(store: Any, *, retention_days: int, actor: str, now: datetime | None = None) -> int:
    """Delete records older than ``retention_days`` (0: keep everything), leaving a
    checkpoint; the pruning itself is recorded. Returns the number deleted."""
    if retention_days <= 0:
        return 0
    cutoff = ((now or datetime.now(timezone.utc)) - timedelta(days=retention_days)).isoformat(
        timespec="microseconds")
    deleted = store.prune_audit(cutoff)
    if deleted:
        store.append_audit(actor, "audit", {"retention": {"deleted": deleted, "before": cutoff,
                                                          "days": retention_days}})
    return deleted


def answer_entry(record: Mapping[str, Any], model_files: Mapping[str, str | None]
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(payload, content) of the audit record of one answer, from its ask-log ``record``
    (already PII-masked per ``pii_logs``) and the sha256 of the model files in use."""
    answer = record.get("answer") or {}
    sentences = answer.get("sentences") or []
    payload = {
        "trace_id": record.get("trace_id"),
        "collections": sorted({s.get("collection") for s in answer.get("sources") or ()
                               if s.get("collection")}),
        "sources": [{"chunk_id": s.get("chunk_id"), "content_hash": s.get("content_hash"),
                     "source": s.get("source")} for s in answer.get("sources") or ()],
        "models": {"generator": answer.get("generator_model"),
                   "embedder": answer.get("embedder_model"),
                   "files": dict(model_files)},
        "prompt_version": answer.get("prompt_version"),
        "support": answer.get("support"),
        "sentence_support": [s.get("support") for s in sentences],
        "decision": "abstained" if answer.get("abstained") else "answered",
        "reason": answer.get("abstain_reason"),
        "ai_generated": answer.get("generator_model") is not None,
    }
    # the trace id is repeated in the erasable part so that erasure finds the record by it
    content = {"trace_id": record.get("trace_id"), "question": record.get("question"),
               "answer": answer.get("text")}
    return payload, content
