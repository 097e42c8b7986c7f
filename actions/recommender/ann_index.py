"""Approximate nearest-neighbour index over product embeddings (HNSW, hnswlib).

:class:`HnswIndex` implements :class:`actions.recommender.index.Index` with a
hierarchical navigable small-world graph over inner product (the cosine
similarity of the unit vectors the index stores). Results match
:class:`~actions.recommender.index.ExactIndex` in form: hits carry the exact
cosine similarity (candidates from the graph are re-scored against the stored
matrix), most similar first, ties broken by SKU.

The ``allowed`` subset (products passing the hard filters) is handled as
follows: a subset of at most :data:`EXACT_SUBSET_LIMIT` products, or one that
is a small fraction of the catalogue, is searched exactly (a dot product over a
few thousand rows is cheaper than an over-fetch that would have to be huge);
otherwise the graph is asked for ``k`` divided by the allowed fraction, with a
margin, the hits outside the subset are dropped, and if fewer than ``k``
remain the subset is searched exactly. Either way the semantics equal
``ExactIndex``: at most ``k`` hits, all in ``allowed``, unknown SKUs ignored.

Parameters (``m=16``, ``ef_construction=200``, ``ef_search=128``) were chosen
with ``python -m actions.recommender.benchmark`` for recall@10 >= 0.95 against
exact search; see ``docs/benchmarks.md``.
"""

import logging
from typing import AbstractSet, Any, Dict, List, Optional, Sequence

import numpy as np

from actions.recommender.embeddings import normalise_rows
from actions.recommender.index import ExactIndex, Index, IndexHit

logger = logging.getLogger(__name__)

DEFAULT_M = 16
"""Graph links per node."""

DEFAULT_EF_CONSTRUCTION = 200
"""Candidate list size while inserting."""

DEFAULT_EF_SEARCH = 128
"""Candidate list size while searching (raised to ``k`` when smaller)."""

LARGE_CATALOGUE = 250_000
"""Above this many products :func:`approximate_index` searches with :data:`LARGE_EF_SEARCH`."""

LARGE_EF_SEARCH = 256
"""ef_search for large catalogues: recall@10 0.955 at 1,000,000 products, against 0.901 at 128."""

MIN_APPROXIMATE_SIZE = 1_000
"""Below this many products :func:`approximate_index` returns an exact index."""

EXACT_SUBSET_LIMIT = 20_000
"""An ``allowed`` subset of at most this many products is searched exactly."""

EXACT_SUBSET_FRACTION = 0.05
"""An ``allowed`` subset below this fraction of the catalogue is searched exactly."""

_OVERFETCH_MARGIN = 2.0
_TIE_MARGIN = 10


