"""Close the loop without GPUs: tune a collection's retrieval fusion and abstention
thresholds from the feedback people gave on its answers (``fiable feedback tune``).

Feedback becomes judgements, one per rated answer (the ask log holds its question, the
passages shown with their ids, the best passage similarity ``relevance`` and the answer's
``support``):

- a thumbs-up, or being the chosen answer of a pairwise choice: the answer was right
  (an answer: *answer*; an abstention: *abstain* was right);
- a thumbs-down, a correction, or being the rejected answer: it was wrong (an answer:
  abstaining would have been better than a wrong answer; an abstention: it should have
  answered);
- positive passages: the passages a right answer cited, and the candidate passages that
  contain a correction's text (whole words, normalised).

An answer with both a right and a wrong human label is contradictory and left out. AI labels
(``fiable feedback judge``) count only with ``include_ai``.

Each judgement goes to the *tune* part or the *held-out* part by a hash of its question
(the same question always lands in the same part). On the tune part:

- **fusion**: every setting of :data:`fiable.evaluation.sweep.GRID` re-ranks each question's
  BM25 and dense candidates (fetched once, as ``fiable eval --sweep`` does); the score is
  the mean reciprocal rank of the first positive passage (MRR@10);
- **abstention**: every ``(min_relevance, support_threshold)`` pair of the calibration grid
  decides, from the logged relevance and support, whether each answer would have been
  given; the score is the agreement with the judgements. An answer gated before generation
  has no support: answered under a lower ``min_relevance`` it counts as passing the support
  check. The model's own "Not in the documents." stays an abstention.

A setting is proposed only when it scores better than the current one on the tune part;
the before/after on the held-out part (and on an evaluation set, when given) is what the
change is expected to do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from ..errors import UserError
from ..evaluation import metrics as m
from ..evaluation.calibrate import RELEVANCE_GRID, SUPPORT_GRID
from ..evaluation.sweep import GRID, fusion_of
from ..retrieval import fuse
from ..settings import SETTINGS_FILE, read_collection_settings, write_collection_settings
from .records import normalised_question

if TYPE_CHECKING:
    from ..evaluation.datasets import Dataset
    from ..workspace import Workspace

__all__ = ["MIN_JUDGEMENTS", "MIN_RANKED", "Judgement", "NotEnoughFeedbackError", "PartScore",
           "TuneResult", "abstains", "agreement", "judgements", "tune"]

logger = logging.getLogger(__name__)

MIN_JUDGEMENTS = 20   # rated answers of the collection, to tune the abstention thresholds
MIN_RANKED = 10       # questions with a positive passage, to tune the fusion
HOLDOUT = 0.3         # share of questions held out to measure the change
KEEP_RIGHT = 0.8      # proposed thresholds must still answer this share of the answers
                      # the current ones answer and people rated right
MRR_K = 10
_FEEDBACK_SCAN = 100_000


class NotEnoughFeedbackError(UserError):
    code = "not_enough_feedback"


@dataclass(frozen=True, slots=True)
class Judgement:
    """One rated answer of the ask log, as the tuner sees it."""

    trace_id: str
    question: str
    good: bool                   # the answer (or abstention) was right
    abstained: bool
    fixed_abstention: bool       # abstained for a reason no threshold changes
    relevance: float | None
    support: float | None
    positives: tuple[int, ...]   # chunk ids of passages a right answer cited
    correction: str | None
    held_out: bool

    @property
    def wants_abstention(self) -> bool:
        """Whether "Not in the documents." was the right reply, by this judgement."""
        return self.abstained == self.good


def abstains(j: Judgement, min_relevance: float, support_threshold: float) -> bool:
    """Whether the answer would be an abstention under these thresholds
    (``support_threshold`` 0: support is not checked, as with ``verify = flag``)."""
    if j.fixed_abstention or j.relevance is None or j.relevance < min_relevance:
        return True
    return support_threshold > 0 and j.support is not None and j.support < support_threshold


def agreement(items: Sequence[Judgement], min_relevance: float, support_threshold: float
              ) -> float:
    """Share of judgements whose wanted reply (answer / abstain) the thresholds give."""
    if not items:
        return float("nan")
    return m.mean(float(abstains(j, min_relevance, support_threshold) == j.wants_abstention)
                  for j in items)


@dataclass(frozen=True, slots=True)
class PartScore:
    """One tuned aspect: its metric before (current) and after (proposed), per part."""

    metric: str
    current: dict[str, Any]
    proposed: dict[str, Any]
    tune_n: int
    held_out_n: int
    tune_before: float
    tune_after: float
    held_out_before: float
    held_out_after: float

    @property
    def changed(self) -> bool:
        return self.proposed != self.current


@dataclass(slots=True)
class TuneResult:
    collection: str
    changes: dict[str, Any]
    current: dict[str, Any]
    judged: int
    skipped: dict[str, int]
    fusion: PartScore | None = None
    abstention: PartScore | None = None
    evaluation: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    written: str | None = None
    run_id: int | None = None


def _held_out(question: str, fraction: float) -> bool:
    digest = hashlib.sha256(f"tune:{normalised_question(question)}".encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF < fraction


def _labels(rows: Iterable[Mapping[str, Any]], include_ai: bool
            ) -> tuple[dict[str, set[bool]], dict[str, str]]:
    """trace id -> the labels it got (True: right), and trace id -> its latest correction."""
    labels: dict[str, set[bool]] = {}
    corrections: dict[str, str] = {}
    for r in rows:
        if (r.get("source") or "human") == "ai" and not include_ai:
            continue
        if r.get("flagged"):
            continue  # a correction that reads like instructions to a model
        kind = r.get("kind")
        if kind == "pairwise":
            labels.setdefault(str(r["chosen_trace_id"]), set()).add(True)
            labels.setdefault(str(r["rejected_trace_id"]), set()).add(False)
            continue
        trace = str(r.get("trace_id"))
        if r.get("rating") in ("up", "down"):
            labels.setdefault(trace, set()).add(r["rating"] == "up")
        if r.get("correction"):
            labels.setdefault(trace, set()).add(False)
            corrections.setdefault(trace, str(r["correction"]))  # rows come newest first
    return labels, corrections


def _collection_of(answer: Mapping[str, Any]) -> str | None:
    names = {s.get("collection") for s in answer.get("sources") or ()}
    return names.pop() if len(names) == 1 else None


def _gated(answer: Mapping[str, Any], settings: Mapping[str, Any]) -> bool:
    """Whether an abstention came from a threshold (``min_relevance`` before generation,
    ``support_threshold`` after), judged from the settings it was answered with."""
    relevance, support = answer.get("relevance"), answer.get("support")
    if relevance is not None and relevance < float(settings.get("min_relevance", 0.0)):
        return True
    return (settings.get("verify") == "abstain" and support is not None
            and support < float(settings.get("support_threshold", 0.0)))


def judgements(store: Any, collection: str, *, include_ai: bool = False,
               holdout: float = HOLDOUT) -> tuple[list[Judgement], dict[str, int]]:
    """The judgements of ``collection``'s answers, and why other labelled answers were left
    out (``contradictory``, ``not in the ask log``, ``other collection``)."""
    labels, corrections = _labels(store.feedback(_FEEDBACK_SCAN), include_ai)
    out: list[Judgement] = []
    skipped: dict[str, int] = {}

    def skip(why: str) -> None:
        skipped[why] = skipped.get(why, 0) + 1

    for trace_id, got in labels.items():
        if len(got) != 1:
            skip("contradictory")
            continue
        found = store.asks(1, trace_id)
        if not found:
            skip("not in the ask log")
            continue
        answer = found[0].get("answer") or {}
        if _collection_of(answer) != collection:
            skip("other collection")
            continue
        good = next(iter(got))
        abstained = bool(answer.get("abstained"))
        numbers = set(answer.get("cited_sources") or ())
        positives = tuple(int(s["chunk_id"]) for s in answer.get("sources") or ()
                          if s.get("number") in numbers and s.get("chunk_id") is not None) \
            if good and not abstained else ()
        question = str(found[0].get("question") or answer.get("question") or "")
        out.append(Judgement(
            trace_id=trace_id, question=question, good=good, abstained=abstained,
            fixed_abstention=abstained and not _gated(answer, found[0].get("settings") or {}),
            relevance=answer.get("relevance"), support=answer.get("support"),
            positives=positives, correction=corrections.get(trace_id),
            held_out=_held_out(question, holdout)))
    out.sort(key=lambda j: j.trace_id)
    return out, skipped


def _thresholds_of(settings: Any) -> dict[str, Any]:
    return {"min_relevance": settings.min_relevance,
            "support_threshold": settings.support_threshold if settings.verify == "abstain"
            else 0.0}


@dataclass(frozen=True, slots=True)
class _Ranked:
    lexical: list[tuple[int, float]]
    dense: list[tuple[int, float]]
    positives: frozenset[int]
    held_out: bool


def _ranked(ws: "Workspace", items: Sequence[Judgement], collection: str, candidates: int,
            progress: Callable[[str, int, int], None] | None) -> list[_Ranked]:
    """Each judged question's candidates, with its positive passages among them."""
    from ..evaluation.runner import fetch_candidates

    out: list[_Ranked] = []
    settings = ws.settings_for([collection])
    useful = [j for j in items if j.positives or j.correction]
    for i, j in enumerate(useful, start=1):
        found = fetch_candidates(ws, j.question, collection, candidates,
                                 query_pool=settings.query_pool,  # type: ignore[arg-type]
                                 query_terms=settings.query_terms)
        positives = set(j.positives)
        if j.correction:
            ids = sorted({cid for cid, _ in (*found.lexical, *found.dense)})
            positives |= {c.id for c in ws.store.chunks(ids)
                          if m.answer_contains(c.text, [j.correction])}
        if positives:
            out.append(_Ranked(found.lexical, found.dense, frozenset(positives), j.held_out))
        if progress:
            progress("question", i, len(useful))
    return out


