"""Retrieval: hybrid search (:mod:`.hybrid`), long queries (:mod:`.long_query`) and the
ranking of documents from their chunks (:mod:`.pooling`)."""

from .hybrid import DenseGroups, Hit, SearchResult, fuse, hybrid_search, search_options
from .long_query import QUERY_POOLS, QueryPool, query_vector, query_windows
from .pooling import DOC_POOLS, DocPool, rank_documents

__all__ = ["DOC_POOLS", "DenseGroups", "DocPool", "Hit", "QUERY_POOLS", "QueryPool",
           "SearchResult", "fuse", "hybrid_search", "query_vector", "query_windows",
           "rank_documents", "search_options"]
