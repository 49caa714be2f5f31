"""Evaluation: data sets, metrics, runs stored in the workspace, reports and fusion tuning.

    from fiable import Workspace
    from fiable.evaluation import evaluate, load_dataset

    with Workspace.open("ws", create=True) as ws:
        run = evaluate(ws, load_dataset("data/scifact", split="test"))
        print(run.metrics["ndcg@10"])

The same from the command line: ``fiable eval data/scifact --fail-under ndcg@10=0.68``.
"""

from .datasets import CorpusDoc, Dataset, QAItem, Query, import_squad, load_dataset
from .report import check_gates, compare, history_html, parse_thresholds, to_json, to_markdown
from .runner import MODES, EvalRun, evaluate
from .sweep import GRID, SweepResult, sweep

__all__ = ["GRID", "MODES", "CorpusDoc", "Dataset", "EvalRun", "QAItem", "Query", "SweepResult",
           "check_gates", "compare", "evaluate", "history_html", "import_squad", "load_dataset",
           "parse_thresholds", "sweep", "to_json", "to_markdown"]
