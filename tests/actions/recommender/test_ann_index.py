"""The HNSW index agrees with the exact one and honours the allowed subset."""

from typing import List

import numpy as np
import pytest

pytest.importorskip("hnswlib")

from actions.recommender import index as index_module  # noqa: E402
from actions.recommender.ann_index import (  # noqa: E402
    EXACT_SUBSET_LIMIT,
    HnswIndex,
    approximate_index,
)
from actions.recommender.index import ExactIndex, Index, IndexHit, build_index  # noqa: E402

N, DIMENSION = 3_000, 32


def skus(hits: List[IndexHit]) -> List[str]:
    return [hit.sku for hit in hits]


@pytest.fixture(scope="module")
def catalogue() -> "tuple[list[str], np.ndarray]":
    rng = np.random.default_rng(7)
    return [f"P{i:05d}" for i in range(N)], rng.standard_normal((N, DIMENSION)).astype(np.float32)


@pytest.fixture(scope="module")
def indexes(catalogue) -> "tuple[ExactIndex, HnswIndex]":
    names, vectors = catalogue
    return ExactIndex(names, vectors), HnswIndex(names, vectors, num_threads=1)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return np.random.default_rng(11).standard_normal((50, DIMENSION)).astype(np.float32)


def test_hnsw_index_implements_the_protocol(indexes) -> None:
    exact, ann = indexes
    assert isinstance(ann, Index)
    assert ann.size == N and ann.dimension == DIMENSION
    assert "P00001" in ann and "NOPE" not in ann
    assert ann.vector("P00001") == pytest.approx(exact.vector("P00001"))
    assert ann.vector("NOPE") is None
    assert ann.vectors(["P00002", "P00001"]).shape == (2, DIMENSION)
    with pytest.raises(KeyError):
        ann.vectors(["NOPE"])


def test_recall_at_10_against_exact_search(indexes, queries) -> None:
    exact, ann = indexes
    overlaps = [
        len(set(skus(ann.search(q, 10))) & set(skus(exact.search(q, 10)))) / 10 for q in queries
    ]
    assert np.mean(overlaps) >= 0.95


def test_hits_carry_exact_scores_in_exact_order(indexes, queries) -> None:
    exact, ann = indexes
    hits = ann.search(queries[0], 10)
    assert len(hits) == 10
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    for hit in hits:
        assert hit.score == pytest.approx(
            float(exact.vector(hit.sku) @ (queries[0] / np.linalg.norm(queries[0]))), abs=1e-5
        )


def test_small_allowed_subset_matches_exact_search(indexes, queries) -> None:
    exact, ann = indexes
    allowed = {f"P{i:05d}" for i in range(0, N, 7)} | {"UNKNOWN"}
    for q in queries[:10]:
        got = ann.search(q, 10, allowed)
        assert skus(got) == skus(exact.search(q, 10, allowed))
        assert set(skus(got)) <= allowed
    assert ann.search(queries[0], 5, set()) == []
    assert ann.search(queries[0], 5, {"UNKNOWN"}) == []


def test_large_allowed_subset_is_over_fetched_and_filtered(monkeypatch, indexes, queries) -> None:
    exact, ann = indexes
    # Force the over-fetch path by pretending only tiny subsets are searched exactly.
    monkeypatch.setattr("actions.recommender.ann_index.EXACT_SUBSET_LIMIT", 10)
    allowed = {f"P{i:05d}" for i in range(N) if i % 3}
    overlaps = []
    for q in queries:
        got = skus(ann.search(q, 10, allowed))
        assert len(got) == 10 and set(got) <= allowed
        overlaps.append(len(set(got) & set(skus(exact.search(q, 10, allowed)))) / 10)
    assert np.mean(overlaps) >= 0.95
    assert EXACT_SUBSET_LIMIT > 10  # the module constant itself is untouched


def test_k_limits_empty_and_wrong_dimension(indexes, queries) -> None:
    _, ann = indexes
    assert ann.search(queries[0], 0) == []
    assert len(ann.search(queries[0], 500)) == 500  # beyond ef_search
    assert len(ann.search(queries[0], 10, {"P00001", "P00002"})) == 2
    with pytest.raises(ValueError):
        ann.search(np.ones(DIMENSION + 1), 3)
    empty = HnswIndex([], np.zeros((0, DIMENSION), dtype=np.float32))
    assert empty.size == 0 and empty.search(queries[0], 3) == []
    with pytest.raises(ValueError):
        HnswIndex(["A", "A"], np.ones((2, 3)))


def test_ties_break_by_sku() -> None:
    vectors = np.vstack([np.tile([1.0, 0.0], (3, 1)), np.random.default_rng(1).normal(size=(5, 2))])
    names = ["Z", "M", "A", "q1", "q2", "q3", "q4", "q5"]
    ann = HnswIndex(names, vectors.astype(np.float32), num_threads=1)
    assert skus(ann.search(np.array([1.0, 0.0]), 2)) == ["A", "M"]


def test_build_index_picks_hnsw_above_the_threshold(catalogue) -> None:
    names, vectors = catalogue
    assert isinstance(build_index(names, vectors, threshold=N), ExactIndex)
    assert isinstance(build_index(names, vectors, threshold=N - 1), HnswIndex)
    # The factory keeps tiny catalogues exact, where a graph never pays off.
    assert isinstance(approximate_index(names[:10], vectors[:10]), ExactIndex)


def test_build_index_stays_exact_without_hnswlib(monkeypatch, catalogue) -> None:
    names, vectors = catalogue
    monkeypatch.setattr(index_module, "_default_approximate", lambda: None)
    assert isinstance(build_index(names, vectors, threshold=10), ExactIndex)


def test_ef_search_can_be_tuned(catalogue, queries) -> None:
    names, vectors = catalogue
    ann = HnswIndex(names[:500], vectors[:500], num_threads=1, ef_search=16)
    assert ann.ef_search == 16
    ann.set_ef_search(200)
    assert ann.ef_search == 200 and len(ann.search(queries[0], 10)) == 10


def test_large_catalogues_search_wider(monkeypatch, catalogue) -> None:
    names, vectors = catalogue
    monkeypatch.setattr("actions.recommender.ann_index.LARGE_CATALOGUE", N - 1)
    wide = approximate_index(names, vectors)
    assert isinstance(wide, HnswIndex) and wide.ef_search == 256
    monkeypatch.setattr("actions.recommender.ann_index.LARGE_CATALOGUE", N)
    assert approximate_index(names, vectors).ef_search == 128
