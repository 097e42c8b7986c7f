from typing import Dict, List, Sequence, Tuple

import pytest

from actions.catalogue_record import ProductRecord
from actions.catalogue_store import CatalogueRepository
from actions.db import Database, DatabaseUnavailable
from actions.needs import StatedNeed, parse_need
from actions.recommender.keywords import KeywordScorer
from actions.recommender.payloads import (
    NoMatch,
    RankingResult,
    Recommendations,
    SearchRequest,
    Vote,
)
from actions.recommender.ranking import DEFAULT_WEIGHTS, Weights
from actions.recommender.service import Recommender, query_text
from actions.settings import Settings
from tests.actions.recommender.support import CATALOGUE, FakeEmbedder, product


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(text: str) -> SearchRequest:
    return SearchRequest(parse_need(text, brands=sorted({r.brand for r in CATALOGUE})))


def skus(result: RankingResult) -> List[str]:
    assert isinstance(result, Recommendations), result
    return [item.sku for item in result.items]


def test_nothing_is_loaded_until_the_first_search(
    catalogue_database: Database, fake_embedder: FakeEmbedder
) -> None:
    recommender = Recommender(catalogue_database, fake_embedder)
    assert not recommender.loaded and fake_embedder.calls == []

    result = recommender.recommend(request("noise cancelling headphones under 400 euros"))

    assert skus(result) == ["HP-1", "HP-4", "HP-6"]
    assert recommender.loaded
    assert fake_embedder.texts_embedded == len(CATALOGUE) + 1  # the products, then the query
    assert recommender.index.size == len(CATALOGUE)
    assert recommender.brands() == sorted({record.brand for record in CATALOGUE})


def test_a_second_recommender_reuses_the_stored_embeddings(
    catalogue_database: Database, fake_embedder: FakeEmbedder
) -> None:
    Recommender(catalogue_database, fake_embedder).load()
    again = FakeEmbedder()

    Recommender(catalogue_database, again).load()

    assert again.calls == []


def test_products_imported_later_are_embedded_on_the_next_search(
    catalogue_database: Database, fake_embedder: FakeEmbedder
) -> None:
    ticker = Ticker()
    recommender = Recommender(
        catalogue_database, fake_embedder, refresh_interval_s=60, monotonic=ticker
    )
    recommender.load()
    newcomer = product(
        "HP-9", "Acme Noise Cancelling Headphones", "headphones", "Acme", 9900,
        description="Noise cancelling headphones.", noise_cancelling=True,
    )  # fmt: skip
    CatalogueRepository(catalogue_database).upsert_many([newcomer])

    ticker.now += 10  # too soon: ranked, but without a vector
    soon = recommender.recommend(request("noise cancelling headphones"), top_k=6)
    assert "HP-9" not in recommender.index
    assert "HP-9" in skus(soon)

    ticker.now += 60
    later = recommender.recommend(request("noise cancelling headphones"), top_k=6)
    assert "HP-9" in recommender.index
    assert skus(later)[:2] == ["HP-9", "HP-1"]
    assert "Acme" in recommender.brands()


def test_votes_of_the_conversation_shape_its_ranking(recommender: Recommender) -> None:
    recommender.feedback.record_vote("conv-1", "HP-1", Vote.DOWN)

    mine = recommender.recommend(request("noise cancelling headphones"), conversation_id="conv-1")
    theirs = recommender.recommend(request("noise cancelling headphones"), conversation_id="conv-2")

    assert skus(mine) == ["HP-2", "HP-4", "HP-6"]
    assert skus(theirs) == ["HP-1", "HP-2", "HP-4"]


