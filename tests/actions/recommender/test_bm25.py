import math

import pytest

from actions.recommender.bm25 import BM25, tokenize

DOCS = [
    "quiet dishwasher quiet",  # 0: "quiet" twice, short
    "dishwasher with third rack and wifi",  # 1
    "noise cancelling headphones",  # 2
    "quiet headphones for the office and for travel",  # 3
]


def test_tokenize_lowercases_and_drops_plural_s() -> None:
    assert tokenize("Quiet Dishwashers, 45cm; glass") == ["quiet", "dishwasher", "45cm", "glass"]


def test_idf_matches_the_formula() -> None:
    bm25 = BM25(DOCS)
    # "quiet" is in 2 of 4 documents.
    assert bm25.idf["quiet"] == pytest.approx(math.log(1 + (4 - 2 + 0.5) / (2 + 0.5)))


def test_score_matches_a_hand_computation() -> None:
    bm25 = BM25(DOCS, k1=1.5, b=0.75)
    lengths = [3, 6, 3, 8]
    average = sum(lengths) / 4
    idf = math.log(1 + 2.5 / 2.5)
    norm = 1 - 0.75 + 0.75 * lengths[0] / average
    expected = idf * 2 * 2.5 / (2 + 1.5 * norm)
    assert bm25.score("quiet", 0) == pytest.approx(expected)


def test_ranking_order_is_exact() -> None:
    bm25 = BM25(DOCS)
    ranked = bm25.rank("quiet dishwasher", range(4), k=4)
    assert [position for position, _ in ranked] == [0, 1, 3, 2]
    assert ranked[-1][1] == 0.0


def test_rank_keeps_given_order_on_ties_and_respects_positions() -> None:
    bm25 = BM25(DOCS)
    assert [p for p, _ in bm25.rank("tent", [3, 1, 2], k=2)] == [3, 1]
    assert [p for p, _ in bm25.rank("headphones", [1, 2, 3], k=2)] == [2, 3]


def test_empty_corpus() -> None:
    bm25 = BM25([])
    assert len(bm25) == 0
    assert bm25.scores("anything") == []
