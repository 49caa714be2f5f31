"""Mixture of experts at the application level: split a question into its asks, send each
to the experts (collections + settings) that know about it, answer the parts in parallel
and merge them into one cited answer (``docs/experts.md``)."""

from .config import Expert, read_experts, write_expert
from .gate import Gate, GateResult
from .merge import PartOutcome, merge_answers
from .run import ExpertsRuntime, ask_experts_events, route_question
from .split import Split, split_question

__all__ = ["Expert", "ExpertsRuntime", "Gate", "GateResult", "PartOutcome", "Split",
           "ask_experts_events", "merge_answers", "read_experts", "route_question",
           "split_question", "write_expert"]
