"""Questions in another language than the documents: the question is translated into the
documents' language for retrieval and the gates, and answered in its own language."""

from .query import Translation, documents_language, merge_hits, translate_question

__all__ = ["Translation", "documents_language", "merge_hits", "translate_question"]
