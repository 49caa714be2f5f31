"""Questions in another language than the documents: the question is translated into the
documents' language for retrieval, the gates and the model, and answered in its own
language."""

from .answer import answer_in_language
from .query import documents_language, merge_hits, translate_question
from .translate import Translation, translate

__all__ = ["Translation", "answer_in_language", "documents_language", "merge_hits",
           "translate", "translate_question"]