def test_a_liked_product_outside_the_budget_still_lifts_similar_ones(
    recommender: Recommender,
) -> None:
    recommender.feedback.record_vote("conv-1", "HP-1", Vote.UP)  # €329
    recommender.feedback.record_vote("conv-1", "LT-1", Vote.UP)  # another category

    result = recommender.recommend(
        SearchRequest(StatedNeed("", category_key="headphones", budget_min_cents=40000)),
        conversation_id="conv-1",
    )

    assert isinstance(result, Recommendations)
    (item,) = result.items
    assert item.sku == "HP-2"
    assert item.reasons[-1] == (
        "similar to the Sony WH-1000XM5 Noise Cancelling Headphones you liked"
    )


def test_more_like_uses_the_stored_vector_not_the_model(
    recommender: Recommender, fake_embedder: FakeEmbedder
) -> None:
    recommender.load()
    before = fake_embedder.texts_embedded
    base = request("headphones")

    result = recommender.recommend(
        SearchRequest(base.need, like_sku="HP-1", exclude_skus=("HP-1",))
    )

    assert skus(result) == ["HP-2", "HP-4", "HP-6"]
    assert fake_embedder.texts_embedded == before


def test_nothing_matching_is_a_result(recommender: Recommender) -> None:
    result = recommender.recommend(request("headphones under 40 euros"))

    assert isinstance(result, NoMatch)
    assert result.relaxations[0].suggestion == "raise the budget to €59"


def test_products_looked_up_by_sku_keep_their_order(recommender: Recommender) -> None:
    assert [p.sku for p in recommender.products(["LT-2", "NOPE", "HP-1", "LT-2"])] == [
        "LT-2",
        "HP-1",
    ]


def test_the_query_text_falls_back_to_what_the_slots_said() -> None:
    need = StatedNeed(
        "", category_key="running_shoes", features=("noise_cancelling",), brands_wanted=("Nike",)
    )

    assert query_text(need) == "running shoes noise cancelling Nike"
    assert query_text(StatedNeed("  quiet dishwasher ", category_key="dishwashers")) == (
        "quiet dishwasher"
    )
    assert (
        query_text(
            StatedNeed("something for work", category_key="laptops", brands_wanted=("Dell",))
        )
        == "something for work laptops Dell"
    )
    assert query_text(StatedNeed("")) == ""


def test_an_unreachable_database_is_reported(fake_embedder: FakeEmbedder) -> None:
    unreachable = Settings(database_url="postgresql://postgres@127.0.0.1:1/shop?connect_timeout=2")
    recommender = Recommender(Database(unreachable), fake_embedder)

    with pytest.raises(DatabaseUnavailable):
        recommender.recommend(request("headphones"))
    assert fake_embedder.calls == []


class SpyScorer(KeywordScorer):
    def __init__(self) -> None:
        super().__init__()
        self.queries: List[Tuple[str, List[str]]] = []

    def scores(self, query: str, candidates: Sequence[ProductRecord]) -> Dict[str, float]:
        self.queries.append((query, [record.sku for record in candidates]))
        return super().scores(query, candidates)


def test_the_need_is_scored_by_keywords_over_the_category(
    catalogue_database: Database, fake_embedder: FakeEmbedder
) -> None:
    spy = SpyScorer()
    recommender = Recommender(catalogue_database, fake_embedder, keywords=spy)

    result = recommender.recommend(request("headphones with 60 hours of battery"))

    assert spy.queries == [
        ("headphones with 60 hours of battery", ["HP-1", "HP-2", "HP-3", "HP-4", "HP-5", "HP-6"])
    ]
    assert skus(result)[0] == "HP-4"
    assert DEFAULT_WEIGHTS.keyword == 1.5


def test_keywords_are_not_used_for_more_like_or_at_weight_zero(
    catalogue_database: Database, fake_embedder: FakeEmbedder
) -> None:
    spy = SpyScorer()
    Recommender(catalogue_database, fake_embedder, keywords=spy).recommend(
        SearchRequest(StatedNeed("headphones", category_key="headphones"), like_sku="HP-1")
    )
    unweighted = Recommender(
        catalogue_database, fake_embedder, keywords=spy, weights=Weights(keyword=0.0)
    )
    unweighted.recommend(request("noise cancelling headphones"))

    assert spy.queries == []