def _mrr(items: Sequence[_Ranked], setting: Mapping[str, Any]) -> float:
    if not items:
        return float("nan")
    values = []
    for r in items:
        fused = fuse(r.lexical, r.dense, method=setting["fusion"],
                     rrf_k=setting.get("rrf_k", 60), dense_weight=setting.get("dense_weight", 0.5))
        ranked = [str(cid) for cid, _ in fused]
        values.append(m.reciprocal_rank(ranked, {str(c): 1 for c in r.positives}, MRR_K))
    return round(m.mean(values), 4)


def _tune_fusion(ranked: list[_Ranked], current: dict[str, Any]) -> PartScore:
    tune_part = [r for r in ranked if not r.held_out]
    held = [r for r in ranked if r.held_out]
    before = _mrr(tune_part, current)
    best, best_score = current, before
    for setting in GRID:
        score = _mrr(tune_part, setting)
        if score > best_score:
            best, best_score = dict(setting), score
    return PartScore(f"mrr@{MRR_K}", current, best, len(tune_part), len(held), before,
                     best_score, _mrr(held, current), _mrr(held, best))


def kept_right(items: Sequence[Judgement], min_relevance: float,
               support_threshold: float) -> float:
    """Share of the answers people rated right that these thresholds still answer."""
    right = [j for j in items if not j.wants_abstention]
    if not right:
        return 1.0
    return m.mean(float(not abstains(j, min_relevance, support_threshold)) for j in right)