class HnswIndex:
    """HNSW search over unit vectors, with exact re-scoring of candidates.

    Args:
        skus: The products, each once.
        vectors: One row per product; normalised here.
        m: Graph links per node.
        ef_construction: Candidate list size while building.
        ef_search: Candidate list size while searching.
        num_threads: Threads used to build the graph (-1: all cores).
        seed: Random seed of the graph's level assignment.

    Raises:
        ValueError: If the SKUs repeat or do not match the rows.
        ImportError: If hnswlib is not installed.
    """

    def __init__(
        self,
        skus: Sequence[str],
        vectors: np.ndarray,
        *,
        m: int = DEFAULT_M,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        ef_search: int = DEFAULT_EF_SEARCH,
        num_threads: int = -1,
        seed: int = 100,
    ) -> None:
        import hnswlib  # imported here: optional, and only large catalogues need it

        # The exact index validates the input and keeps the normalised,
        # read-only matrix used for vector(), re-scoring and small subsets.
        self._exact = ExactIndex(skus, vectors)
        self._ef_search = int(ef_search)
        self.m = int(m)
        self.ef_construction = int(ef_construction)
        self._graph: Any = None  # hnswlib.Index
        if self._exact.size:
            matrix = self._matrix
            graph = hnswlib.Index(space="ip", dim=self._exact.dimension)
            graph.init_index(
                max_elements=self._exact.size,
                M=self.m,
                ef_construction=self.ef_construction,
                random_seed=seed,
            )
            graph.add_items(matrix, np.arange(self._exact.size), num_threads=num_threads)
            graph.set_ef(self._ef_search)
            graph.set_num_threads(1)  # one query at a time; threads only add overhead
            self._graph = graph

    @property
    def _matrix(self) -> np.ndarray:
        return self._exact._matrix  # noqa: SLF001 - same package, read-only matrix

    @property
    def _positions(self) -> Dict[str, int]:
        return self._exact._positions  # noqa: SLF001

    @property
    def size(self) -> int:
        """The number of products indexed."""
        return self._exact.size

    @property
    def dimension(self) -> int:
        """The length of the vectors."""
        return self._exact.dimension

    @property
    def ef_search(self) -> int:
        """Candidate list size while searching."""
        return self._ef_search

    def set_ef_search(self, ef_search: int) -> None:
        """Change the search candidate list size (for tuning; not while searching)."""
        self._ef_search = int(ef_search)
        if self._graph is not None:
            self._graph.set_ef(self._ef_search)

    @property
    def skus(self) -> "tuple[str, ...]":
        """The indexed products, in row order."""
        return self._exact.skus

    def __contains__(self, sku: object) -> bool:
        """Whether a product has a vector in the index."""
        return sku in self._exact

    def vector(self, sku: str) -> Optional[np.ndarray]:
        """Return a product's vector, or None if it is not indexed."""
        return self._exact.vector(sku)

    def vectors(self, skus: Sequence[str]) -> np.ndarray:
        """Return the vectors of indexed products, one row each.

        Raises:
            KeyError: If one of the products is not indexed.
        """
        return self._exact.vectors(skus)

    def _graph_rows(self, vector: np.ndarray, fetch: int) -> np.ndarray:
        assert self._graph is not None
        # hnswlib searches with max(ef, k) candidates, so a large over-fetch
        # widens the search without touching the shared ef setting.
        labels, _ = self._graph.knn_query(vector, k=min(fetch, self.size), num_threads=1)
        return np.asarray(labels, dtype=np.int64).reshape(-1)

    def _hits(self, rows: np.ndarray, vector: np.ndarray, k: int) -> List[IndexHit]:
        scores = self._matrix[rows] @ vector
        skus = self._exact.skus
        order = sorted(range(rows.size), key=lambda i: (-float(scores[i]), skus[rows[i]]))
        return [IndexHit(skus[rows[i]], float(scores[i])) for i in order[:k]]

    def search(
        self, query: np.ndarray, k: int, allowed: Optional[AbstractSet[str]] = None
    ) -> List[IndexHit]:
        """Find the products most similar to a query vector (approximately).

        Args:
            query: A vector of :attr:`dimension`.
            k: At most this many hits.
            allowed: Only these products (unknown SKUs are ignored); all when None.

        Returns:
            The hits, most similar first; ties by SKU.

        Raises:
            ValueError: If the query's length is not the index's dimension.
        """
        if k <= 0 or self.size == 0:
            return []
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dimension:
            raise ValueError(f"query has {vector.shape[0]} dimensions, the index {self.dimension}")
        vector = normalise_rows(vector)[0]
        if allowed is None:
            # A few extra candidates, so that products tied at the cut are
            # seen and can break their tie by SKU as in the exact index.
            return self._hits(self._graph_rows(vector, k + _TIE_MARGIN), vector, k)
        rows = [self._positions[sku] for sku in allowed if sku in self._positions]
        if not rows:
            return []
        fraction = len(rows) / self.size
        if len(rows) <= max(k, EXACT_SUBSET_LIMIT) or fraction < EXACT_SUBSET_FRACTION:
            return self._exact.search(vector, k, allowed)
        fetch = int(np.ceil(k / fraction * _OVERFETCH_MARGIN)) + k
        wanted = np.zeros(self.size, dtype=bool)
        wanted[np.asarray(rows, dtype=np.int64)] = True
        found = self._graph_rows(vector, fetch)
        kept = found[wanted[found]]
        if kept.size < k:
            return self._exact.search(vector, k, allowed)
        return self._hits(kept, vector, k)


def approximate_index(skus: Sequence[str], vectors: np.ndarray) -> Index:
    """The approximate-index factory :func:`actions.recommender.index.build_index` uses.

    Returns an :class:`HnswIndex` with the default parameters (ef_search
    :data:`LARGE_EF_SEARCH` above :data:`LARGE_CATALOGUE` products), or an exact
    index below :data:`MIN_APPROXIMATE_SIZE` products, where a graph never pays off.
    """
    if len(skus) < MIN_APPROXIMATE_SIZE:
        return ExactIndex(skus, vectors)
    ef_search = LARGE_EF_SEARCH if len(skus) > LARGE_CATALOGUE else DEFAULT_EF_SEARCH
    return HnswIndex(skus, vectors, ef_search=ef_search)
