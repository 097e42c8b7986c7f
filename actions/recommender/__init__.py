"""Product recommendations: semantic search with hard filters, reasons and feedback.

Modules, by concern:

* :mod:`~actions.recommender.payloads`: the typed values that cross boundaries
  (:class:`SearchRequest`, :class:`Recommendation`, :class:`NoMatch`, ...);
* :mod:`~actions.recommender.embeddings`: the :class:`Embedder` protocol, the
  lazily loaded MiniLM model and the text embedded per product;
* :mod:`~actions.recommender.embedding_store`: :func:`refresh_embeddings`,
  vectors kept in the ``products`` table;
* :mod:`~actions.recommender.index`: the :class:`Index` protocol and
  :class:`ExactIndex`;
* :mod:`~actions.recommender.constraints`, :mod:`~actions.recommender.ranking`
  and :mod:`~actions.recommender.reasons`: hard filters and what to relax,
  scoring, and why each product fits; :mod:`~actions.recommender.keywords`:
  the BM25 keyword score mixed into the ranking;
* :mod:`~actions.recommender.refinements`: "cheaper", "more like #2", "other brands";
* :mod:`~actions.recommender.feedback`: thumbs up/down per conversation;
* :mod:`~actions.recommender.service`: :class:`Recommender`, all of it together;
* :mod:`~actions.recommender.dialogue` and :mod:`~actions.recommender.actions`:
  the Rasa actions; :mod:`~actions.recommender.cli`: the command line;
* :mod:`~actions.recommender.evaluation` (with ``eval_gold``, ``eval_metrics``
  and ``tuning``) and :mod:`~actions.recommender.benchmark`: offline quality
  and index-scale measurements.

Importing this package loads no model and opens no connection.
"""

from actions.recommender.embedding_store import load_vectors, refresh_embeddings
from actions.recommender.embeddings import Embedder, MiniLMEmbedder, get_embedder, product_text
from actions.recommender.feedback import FeedbackRepository, get_feedback_repository
from actions.recommender.index import ExactIndex, Index, IndexHit, build_index
from actions.recommender.payloads import (
    FeedbackEvent,
    NoMatch,
    RankingResult,
    Recommendation,
    Recommendations,
    Relaxation,
    RelaxKind,
    SearchRequest,
    Vote,
)
from actions.recommender.ranking import Weights, rank
from actions.recommender.refinements import cheaper, more_like, other_brands
from actions.recommender.service import Recommender, get_recommender

__all__ = [
    "Embedder",
    "ExactIndex",
    "FeedbackEvent",
    "FeedbackRepository",
    "Index",
    "IndexHit",
    "MiniLMEmbedder",
    "NoMatch",
    "RankingResult",
    "Recommendation",
    "Recommendations",
    "Recommender",
    "RelaxKind",
    "Relaxation",
    "SearchRequest",
    "Vote",
    "Weights",
    "build_index",
    "cheaper",
    "get_embedder",
    "get_feedback_repository",
    "get_recommender",
    "load_vectors",
    "more_like",
    "other_brands",
    "product_text",
    "rank",
    "refresh_embeddings",
]
