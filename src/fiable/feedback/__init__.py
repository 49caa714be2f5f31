"""Feedback as preference data: capture (``records``), pairs and labels (``pairs``), export
(``export``). Human and AI labels flow through the same records (``source``: human | ai;
AI ones name their ``judge`` and give a ``confidence``)."""

from __future__ import annotations

from .export import ExportOptions, ExportReport, export
from .pairs import Pair, approved, load, pairs
from .records import KINDS, Captured, capture, normalise

__all__ = ["KINDS", "Captured", "ExportOptions", "ExportReport", "Pair", "approved", "capture",
           "export", "load", "normalise", "pairs"]
