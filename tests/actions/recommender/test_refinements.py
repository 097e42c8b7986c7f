from typing import Any, Dict, List, Optional

import pytest

from actions.needs import StatedNeed
from actions.recommender.payloads import Recommendation, SearchRequest
from actions.recommender.refinements import (
    Refinement,
    RefinementKind,
    apply_refinement,
    cheaper,
    more_like,
    other_brands,
    parse_refinement,
    wants_only_brands,
)
from tests.actions.recommender.support import BY_SKU

NEED = StatedNeed(
    "noise cancelling headphones between 200 and 500 euros",
    budget_min_cents=20000,
    budget_max_cents=50000,
    category_key="headphones",
    brands_wanted=("Sony", "Bose"),
    brands_excluded=("Apple",),
    features=("noise_cancelling",),
)
REQUEST = SearchRequest(NEED)
SHOWN = [BY_SKU["HP-2"], BY_SKU["HP-1"], BY_SKU["HP-4"]]  # €449.95, €329, €279


def shown_as_recommendations() -> List[Recommendation]:
    return [
        Recommendation(r.sku, r.title, r.category_key, r.brand, r.price_cents, r.currency, 1.0)
        for r in SHOWN
    ]


def test_cheaper_puts_the_maximum_below_the_cheapest_product_shown() -> None:
    refined = cheaper(REQUEST, SHOWN)

    assert refined.need.budget_max_cents == 27899
    assert refined.need.budget_min_cents == 20000
    assert cheaper(REQUEST, shown_as_recommendations()) == refined
    assert refined.need.text == NEED.text and refined.need.features == NEED.features


def test_cheaper_drops_a_minimum_above_the_new_maximum() -> None:
    refined = cheaper(REQUEST, [BY_SKU["HP-3"]])  # €59

    assert (refined.need.budget_min_cents, refined.need.budget_max_cents) == (None, 5899)


def test_cheaper_without_a_budget_or_products_in_its_currency() -> None:
    no_budget = SearchRequest(StatedNeed("headphones", category_key="headphones"))

    assert cheaper(no_budget, SHOWN).need.budget_max_cents == 27899
    assert cheaper(REQUEST, []) == REQUEST
    pounds = SearchRequest(StatedNeed("headphones", currency="GBP"))
    assert cheaper(pounds, SHOWN) == pounds


def test_more_like_ranks_by_the_chosen_product_and_hides_it() -> None:
    refined = more_like(REQUEST, SHOWN, 2)

    assert refined.like_sku == "HP-1"
    assert refined.exclude_skus == ("HP-1",)
    assert refined.need == NEED
    with pytest.raises(ValueError, match="between 1 and 3"):
        more_like(REQUEST, SHOWN, 4)
    with pytest.raises(ValueError):
        more_like(REQUEST, SHOWN, 0)


def test_other_brands_excludes_the_brands_shown() -> None:
    refined = other_brands(SearchRequest(NEED, brands_only=True), SHOWN)

    assert refined.need.brands_excluded == ("Apple", "Bose", "Sony", "Sennheiser")
    assert refined.need.brands_wanted == ()
    assert refined.brands_only is False


def test_apply_refinement_dispatches() -> None:
    assert apply_refinement(Refinement(RefinementKind.CHEAPER), REQUEST, SHOWN) == cheaper(
        REQUEST, SHOWN
    )
    assert apply_refinement(Refinement(RefinementKind.MORE_LIKE, 1), REQUEST, SHOWN).like_sku == (
        "HP-2"
    )
    assert apply_refinement(
        Refinement(RefinementKind.OTHER_BRANDS), REQUEST, SHOWN
    ) == other_brands(REQUEST, SHOWN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("something cheaper please", Refinement(RefinementKind.CHEAPER)),
        ("that's too expensive", Refinement(RefinementKind.CHEAPER)),
        ("more like the second one", Refinement(RefinementKind.MORE_LIKE, 2)),
        ("show me more like #3", Refinement(RefinementKind.MORE_LIKE, 3)),
        ("anything similar to the first?", Refinement(RefinementKind.MORE_LIKE, 1)),
        ("I like the 2nd one, more like it", Refinement(RefinementKind.MORE_LIKE, 2)),
        ("others like the last one", Refinement(RefinementKind.MORE_LIKE, 3)),
        ("show me other brands", Refinement(RefinementKind.OTHER_BRANDS)),
        ("a different brand maybe", Refinement(RefinementKind.OTHER_BRANDS)),
        ("noise cancelling headphones", None),
        ("I'd like one that is like new", None),
        ("", None),
    ],
)
def test_refinements_are_read_from_text(text: str, expected: Optional[Refinement]) -> None:
    assert parse_refinement(text, shown_count=3) == expected


@pytest.mark.parametrize(
    ("entities", "expected"),
    [
        ([{"entity": "refinement", "value": "cheaper"}], Refinement(RefinementKind.CHEAPER)),
        (
            [{"entity": "refinement", "value": "more_like"}, {"entity": "position", "value": "2"}],
            Refinement(RefinementKind.MORE_LIKE, 2),
        ),
        ([{"entity": "refinement", "value": "more_like"}], Refinement(RefinementKind.MORE_LIKE, 1)),
        (
            [{"entity": "refinement", "value": "other_brands"}],
            Refinement(RefinementKind.OTHER_BRANDS),
        ),
        ([{"entity": "refinement", "value": "bogus"}], None),
    ],
)
def test_refinements_are_read_from_button_entities(
    entities: List[Dict[str, Any]], expected: Optional[Refinement]
) -> None:
    assert parse_refinement("/refine_recommendation", entities) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("only Sony please", True),
        ("just from Bose", True),
        ("Sony only", True),
        ("nothing but Sony", True),
        ("I like Sony", False),
        ("only noise cancelling ones from Sony", False),
    ],
)
def test_only_brands_is_read_from_text(text: str, expected: bool) -> None:
    assert wants_only_brands(text, ("Sony", "Bose")) is expected


def test_requests_round_trip_through_the_slot_as_json() -> None:
    request = SearchRequest(NEED, like_sku="HP-1", exclude_skus=("HP-1",), brands_only=True)

    assert SearchRequest.from_json(request.to_json()) == request
    assert SearchRequest.from_json(SearchRequest(StatedNeed("tv")).to_json()) == SearchRequest(
        StatedNeed("tv")
    )
    unknown_keys = '{"format": 1, "need": {"text": "x", "mood": "happy"}, "extra": 1}'
    assert SearchRequest.from_json(unknown_keys) == SearchRequest(StatedNeed("x"))


@pytest.mark.parametrize(
    "value",
    [None, "", "not json", "[]", '{"format": 99, "need": {}}', '{"format": 1}', 42,
     '{"format": 1, "need": {"text": "x", "budget_max_cents": "lots"}}',
     '{"format": 1, "need": {"text": "x", "budget_max_cents": true}}',
     '{"format": 1, "need": {"text": "x", "features": "gps"}}',
     '{"format": 1, "need": {"text": "x"}, "exclude_skus": [1]}',
     '{"format": 1, "need": {"text": "x"}, "like_sku": 5}'],
)  # fmt: skip
def test_unreadable_slot_values_give_no_request(value: Any) -> None:
    assert SearchRequest.from_json(value) is None
