from dataclasses import replace
from datetime import datetime, timezone

import pytest

from actions.recommender.bm25 import BM25, idf, tokenize
from actions.recommender.embeddings import product_text
from actions.recommender.keywords import KeywordScorer
from tests.actions.recommender.support import BY_SKU, CATALOGUE

HEADPHONES = [record for record in CATALOGUE if record.category_key == "headphones"]
T0 = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)


def expected_scores(query: str) -> dict:
    """The baseline BM25 over the same candidates, divided by the query's bound."""
    texts = [product_text(record) for record in HEADPHONES]
    bm25 = BM25(texts)
    documents = [set(tokenize(text)) for text in texts]
    matching = [term for term in tokenize(query) if any(term in doc for doc in documents)]
    bound = len(matching) * idf(len(texts), 1) * 2.5
    return {r.sku: bm25.score(query, i) / bound for i, r in enumerate(HEADPHONES)}


def test_scores_are_bm25_over_the_candidates_divided_by_the_query_bound() -> None:
    query = "over-ear headphones with 60 hours of battery"

    scores = KeywordScorer().scores(query, HEADPHONES)

    assert scores == pytest.approx(expected_scores(query))
    assert max(scores, key=scores.__getitem__) == "HP-4"  # the only one with "60"
    assert all(0.0 <= value < 1.0 for value in scores.values())


def test_a_word_every_candidate_has_moves_nothing_much() -> None:
    scores = KeywordScorer().scores("headphones", HEADPHONES)

    # idf(6 of 6) / idf(1 of 6) = ln(1 + 0.5/6.5) / ln(1 + 5.5/1.5): under 6 % of the weight.
    assert idf(6, 6) / idf(6, 1) == pytest.approx(0.0481, abs=1e-4)
    assert max(scores.values()) < 0.05
    assert scores == pytest.approx(expected_scores("headphones"))


def test_a_query_that_matches_no_candidate_scores_nothing() -> None:
    scorer = KeywordScorer()

    assert scorer.scores("espresso grinder", HEADPHONES) == {}
    assert scorer.scores("", HEADPHONES) == {}
    assert scorer.scores("   ,;  ", HEADPHONES) == {}
    assert scorer.scores("headphones", []) == {}


def test_term_counts_are_cached_per_product_version() -> None:
    scorer = KeywordScorer()
    stored = [replace(record, updated_at=T0) for record in HEADPHONES]
    scorer.scores("noise cancelling", stored)
    assert scorer.cached() == len(stored)

    # The same SKU with new data and a new version is tokenised again.
    changed = replace(
        BY_SKU["HP-3"], description="Studio headphones", updated_at=T0.replace(hour=11)
    )
    pool = [changed if record.sku == "HP-3" else record for record in stored]
    scores = scorer.scores("studio", pool)

    assert set(scores) == {record.sku for record in pool}
    assert max(scores, key=scores.__getitem__) == "HP-3"
    assert scorer.cached() == len(stored)


def test_records_without_a_version_are_not_cached() -> None:
    scorer = KeywordScorer()

    scorer.scores("noise cancelling", HEADPHONES)

    assert scorer.cached() == 0


def test_a_full_cache_is_emptied() -> None:
    scorer = KeywordScorer(max_cached=4)
    stored = [replace(record, updated_at=T0) for record in HEADPHONES]

    scorer.scores("wireless", stored)

    assert scorer.cached() == 2  # cleared at the fifth product, then two more added
