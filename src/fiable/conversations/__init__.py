"""Conversations: follow-up questions made standalone (:mod:`.followup`) and threads kept
per owner in the store (:mod:`.threads`)."""

from .followup import Exchange, Standalone, needs_context, standalone_question
from .threads import Conversations

__all__ = ["Conversations", "Exchange", "Standalone", "needs_context", "standalone_question"]
