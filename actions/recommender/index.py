"""In-process vector indexes over product embeddings.

:class:`Index` is what ranking needs: the vector of a product and the products
nearest to a query, optionally among an allowed subset (the products that pass
the hard filters). :class:`ExactIndex` keeps every vector in one numpy matrix
and scores by dot product, which is the cosine similarity of unit vectors; it
is exact and fast enough for tens of thousands of products.

:func:`build_index` picks the implementation. Above
:data:`APPROXIMATE_THRESHOLD` products it builds an approximate index: by
default the HNSW graph of :mod:`actions.recommender.ann_index` (hnswlib), or the
``approximate`` factory it is given; the exact index serves smaller catalogues,
and every size when hnswlib is not installed.

Indexes are immutable; refreshing means building a new one and swapping it in,
so readers on other threads never see a half-built index.
"""

import logging
from dataclasses import dataclass
from typing import (
    AbstractSet,
    Callable,
    Dict,
    List,
    Optional,
    Protocol,
    Sequence,
    runtime_checkable,
)

import numpy as np

from actions.recommender.embeddings import normalise_rows

logger = logging.getLogger(__name__)

APPROXIMATE_THRESHOLD = 50_000
"""Products above which :func:`build_index` uses an approximate index, if given one."""


@dataclass(frozen=True)
class IndexHit:
    """A product found near a query.

    Attributes:
        sku: The product.
        score: Cosine similarity to the query, from -1 to 1.
    """

    sku: str
    score: float


@runtime_checkable
class Index(Protocol):
    """Nearest-neighbour search over unit-length product vectors."""

    @property
    def size(self) -> int:
        """The number of products indexed."""
        ...

    @property
    def dimension(self) -> int:
        """The length of the vectors (0 for an empty index)."""
        ...

    def __contains__(self, sku: object) -> bool:
        """Whether a product has a vector in the index."""
        ...

    def vector(self, sku: str) -> Optional[np.ndarray]:
        """Return a product's vector, or None if it is not indexed."""
        ...

    def vectors(self, skus: Sequence[str]) -> np.ndarray:
        """Return the vectors of indexed products as a ``(len(skus), dimension)`` matrix.

        Raises:
            KeyError: If one of the products is not indexed.
        """
        ...

    def search(
        self, query: np.ndarray, k: int, allowed: Optional[AbstractSet[str]] = None
    ) -> List[IndexHit]:
        """Find the products most similar to a query vector.

        Args:
            query: A vector of :attr:`dimension` (normalised by the index).
            k: At most this many hits.
            allowed: Only these products (unknown SKUs are ignored); all when None.

        Returns:
            The hits, most similar first; ties by SKU.
        """
        ...


class ExactIndex:
    """Brute-force cosine search over a numpy matrix.

    Args:
        skus: The products, each once.
        vectors: One row per product; normalised here.

    Raises:
        ValueError: If the SKUs repeat or do not match the rows.
    """

    def __init__(self, skus: Sequence[str], vectors: np.ndarray) -> None:
        matrix = np.asarray(vectors, dtype=np.float32)
        if len(skus) == 0:
            matrix = matrix.reshape(0, matrix.shape[1] if matrix.ndim == 2 else 0)
        elif matrix.ndim != 2 or matrix.shape[0] != len(skus):
            raise ValueError(f"{len(skus)} SKUs but vectors of shape {matrix.shape}")
        self._skus = tuple(skus)
        self._positions: Dict[str, int] = {sku: row for row, sku in enumerate(self._skus)}
        if len(self._positions) != len(self._skus):
            raise ValueError("duplicate SKUs in the index")
        self._matrix = normalise_rows(matrix) if len(skus) else matrix
        self._matrix.setflags(write=False)

    @property
    def size(self) -> int:
        """The number of products indexed."""
        return len(self._skus)

    @property
    def dimension(self) -> int:
        """The length of the vectors."""
        return int(self._matrix.shape[1]) if self._matrix.ndim == 2 else 0

    @property
    def skus(self) -> "tuple[str, ...]":
        """The indexed products, in row order."""
        return self._skus

    def __contains__(self, sku: object) -> bool:
        """Whether a product has a vector in the index."""
        return sku in self._positions

    def vector(self, sku: str) -> Optional[np.ndarray]:
        """Return a product's vector, or None if it is not indexed."""
        row = self._positions.get(sku)
        return None if row is None else self._matrix[row]

    def vectors(self, skus: Sequence[str]) -> np.ndarray:
        """Return the vectors of indexed products, one row each.

        Raises:
            KeyError: If one of the products is not indexed.
        """
        rows = [self._positions[sku] for sku in skus]
        return self._matrix[rows] if rows else np.zeros((0, self.dimension), dtype=np.float32)

    def search(
        self, query: np.ndarray, k: int, allowed: Optional[AbstractSet[str]] = None
    ) -> List[IndexHit]:
        """Find the products most similar to a query vector (exact).

        Args:
            query: A vector of :attr:`dimension`.
            k: At most this many hits.
            allowed: Only these products; all when None.

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
            rows = np.arange(self.size)
        else:
            rows = np.fromiter(
                sorted(self._positions[sku] for sku in allowed if sku in self._positions),
                dtype=np.int64,
            )
            if rows.size == 0:
                return []
        scores = self._matrix[rows] @ vector
        if k < rows.size:
            # Keep every row tied with the k-th best so that ties break by SKU.
            threshold = np.partition(scores, rows.size - k)[rows.size - k]
            keep = scores >= threshold
            rows, scores = rows[keep], scores[keep]
        order = sorted(range(rows.size), key=lambda i: (-float(scores[i]), self._skus[rows[i]]))
        return [IndexHit(self._skus[rows[i]], float(scores[i])) for i in order[:k]]


IndexFactory = Callable[[Sequence[str], np.ndarray], Index]
"""Builds an index from SKUs and their vectors."""


def _default_approximate() -> Optional[IndexFactory]:
    """The HNSW factory, or None when hnswlib is not installed."""
    try:
        import hnswlib  # noqa: F401
    except ImportError:
        return None
    from actions.recommender.ann_index import approximate_index

    return approximate_index


def build_index(
    skus: Sequence[str],
    vectors: np.ndarray,
    *,
    approximate: Optional[IndexFactory] = None,
    threshold: int = APPROXIMATE_THRESHOLD,
) -> Index:
    """Build the index that suits the catalogue's size.

    Args:
        skus: The products, each once.
        vectors: One row per product.
        approximate: Builds an approximate index; used above ``threshold``. By
            default :func:`actions.recommender.ann_index.approximate_index`
            (HNSW; an exact index below 1,000 products) when hnswlib is installed.
        threshold: Products above which ``approximate`` is used.

    Returns:
        An exact index, or an approximate one for a large catalogue.
    """
    if approximate is None and len(skus) > threshold:
        approximate = _default_approximate()
    if approximate is not None and len(skus) > threshold:
        return approximate(skus, vectors)
    if len(skus) > threshold:
        logger.warning(
            "%d products: an approximate index would be faster than the exact one.", len(skus)
        )
    return ExactIndex(skus, vectors)
