from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Sequence

import pytest

from actions.catalogue_record import ProductRecord
from actions.needs import parse_need
from actions.recommender.embeddings import product_text
from actions.recommender.index import ExactIndex
from actions.recommender.messages import no_match_text
from actions.recommender.payloads import (
    FeedbackEvent,
    NoMatch,
    RankingResult,
    Recommendations,
    RelaxKind,
    SearchRequest,
    Vote,
)
from actions.recommender.ranking import Weights, bayesian_rating, image_url, rank
from tests.actions.recommender.support import BY_SKU, CATALOGUE, FakeEmbedder, product

BRANDS = sorted({record.brand for record in CATALOGUE})
T0 = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)
EMBEDDER = FakeEmbedder()


def search(
    text: str,
    index: ExactIndex,
    *,
    feedback: Sequence[FeedbackEvent] = (),
    candidates: Sequence = CATALOGUE,
    top_k: int = 6,
    **request_options: object,
) -> RankingResult:
    need = parse_need(text, brands=BRANDS)
    request = SearchRequest(need, **request_options)  # type: ignore[arg-type]
    return rank(
        request,
        candidates,
        index=index,
        query=EMBEDDER.embed([need.text])[0],
        feedback=feedback,
        top_k=top_k,
    )


def found(result: RankingResult) -> Recommendations:
    assert isinstance(result, Recommendations), result
    return result


def skus(result: RankingResult) -> List[str]:
    return [item.sku for item in found(result).items]


def vote(sku: str, value: Vote, minutes: int = 0) -> FeedbackEvent:
    return FeedbackEvent("conv-1", sku, value, T0 + timedelta(minutes=minutes))


# --- order and reasons ---------------------------------------------------------------


def test_products_are_ranked_by_fit_with_reasons(fake_index: ExactIndex) -> None:
    result = found(search("noise cancelling headphones under 400 euros", fake_index))

    assert [item.sku for item in result.items] == ["HP-1", "HP-4", "HP-6", "HP-3"]
    first = result.items[0]
    assert first.title == "Sony WH-1000XM5 Noise Cancelling Headphones"
    assert (first.category, first.brand, first.price_cents, first.currency) == (
        "headphones",
        "Sony",
        32900,
        "EUR",
    )
    assert first.reasons == (
        "€329, €71 under your €400 budget",
        "noise cancelling",
        "rated 4.5/5 from 58 reviews",
    )
    assert result.items[3].reasons == (
        "€59, €341 under your €400 budget",
        "rated 4.2/5 from 300 reviews",
    )
    scores = [item.score for item in result.items]
    assert scores == sorted(scores, reverse=True)


def test_top_k_limits_the_results(fake_index: ExactIndex) -> None:
    assert skus(search("noise cancelling headphones", fake_index, top_k=2)) == ["HP-1", "HP-2"]
    with pytest.raises(ValueError, match="top_k"):
        search("headphones", fake_index, top_k=0)


def test_graded_features_are_judged_against_the_other_candidates(fake_index: ExactIndex) -> None:
    result = found(search("wireless headphones with long battery", fake_index))

    reasons = {item.sku: item.reasons[1] for item in result.items}
    assert reasons == {
        "HP-3": "wireless, long battery (50 h)",
        "HP-4": "wireless, long battery (60 h)",
        "HP-1": "wireless, long battery (30 h)",
        "HP-2": "wireless",  # 24 h: below the median of the in-stock headphones
        "HP-6": "wireless",
    }
    assert [item.sku for item in result.items][:2] == ["HP-3", "HP-4"]


