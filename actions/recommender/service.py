"""The recommender: catalogue, stored embeddings, index and ranking together.

:class:`Recommender` is created cheaply; the first call that needs it stores
missing product embeddings (:func:`refresh_embeddings`), loads the vectors into
an in-process index and caches the catalogue's brand names. When a search meets
products the index does not know (imported since), it refreshes again, at most
once per ``refresh_interval_s``; :meth:`Recommender.refresh` forces it.

Every method blocks (database, model): from async code call them with
``asyncio.to_thread``.
"""

import logging
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from actions.catalogue_record import ProductRecord
from actions.catalogue_store import CatalogueRepository, ProductFilter
from actions.db import Database, get_database
from actions.needs import StatedNeed, find_category
from actions.recommender.embedding_store import load_vectors, refresh_embeddings
from actions.recommender.embeddings import Embedder, get_embedder
from actions.recommender.feedback import FeedbackRepository
from actions.recommender.index import Index, build_index
from actions.recommender.keywords import KeywordScorer
from actions.recommender.payloads import FeedbackEvent, RankingResult, SearchRequest, Vote
from actions.recommender.ranking import DEFAULT_WEIGHTS, Weights, rank
from actions.recommender.reasons import feature_label

logger = logging.getLogger(__name__)

DEFAULT_REFRESH_INTERVAL_S = 60.0


def query_text(need: StatedNeed) -> str:
    """Return the text to embed for a need.

    The customer's own words, followed by the category and wanted brands when
    the words do not name them (they came from slots): "something for work"
    with the slots laptop and Dell becomes "something for work laptops Dell".
    Without words, the features named too: "headphones noise cancelling".
    """
    text = need.text.strip()
    extras = []
    if need.category_key and find_category(text) != need.category_key:
        extras.append(need.category_key.replace("_", " "))
    if not text:
        extras.extend(feature_label(key) for key in need.features)
    lowered = text.lower()
    extras.extend(brand for brand in need.brands_wanted if brand.lower() not in lowered)
    return " ".join(part for part in (text, *extras) if part)


class Recommender:
    """Recommends products from the catalogue.

    Args:
        database: The project database.
        embedder: The sentence-embedding model.
        catalogue: Product reads; by default a repository on ``database``.
        feedback: Conversation votes; by default a repository on ``database``.
        weights: How ranking signals combine.
        keywords: Scores the need's words against the candidates (BM25).
        index_factory: Builds the index from SKUs and vectors.
        refresh_interval_s: Least time between refreshes triggered by unknown products.
        monotonic: Clock for ``refresh_interval_s``.
    """

    def __init__(
        self,
        database: Database,
        embedder: Embedder,
        *,
        catalogue: Optional[CatalogueRepository] = None,
        feedback: Optional[FeedbackRepository] = None,
        weights: Weights = DEFAULT_WEIGHTS,
        keywords: Optional[KeywordScorer] = None,
        index_factory: Callable[[Sequence[str], np.ndarray], Index] = build_index,
        refresh_interval_s: float = DEFAULT_REFRESH_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.embedder = embedder
        self.catalogue = catalogue or CatalogueRepository(database)
        self.feedback = feedback or FeedbackRepository(database)
        self.weights = weights
        self.keywords = keywords or KeywordScorer()
        self._index_factory = index_factory
        self._refresh_interval_s = refresh_interval_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._index: Optional[Index] = None
        self._brands: List[str] = []
        self._refreshed_at: Optional[float] = None

    @property
    def loaded(self) -> bool:
        """Whether the index has been built."""
        return self._index is not None

    def load(self) -> Index:
        """Build the index on first use and return it.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
        """
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    self._refresh_locked()
                index = self._index
        assert index is not None
        return index

    def refresh(self) -> int:
        """Store missing embeddings, then rebuild the index and the brand list.

        Returns:
            The number of products embedded.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
        """
        with self._lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> int:
        embedded = refresh_embeddings(self.database, self.embedder)
        skus, vectors = load_vectors(self.database, self.embedder.model_name)
        brands = self.catalogue.brands()
        self._index = self._index_factory(skus, vectors)
        self._brands = brands
        self._refreshed_at = self._monotonic()
        logger.info("Recommender index holds %d products.", len(skus))
        return embedded

    @property
    def index(self) -> Index:
        """The current index (built on first use)."""
        return self.load()

    def brands(self) -> List[str]:
        """The catalogue's brand names, as of the last refresh."""
        self.load()
        return list(self._brands)

    def products(self, skus: Sequence[str]) -> List[ProductRecord]:
        """Look products up by SKU, in the order given; unknown SKUs are skipped.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
        """
        found = (self.catalogue.get(sku) for sku in dict.fromkeys(skus))
        return [record for record in found if record is not None]

    def query_vector(self, request: SearchRequest) -> Optional[np.ndarray]:
        """Return the vector to rank by: the liked product's, or the need's text's."""
        index = self.load()
        if request.like_sku is not None:
            vector = index.vector(request.like_sku)
            if vector is not None:
                return vector
        text = query_text(request.need)
        if not text:
            return None
        return self.embedder.embed([text])[0]

    def _maybe_refresh(self, candidates: Sequence[ProductRecord]) -> None:
        index = self.load()
        if all(record.sku in index for record in candidates):
            return
        last = self._refreshed_at
        if last is not None and self._monotonic() - last < self._refresh_interval_s:
            return
        with self._lock:
            if self._refreshed_at == last:
                self._refresh_locked()

    def recommend(
        self,
        request: SearchRequest,
        *,
        conversation_id: Optional[str] = None,
        top_k: int = 3,
    ) -> RankingResult:
        """Rank the catalogue for a request.

        Args:
            request: What the customer wants.
            conversation_id: Whose votes to take into account; none when None.
            top_k: How many products to return.

        Returns:
            The best products, or what to relax when none qualifies.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
        """
        need = request.need
        candidates = self.catalogue.list_products(ProductFilter(category_key=need.category_key))
        self._maybe_refresh(candidates)
        events: List[FeedbackEvent] = (
            self.feedback.for_conversation(conversation_id) if conversation_id else []
        )
        titles = self._titles_of_liked(events, candidates)
        keyword: Dict[str, float] = {}
        if self.weights.keyword and request.like_sku is None:
            keyword = self.keywords.scores(query_text(need), candidates)
        return rank(
            request,
            candidates,
            index=self.load(),
            query=self.query_vector(request),
            feedback=events,
            top_k=top_k,
            weights=self.weights,
            titles=titles,
            keyword=keyword,
        )

    def _titles_of_liked(
        self, events: Sequence[FeedbackEvent], candidates: Sequence[ProductRecord]
    ) -> Dict[str, str]:
        known = {record.sku for record in candidates}
        missing = [e.sku for e in events if e.vote is Vote.UP and e.sku not in known]
        return {record.sku: record.title for record in self.products(missing)}


_default_recommender: Optional[Recommender] = None
_default_recommender_lock = threading.Lock()


def get_recommender() -> Recommender:
    """Return the process-wide recommender (database and model load on first use)."""
    global _default_recommender
    with _default_recommender_lock:
        if _default_recommender is None:
            _default_recommender = Recommender(get_database(), get_embedder())
        return _default_recommender