def _tune_thresholds(items: list[Judgement], current: dict[str, Any],
                     keep_right: float = KEEP_RIGHT) -> PartScore:
    """The pair with the best agreement on the tune part among those that still answer
    ``keep_right`` of what the current pair answers and people rated right (a guard: when
    most answers are rated wrong, agreement alone would abstain on nearly everything)."""
    tune_part = [j for j in items if not j.held_out]
    held = [j for j in items if j.held_out]
    r0, s0 = current["min_relevance"], current["support_threshold"]
    before = round(agreement(tune_part, r0, s0), 4)
    floor = keep_right * kept_right(tune_part, r0, s0)
    best, best_score = current, before
    for r in RELEVANCE_GRID:  # ties keep the current pair, then the lower thresholds
        for s in SUPPORT_GRID:
            if kept_right(tune_part, r, s) < floor:
                continue
            score = round(agreement(tune_part, r, s), 4)
            if score > best_score:
                best, best_score = {"min_relevance": r, "support_threshold": s}, score
    return PartScore("agreement", current, best, len(tune_part), len(held), before,
                     best_score, round(agreement(held, r0, s0), 4),
                     round(agreement(held, best["min_relevance"], best["support_threshold"]), 4))


def gate_held_out(result: "TuneResult") -> None:
    """A regression gate: a change better on the tune part but worse on the held-out part
    is overfitting the feedback; it is withdrawn (the current setting stays) with a note."""
    for name in ("fusion", "abstention"):
        part = getattr(result, name)
        if part is not None and part.changed and part.held_out_n \
                and part.held_out_after < part.held_out_before:
            result.notes.append(
                f"{name} not proposed: better on the tune part ({part.tune_before:.3f} -> "
                f"{part.tune_after:.3f}) but worse on the held-out part "
                f"({part.held_out_before:.3f} -> {part.held_out_after:.3f})")
            setattr(result, name, dataclasses.replace(part, proposed=part.current))