def test_the_rating_prior_trusts_many_reviews_over_few() -> None:
    def plain(sku: str, title: str, rating: Optional[float], reviews: int) -> ProductRecord:
        return product(sku, title, "headphones", "Acme", 10000, rating=rating, review_count=reviews)

    pool = [
        plain("A-1", "Plain Headphones", 5.0, 2),
        plain("A-2", "Plain Headphones", 4.6, 800),
        plain("A-3", "Plain Headphones", None, 0),
        plain("B-1", "Other Earphones", 4.0, 5),
        plain("B-2", "Other Earphones", 4.0, 5),
    ]
    index = ExactIndex([p.sku for p in pool], EMBEDDER.embed([product_text(p) for p in pool]))

    result = found(search("plain headphones", index, candidates=pool))

    # The mean rating is 4.4: A-1 counts as 4.44, A-2 as 4.59, unrated A-3 as 4.4.
    assert [item.sku for item in result.items][:3] == ["A-2", "A-1", "A-3"]
    assert result.items[2].reasons == ("€100",)
    assert bayesian_rating(5.0, 2, prior_mean=4.4, prior_reviews=25) == pytest.approx(4.4444444)
    assert bayesian_rating(None, 0, prior_mean=4.4, prior_reviews=25) == 4.4


# --- hard filters ------------------------------------------------------------------


def test_budget_category_stock_and_excluded_brands_filter(fake_index: ExactIndex) -> None:
    result = search("noise cancelling headphones under 300, not Sony", fake_index)

    # HP-3 is Sony, HP-5 sold out, HP-1 and HP-2 too dear, laptops another category.
    assert skus(result) == ["HP-4", "HP-6"]
    assert found(result).items[0].reasons[0] == "€279, €21 under your €300 budget"


def test_a_minimum_budget_filters_too(fake_index: ExactIndex) -> None:
    result = search("headphones over 300 euros", fake_index)

    assert sorted(skus(result)) == ["HP-1", "HP-2"]
    assert found(result).items[0].reasons[0] == "€449.95, above your €300 minimum"


def test_wanted_brands_boost_without_filtering(fake_index: ExactIndex) -> None:
    boosted = found(search("headphones from Sennheiser", fake_index))
    only = found(search("headphones from Sennheiser", fake_index, brands_only=True))

    assert [item.sku for item in boosted.items] == ["HP-4", "HP-1", "HP-2", "HP-6", "HP-3"]
    assert boosted.items[0].reasons == (
        "€279",
        "Sennheiser, a brand you asked for",
        "rated 4.4/5 from 90 reviews",
    )
    assert [item.sku for item in only.items] == ["HP-4"]


def test_prices_in_another_currency_do_not_pass_a_budget(fake_index: ExactIndex) -> None:
    dollars = [replace(BY_SKU["HP-3"], currency="USD")]

    assert isinstance(search("headphones under 100 euros", fake_index, candidates=dollars), NoMatch)
    assert found(search("headphones", fake_index, candidates=dollars)).items[0].reasons[0] == "$59"


# --- nothing passes: what to relax --------------------------------------------------


def test_a_budget_below_every_product_suggests_raising_it(fake_index: ExactIndex) -> None:
    result = search("headphones under 40 euros", fake_index)

    assert isinstance(result, NoMatch) and not result.category_empty
    assert [r.kinds for r in result.relaxations] == [(RelaxKind.BUDGET_MAX,)]
    assert result.relaxations[0].budget_max_cents == 5900
    assert no_match_text(result) == (
        "Sorry, I couldn't find any headphones up to €40. You could raise the budget to €59."
    )


def test_every_single_relaxation_that_helps_is_offered(fake_index: ExactIndex) -> None:
    result = search("headphones under 100, not Sony", fake_index)

    assert isinstance(result, NoMatch)
    assert [(r.kinds, r.suggestion) for r in result.relaxations] == [
        ((RelaxKind.BUDGET_MAX,), "raise the budget to €279"),
        ((RelaxKind.EXCLUDED_BRANDS,), "drop the brand exclusion (Sony)"),
        ((RelaxKind.IN_STOCK,), "include products that are sold out right now"),
    ]
    assert result.relaxations[1].brands == ("Sony",)
    assert no_match_text(result) == (
        "Sorry, I couldn't find any headphones up to €100, not from Sony. You could raise the "
        "budget to €279, or drop the brand exclusion (Sony), or include products that are sold "
        "out right now."
    )


