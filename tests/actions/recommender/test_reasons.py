from dataclasses import replace

import pytest

from actions.needs import StatedNeed
from actions.recommender.reasons import (
    brand_reason,
    format_money,
    match_feature,
    price_reason,
    rating_reason,
    reasons_for,
)
from tests.actions.recommender.support import BY_SKU, CATALOGUE, product

TV = product("TV-1", "LG OLED55 TV", "headphones", "LG", 54900, rating=4.0, review_count=1)


@pytest.mark.parametrize(
    ("cents", "currency", "expected"),
    [
        (54900, "EUR", "€549"),
        (54999, "EUR", "€549.99"),
        (750, "GBP", "£7.50"),
        (2000, "USD", "$20"),
        (129900, "EUR", "€1,299"),
        (54900, "CHF", "549 CHF"),
        (-5100, "EUR", "-€51"),
    ],
)
def test_money_is_written_like_prices_on_the_site(cents: int, currency: str, expected: str) -> None:
    assert format_money(cents, currency) == expected


@pytest.mark.parametrize(
    ("need", "expected"),
    [
        (StatedNeed("tv", budget_max_cents=60000), "€549, €51 under your €600 budget"),
        (StatedNeed("tv", budget_max_cents=54900), "€549, right at your €549 budget"),
        (StatedNeed("tv", budget_max_cents=50000), "€549, €49 over your €500 budget"),
        (
            StatedNeed("tv", budget_min_cents=40000, budget_max_cents=60000),
            "€549, €51 under your €600 budget",
        ),
        (StatedNeed("tv", budget_min_cents=50000), "€549, above your €500 minimum"),
        (StatedNeed("tv"), "€549"),
        (StatedNeed("tv", budget_max_cents=60000, currency="GBP"), "€549"),
    ],
)
def test_the_price_is_set_against_the_budget(need: StatedNeed, expected: str) -> None:
    assert price_reason(TV, need) == expected


def test_brand_and_rating_reasons() -> None:
    need = StatedNeed("tv", brands_wanted=("lg",))

    assert brand_reason(TV, need) == "LG, a brand you asked for"
    assert brand_reason(TV, StatedNeed("tv")) is None
    assert rating_reason(TV) == "rated 4.0/5 from 1 review"
    assert rating_reason(replace(TV, rating=None, review_count=0)) is None
    assert rating_reason(BY_SKU["HP-6"]) == "rated 4.6/5 from 2,000 reviews"


def test_features_are_judged_as_the_vocabulary_says() -> None:
    headphones = [record for record in CATALOGUE if record.category_key == "headphones"]

    assert match_feature("noise_cancelling", BY_SKU["HP-1"], headphones).label == "noise cancelling"
    assert match_feature("noise_cancelling", BY_SKU["HP-3"], headphones) is None
    light = match_feature("lightweight", BY_SKU["HP-3"], headphones)
    assert light is not None and light.label == "lightweight (147 g)"
    assert match_feature("lightweight", BY_SKU["HP-4"], headphones) is None  # 293 g, the heaviest
    assert match_feature("gps", BY_SKU["HP-1"], headphones) is None  # no such attribute
    assert match_feature("no_such_feature", BY_SKU["HP-1"], headphones) is None
    machine = BY_SKU["CM-1"]
    assert match_feature("grinder", machine, [machine]).label == "built-in grinder"


def test_all_reasons_come_price_first() -> None:
    need = StatedNeed(
        "light noise cancelling sony headphones under 400",
        budget_max_cents=40000,
        brands_wanted=("Sony",),
        features=("noise_cancelling", "lightweight", "wireless"),
    )
    headphones = [record for record in CATALOGUE if record.category_key == "headphones"]
    record = BY_SKU["HP-1"]
    matches = [match_feature(key, record, headphones) for key in need.features]

    reasons = reasons_for(record, need, [m for m in matches if m], "you liked this one")

    assert reasons == (
        "€329, €71 under your €400 budget",
        "noise cancelling, wireless",  # 250 g is above the median: not "lightweight"
        "Sony, a brand you asked for",
        "rated 4.5/5 from 58 reviews",
        "you liked this one",
    )
