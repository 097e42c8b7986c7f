"""Keyword relevance of products: BM25 over the candidates of one search.

The semantic similarity of MiniLM rewards exact terms and numbers that the
customer types and the product text spells out ("pit zips", "full frame",
"hip belt") much less than a keyword match does; on the evaluation set the
BM25 baseline ranked such needs better. :class:`KeywordScorer` gives the
ranking a BM25 score to mix with the similarity (``Weights.keyword``).

* Documents are the texts the embeddings are computed from
  (:func:`~actions.recommender.embeddings.product_text`), tokenised like the
  baseline (:func:`~actions.recommender.bm25.tokenize`).
* Document frequencies and the average length come from the candidates of the
  search (the products of the requested category), so a word every candidate
  has ("headphones") weighs almost nothing and one that sets a few apart
  ("bone conduction") weighs much.
* A score is divided by the most the query could score if each of its terms
  found among the candidates were as rare as possible: the number of such
  terms times ``idf(N, 1) * (k1 + 1)`` (``k1 + 1`` is the limit of a term's
  BM25 weight, ``idf(N, 1)`` the IDF of a term in one of N candidates). The
  score lies in [0, 1), and words that every candidate has ("headphones")
  move no product much. Dividing by the best candidate's score, or by the
  query's own IDFs, would instead blow the small differences in document
  length that such words leave up to the full weight.

Term counts are cached per product and data version (``updated_at``), so a
search tokenises only products it has not seen since they last changed.
"""

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Sequence, Tuple

from actions.catalogue_record import ProductRecord
from actions.recommender.bm25 import idf, term_weight, tokenize
from actions.recommender.embeddings import product_text

DEFAULT_MAX_CACHED = 100_000
"""Products whose term counts are kept; the cache is emptied when it is full."""


@dataclass(frozen=True)
class _Counts:
    terms: Dict[str, int]
    length: int


def _counts(record: ProductRecord) -> _Counts:
    terms = Counter(tokenize(product_text(record)))
    return _Counts(dict(terms), sum(terms.values()))


class KeywordScorer:
    """BM25 scores of products for a query, normalised to [0, 1).

    Thread-safe. Args:
        k1: Term-frequency saturation (the baseline's 1.5).
        b: Length normalisation (the baseline's 0.75).
        max_cached: Products whose term counts are cached.
    """

    def __init__(
        self, *, k1: float = 1.5, b: float = 0.75, max_cached: int = DEFAULT_MAX_CACHED
    ) -> None:
        self.k1 = k1
        self.b = b
        self._max_cached = max_cached
        self._cache: Dict[str, Tuple[datetime, _Counts]] = {}
        self._lock = threading.Lock()

    def _counts_of(self, record: ProductRecord) -> _Counts:
        version = record.updated_at
        if version is None:  # not from the database: nothing to key a cache entry on
            return _counts(record)
        with self._lock:
            cached = self._cache.get(record.sku)
        if cached is not None and cached[0] == version:
            return cached[1]
        counts = _counts(record)
        with self._lock:
            if len(self._cache) >= self._max_cached:
                self._cache.clear()
            self._cache[record.sku] = (version, counts)
        return counts

    def scores(self, query: str, candidates: Sequence[ProductRecord]) -> Dict[str, float]:
        """Score every candidate for a query.

        Args:
            query: The customer's words (each occurrence of a term counts).
            candidates: The products of the search; they are also the corpus
                the statistics come from.

        Returns:
            SKU to score in [0, 1); empty when the query has no term that any
            candidate contains.
        """
        terms = tokenize(query)
        if not terms or not candidates:
            return {}
        documents: List[_Counts] = [self._counts_of(record) for record in candidates]
        average = sum(doc.length for doc in documents) / len(documents)
        rarest = idf(len(documents), 1) * (self.k1 + 1.0)
        weights: Dict[str, float] = {}
        bound = 0.0
        for term in terms:
            if term not in weights:
                found = sum(1 for doc in documents if term in doc.terms)
                weights[term] = idf(len(documents), found) if found else 0.0
            if weights[term]:
                bound += rarest
        if bound <= 0.0:
            return {}
        result: Dict[str, float] = {}
        for record, doc in zip(candidates, documents):
            total = 0.0
            for term in terms:
                frequency = doc.terms.get(term, 0)
                if frequency:
                    total += weights[term] * term_weight(
                        frequency, doc.length, average, k1=self.k1, b=self.b
                    )
            result[record.sku] = total / bound
        return result

    def cached(self) -> int:
        """How many products' term counts are cached."""
        with self._lock:
            return len(self._cache)