def test_when_one_change_is_not_enough_a_combination_is_suggested(fake_index: ExactIndex) -> None:
    result = search("laptops under 500, not Dell, Lenovo or Acer", fake_index)

    assert isinstance(result, NoMatch)
    (relaxation,) = result.relaxations
    assert relaxation.kinds == (RelaxKind.BUDGET_MAX, RelaxKind.EXCLUDED_BRANDS)
    assert relaxation.suggestion == "raise the budget to €729 and drop the brand exclusion (Acer)"
    assert (relaxation.budget_max_cents, relaxation.brands) == (72900, ("Acer",))


def test_only_brands_and_minimum_budgets_can_be_relaxed(fake_index: ExactIndex) -> None:
    only = search("laptops from Sennheiser", fake_index, brands_only=True)
    minimum = search("laptops over 2000 euros", fake_index)

    assert isinstance(only, NoMatch) and isinstance(minimum, NoMatch)
    assert only.relaxations[0].suggestion == "look at brands other than Sennheiser"
    assert minimum.relaxations[0].suggestion == "lower the minimum to €1,729"
    assert no_match_text(minimum).startswith("Sorry, I couldn't find any laptops from €2,000.")


def test_an_empty_category_has_nothing_to_relax(fake_index: ExactIndex) -> None:
    result = search("coffee machine", fake_index, candidates=CATALOGUE[:9])

    assert isinstance(result, NoMatch)
    assert result.category_empty and result.relaxations == ()
    assert no_match_text(result) == "Sorry, we don't have any coffee machines at the moment."


# --- feedback ------------------------------------------------------------------------


def test_a_thumbs_down_removes_the_product_and_sinks_similar_ones(fake_index: ExactIndex) -> None:
    before = found(search("noise cancelling headphones", fake_index))
    disliked = [vote("HP-2", Vote.DOWN)]
    after = found(search("noise cancelling headphones", fake_index, feedback=disliked))

    assert [item.sku for item in before.items] == ["HP-1", "HP-2", "HP-4", "HP-6", "HP-3"]
    assert [item.sku for item in after.items] == ["HP-1", "HP-4", "HP-6", "HP-3"]
    score = {item.sku: item.score for item in before.items}
    penalised = {item.sku: score[item.sku] - item.score for item in after.items}
    assert penalised["HP-1"] > penalised["HP-6"] > 0  # HP-1 is closest to HP-2


def test_a_thumbs_up_lifts_the_product_and_similar_ones(fake_index: ExactIndex) -> None:
    liked = [vote("HP-1", Vote.UP)]
    result = found(search("noise cancelling headphones", fake_index, feedback=liked))

    assert [item.sku for item in result.items] == ["HP-1", "HP-2", "HP-4", "HP-6", "HP-3"]
    assert result.items[0].reasons[-1] == "you liked this one"
    assert result.items[1].reasons[-1] == (
        "similar to the Sony WH-1000XM5 Noise Cancelling Headphones you liked"
    )
    assert "liked" not in result.items[4].reasons[-1]


def test_a_liked_product_outside_the_candidates_still_lifts_similar_ones(
    fake_index: ExactIndex,
) -> None:
    result = found(
        search(
            "noise cancelling headphones",
            fake_index,
            feedback=[vote("HP-1", Vote.UP)],
            candidates=[BY_SKU["HP-2"], BY_SKU["HP-4"]],
        )
    )

    assert result.items[0].reasons[-1] == "similar to the product you liked"


def test_the_latest_vote_on_a_product_counts(fake_index: ExactIndex) -> None:
    changed_mind = [vote("HP-1", Vote.UP), vote("HP-1", Vote.DOWN, minutes=1)]

    result = search("noise cancelling headphones", fake_index, feedback=changed_mind)

    assert "HP-1" not in skus(result)