def _settings_change(settings: Any, fusion: PartScore | None,
                     abstention: PartScore | None) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if fusion is not None and fusion.changed:
        changes.update(fusion.proposed)
    if abstention is not None and abstention.changed:
        t = abstention.proposed
        changes["min_relevance"] = t["min_relevance"]
        if t["support_threshold"] > 0:
            changes.update(verify="abstain", support_threshold=t["support_threshold"])
        elif settings.verify == "abstain":
            changes["verify"] = "flag"
    return {k: v for k, v in changes.items() if getattr(settings, k) != v}


def _too_little(collection: str, items: Sequence[Judgement], ranked_n: int) -> UserError:
    return NotEnoughFeedbackError(
        f"not enough feedback to tune collection {collection!r}: {len(items)} rated answers "
        f"(the abstention thresholds need at least {MIN_JUDGEMENTS}, some right and some "
        f"wrong) and {ranked_n} questions with a passage known to be relevant (the fusion "
        f"needs at least {MIN_RANKED})",
        hint="rate more of its answers: fiable feedback add TRACE_ID --up | --down "
             "[--correction TEXT]")


_THRESHOLD_SETTINGS = frozenset({"min_relevance", "support_threshold", "verify"})


def _evaluate(ws: "Workspace", dataset: "Dataset", collection: str, settings: Any,
              changes: dict[str, Any], progress: Callable[[str, int, int], None] | None
              ) -> dict[str, Any]:
    """The evaluation metrics of the current and the proposed settings, nothing stored.

    When only the abstention thresholds change on a QA set, the questions are asked once
    with ``min_relevance = 0`` and ``verify = flag`` and both threshold pairs are applied
    to the same relevance and support (:func:`fiable.evaluation.calibrate.outcome`; at
    temperature 0 the same prompt gives the same answer); otherwise the set is asked with
    each. The set is asked against the collection as it is: a corpus beside it is not
    ingested (that would add the evaluation's documents to the tuned collection)."""
    import dataclasses

    from ..evaluation.calibrate import outcome
    from ..evaluation.runner import evaluate

    dataset = dataclasses.replace(dataset, corpus_path=None)
    summary = {"dataset": dataset.name, "split": dataset.split, "items": len(dataset)}
    if dataset.kind == "qa" and changes and set(changes) <= _THRESHOLD_SETTINGS:
        # the classifier only scores in this pass (threshold 0); its threshold, unchanged
        # by tuning, is applied to both pairs
        run = evaluate(ws, dataset, collection=collection, store=False, progress=progress,
                       overrides={"min_relevance": 0.0, "verify": "flag",
                                  "answerability_threshold": 0.0})
        gate = settings.answerability_threshold if settings.answerability != "off" else 0.0
        verify = changes.get("verify", settings.verify)
        after_support = changes.get("support_threshold", settings.support_threshold) \
            if verify == "abstain" else 0.0
        now = _thresholds_of(settings)
        return {**summary, "method": "one pass, both threshold pairs applied",
                "before": outcome(run.items, now["min_relevance"], now["support_threshold"],
                                  gate),
                "after": outcome(run.items, changes.get("min_relevance", settings.min_relevance),
                                 after_support, gate)}
    before = evaluate(ws, dataset, collection=collection, store=False, progress=progress)
    after = evaluate(ws, dataset, collection=collection, store=False, progress=progress,
                     overrides=changes) if changes else before
    return {**summary, "method": "asked with each", "before": before.metrics,
            "after": after.metrics}


