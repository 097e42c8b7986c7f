from typing import List, Sequence

import numpy as np
import pytest

from actions.recommender.index import ExactIndex, Index, IndexHit, build_index


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


@pytest.fixture
def index() -> ExactIndex:
    return ExactIndex(
        ["A", "B", "C", "D"],
        np.stack([unit(1, 0, 0), unit(1, 1, 0), unit(0, 1, 0), unit(0, 0, 1)]),
    )


def skus(hits: List[IndexHit]) -> List[str]:
    return [hit.sku for hit in hits]


def test_search_ranks_by_cosine_similarity(index: ExactIndex) -> None:
    hits = index.search(np.array([2.0, 0.2, 0.0]), k=3)

    assert skus(hits) == ["A", "B", "C"]
    assert hits[0].score == pytest.approx(float(unit(2, 0.2, 0) @ unit(1, 0, 0)))
    assert hits[0].score > hits[1].score > hits[2].score


def test_search_keeps_only_allowed_products(index: ExactIndex) -> None:
    hits = index.search(unit(1, 0, 0), k=10, allowed={"C", "D", "UNKNOWN"})

    assert skus(hits) == ["C", "D"]
    assert index.search(unit(1, 0, 0), k=3, allowed=set()) == []
    assert index.search(unit(1, 0, 0), k=3, allowed={"UNKNOWN"}) == []


def test_ties_break_by_sku_even_at_the_cut(index: ExactIndex) -> None:
    tied = ExactIndex(["Z", "M", "A"], np.stack([unit(1, 0), unit(1, 0), unit(1, 0)]))

    assert skus(tied.search(unit(1, 0), k=2)) == ["A", "M"]
    assert skus(index.search(unit(0, 0, 1), k=1)) == ["D"]


def test_k_limits_and_empty_indexes(index: ExactIndex) -> None:
    assert index.search(unit(1, 0, 0), k=0) == []
    assert len(index.search(unit(1, 0, 0), k=2)) == 2
    empty = ExactIndex([], np.zeros((0, 3), dtype=np.float32))
    assert empty.size == 0 and empty.search(unit(1, 0, 0), k=3) == []


def test_vectors_are_normalised_and_looked_up(index: ExactIndex) -> None:
    raw = ExactIndex(["X"], np.array([[3.0, 4.0]]))

    assert raw.vector("X") == pytest.approx([0.6, 0.8])
    assert raw.vector("Y") is None
    assert "X" in raw and "Y" not in raw
    assert index.vectors(["C", "A"]).shape == (2, 3)
    assert index.vectors(["C", "A"])[1] == pytest.approx(unit(1, 0, 0))
    with pytest.raises(KeyError):
        index.vectors(["nope"])
    assert index.size == 4 and index.dimension == 3
    assert isinstance(index, Index)


def test_bad_input_is_rejected(index: ExactIndex) -> None:
    with pytest.raises(ValueError, match="dimensions"):
        index.search(np.ones(4), k=1)
    with pytest.raises(ValueError, match="duplicate"):
        ExactIndex(["A", "A"], np.ones((2, 3)))
    with pytest.raises(ValueError, match="2 SKUs"):
        ExactIndex(["A", "B"], np.ones((3, 3)))


def test_the_stored_matrix_is_read_only(index: ExactIndex) -> None:
    vector = index.vector("A")
    assert vector is not None
    with pytest.raises(ValueError):
        vector[0] = 5.0


def test_build_index_uses_the_approximate_factory_above_the_threshold() -> None:
    built: List[int] = []

    def approximate(skus: Sequence[str], vectors: np.ndarray) -> Index:
        built.append(len(skus))
        return ExactIndex(skus, vectors)  # stands in for FAISS / hnswlib

    vectors = np.eye(3, dtype=np.float32)
    small = build_index(["A", "B", "C"], vectors, approximate=approximate, threshold=3)
    large = build_index(["A", "B", "C"], vectors, approximate=approximate, threshold=2)

    assert isinstance(small, ExactIndex) and built == [3]
    assert skus(large.search(unit(0, 1, 0), k=1)) == ["B"]
    assert isinstance(build_index(["A"], np.ones((1, 2)), threshold=0), ExactIndex)