def test_disliking_every_match_leaves_nothing_to_relax(fake_index: ExactIndex) -> None:
    dislikes = [vote(sku, Vote.DOWN) for sku in ("LT-1", "LT-2", "LT-3")]

    result = search("laptop", fake_index, feedback=dislikes)

    assert isinstance(result, NoMatch) and result.relaxations == ()
    assert no_match_text(result) == (
        "Sorry, I couldn't find any laptops. Could you tell me a bit more about what you need?"
    )


def test_more_like_a_product_ranks_by_its_vector_and_leaves_it_out(fake_index: ExactIndex) -> None:
    need = parse_need("headphones", brands=BRANDS)
    request = SearchRequest(need, like_sku="HP-1", exclude_skus=("HP-1",))

    result = found(rank(request, CATALOGUE, index=fake_index, query=fake_index.vector("HP-1")))

    assert [item.sku for item in result.items] == ["HP-2", "HP-4", "HP-6"]


def test_products_without_a_vector_still_rank_without_similarity(fake_index: ExactIndex) -> None:
    newcomer = product("HP-9", "Noise Cancelling Headphones", "headphones", "Acme", 9900)

    candidates = [*CATALOGUE, newcomer]
    result = found(search("noise cancelling headphones", fake_index, candidates=candidates))

    by_sku = {item.sku: item for item in result.items}
    assert [item.sku for item in result.items] == ["HP-1", "HP-2", "HP-4", "HP-6", "HP-3", "HP-9"]
    assert by_sku["HP-9"].reasons == ("€99", "rated 4.0/5 from 10 reviews")
    assert found(rank(result.request, CATALOGUE, index=fake_index, query=None)).items


def test_keyword_scores_add_their_weight(fake_index: ExactIndex) -> None:
    need = parse_need("headphones", brands=BRANDS)
    query = EMBEDDER.embed([need.text])[0]
    plain = found(rank(SearchRequest(need), CATALOGUE, index=fake_index, query=query, top_k=6))
    boosted = found(
        rank(
            SearchRequest(need),
            CATALOGUE,
            index=fake_index,
            query=query,
            top_k=6,
            keyword={"HP-3": 0.5, "LT-1": 1.0},  # a laptop: filtered out all the same
            weights=Weights(keyword=1.5),
        )
    )

    before = {item.sku: item.score for item in plain.items}
    after = {item.sku: item.score for item in boosted.items}
    assert after.keys() == before.keys() == {"HP-1", "HP-2", "HP-3", "HP-4", "HP-6"}
    assert after["HP-3"] == pytest.approx(before["HP-3"] + 0.75)
    assert {sku: after[sku] for sku in after if sku != "HP-3"} == pytest.approx(
        {sku: before[sku] for sku in before if sku != "HP-3"}
    )
    assert skus(boosted)[0] == "HP-3"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://shop.example/p/1.jpg", "https://shop.example/p/1.jpg"),
        ("  HTTPS://shop.example/a.png ", "HTTPS://shop.example/a.png"),
        ("http://shop.example/a.png", None),
        ("javascript:alert(1)", None),
        ("https://shop.example/a b.png", None),
        ("https://" + "x" * 2000, None),
        (42, None),
    ],
)
def test_only_https_picture_addresses_are_shown(value: object, expected: Optional[str]) -> None:
    record = replace(BY_SKU["HP-1"], attributes={**BY_SKU["HP-1"].attributes, "image_url": value})

    assert image_url(record) == expected


def test_a_recommendation_carries_the_picture(fake_index: ExactIndex) -> None:
    pictured = replace(
        BY_SKU["HP-3"], attributes={**BY_SKU["HP-3"].attributes, "image_url": "https://s.example/3"}
    )
    candidates = [pictured if r.sku == "HP-3" else r for r in CATALOGUE]

    items = found(search("headphones", fake_index, candidates=candidates)).items

    by_sku = {item.sku: item for item in items}
    assert by_sku["HP-3"].image_url == "https://s.example/3"
    assert by_sku["HP-3"].to_dict()["image_url"] == "https://s.example/3"
    assert by_sku["HP-1"].image_url is None and "image_url" not in by_sku["HP-1"].to_dict()