def tune(
    ws: "Workspace",
    collection: str,
    *,
    dry_run: bool = True,
    dataset: "Dataset | None" = None,
    include_ai: bool = False,
    holdout: float = HOLDOUT,
    keep_right: float = KEEP_RIGHT,
    progress: Callable[[str, int, int], None] | None = None,
) -> TuneResult:
    """Propose the collection's fusion and abstention settings from its feedback; report
    their effect on the held-out feedback (and on ``dataset``); write them unless
    ``dry_run``. ``keep_right``: the share of the answers rated right (and answered now)
    that proposed thresholds must still answer (0 disables the guard). Raises
    :class:`NotEnoughFeedbackError` when neither can be tuned."""
    if not 0.0 < holdout < 1.0:
        raise UserError(f"holdout must be between 0 and 1, not {holdout}", hint="e.g. 0.3")
    ws.store.require_collections([collection])
    settings = ws.settings_for([collection])
    items, skipped = judgements(ws.store, collection, include_ai=include_ai, holdout=holdout)
    ranked = _ranked(ws, items, collection, settings.candidates, progress)
    wants = {j.wants_abstention for j in items}
    can_thresholds = len(items) >= MIN_JUDGEMENTS and len(wants) == 2
    can_fusion = len(ranked) >= MIN_RANKED
    if not (can_thresholds or can_fusion):
        raise _too_little(collection, items, len(ranked))
    current = {**fusion_of(settings), **_thresholds_of(settings)}
    result = TuneResult(collection, {}, current, len(items), skipped)
    if can_fusion:
        result.fusion = _tune_fusion(ranked, fusion_of(settings))
    else:
        result.notes.append(f"fusion not tuned: {len(ranked)} questions with a relevant "
                            f"passage, {MIN_RANKED} needed")
    if can_thresholds:
        result.abstention = _tune_thresholds(items, _thresholds_of(settings), keep_right)
    else:
        result.notes.append(f"abstention not tuned: {len(items)} rated answers "
                            f"({MIN_JUDGEMENTS} needed, with right and wrong ones)")
    gate_held_out(result)
    result.changes = _settings_change(settings, result.fusion, result.abstention)
    if not result.changes:
        result.notes.append("no change: no setting does better than the current one on the "
                            "tune part of the feedback")
    if dataset is not None:
        result.evaluation = _evaluate(ws, dataset, collection, settings, result.changes,
                                      progress)
    if dry_run or not result.changes:
        return result
    _write(ws, result, settings)
    return result


def _write(ws: "Workspace", result: TuneResult, settings: Any) -> None:
    """Write the changes into the collection's table (its other values kept) and record
    the change as a stored run (``fiable eval runs``)."""
    tables = read_collection_settings(ws.path / SETTINGS_FILE)
    values = {**tables.get(result.collection, {}), **result.changes}
    today = datetime.now(timezone.utc).date().isoformat()
    lines = [f"tuned by `fiable feedback tune` from {result.judged} rated answers, {today}:"]
    for part in (result.fusion, result.abstention):
        if part is not None and part.changed:
            lines.append(f"{part.metric} on held-out feedback {part.held_out_before:.3f} -> "
                         f"{part.held_out_after:.3f} ({part.held_out_n} items)")
    result.written = str(write_collection_settings(ws.path, result.collection, values,
                                                   comment="\n".join(lines)))
    ws.reload_collection_settings()
    metrics: dict[str, float] = {}
    for name, part in (("fusion", result.fusion), ("abstention", result.abstention)):
        if part is not None:
            metrics.update({f"{name}.held_out_before": part.held_out_before,
                            f"{name}.held_out_after": part.held_out_after})
    summary = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "label": "feedback tune", "dataset": "feedback", "dataset_path": "",
        "dataset_fingerprint": "", "kind": "feedback-tune", "split": "held-out",
        "collection": result.collection, "items": result.judged, "k": MRR_K,
        "metrics": {k: (None if v != v else v) for k, v in metrics.items()},
        "best": result.changes, "current": result.current, "written": result.written,
        "evaluation": result.evaluation, "settings": settings.redacted(),
        "models": {"embedder": {"model_id": ws.embedder.model_id}}, "latency": {},
        "seconds": 0.0,
    }
    result.run_id = ws.store.save_eval_run(summary, [])
    logger.info("collection settings tuned from feedback",
                extra={"collection": result.collection, "changes": result.changes,
                       "run_id": result.run_id, "path": result.written})
