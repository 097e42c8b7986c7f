"""The seed catalogue: valid, big enough, and consistent with the needs vocabulary."""

import re
from collections import Counter
from typing import Tuple

import pytest

from actions.catalogue import SEED_FILE, ProductRecord, read_catalogue
from actions.catalogue_vocabulary import (
    CATEGORY_BY_KEY,
    DEFAULT_BRANDS,
    FEATURES,
    FeatureKind,
)
from actions.needs import find_brands, find_category

REQUIRED_CATEGORIES = {
    "headphones", "laptops", "smartphones", "televisions", "cameras", "smartwatches",
    "coffee_machines", "vacuum_cleaners", "running_shoes", "backpacks", "tents", "rain_jackets",
}  # fmt: skip


@pytest.fixture(scope="module")
def seed() -> Tuple[ProductRecord, ...]:
    parsed = read_catalogue(SEED_FILE)
    assert [str(error) for error in parsed.errors] == []
    return parsed.records


def test_the_seed_file_validates_like_an_import(seed: Tuple[ProductRecord, ...]) -> None:
    assert len(seed) >= 12 * 25
    assert len({product.sku for product in seed}) == len(seed)
    assert len({product.title for product in seed}) == len(seed)


def test_at_least_twelve_categories_with_25_products_each(seed: Tuple[ProductRecord, ...]) -> None:
    counts = Counter(product.category_key for product in seed)

    assert REQUIRED_CATEGORIES <= set(counts)
    assert len(counts) >= 12
    assert min(counts.values()) >= 25, counts


def test_categories_match_the_vocabulary(seed: Tuple[ProductRecord, ...]) -> None:
    for product in seed:
        assert product.category == CATEGORY_BY_KEY[product.category_key].path, product.sku


def test_brands_are_the_known_brands_and_named_in_titles(seed: Tuple[ProductRecord, ...]) -> None:
    brands = {product.brand for product in seed}

    assert brands == set(DEFAULT_BRANDS)
    for product in seed:
        assert product.brand in find_brands(product.title)[0], product.title


def test_products_look_like_a_shop(seed: Tuple[ProductRecord, ...]) -> None:
    assert all(product.currency == "EUR" and product.price_cents > 0 for product in seed)
    assert any(product.stock == 0 for product in seed)
    assert sum(product.in_stock for product in seed) > 0.8 * len(seed)
    assert sum(product.rating is not None for product in seed) > 0.9 * len(seed)
    assert all((product.rating is None) == (product.review_count == 0) for product in seed)
    assert len({product.description for product in seed}) == len(seed)
    for product in seed:
        sentences = re.findall(r"[.!?](?=\s|$)", product.description)
        assert 1 <= len(sentences) <= 3, product.description
        assert not re.search(r"\bProduct \d+\b", product.title)


def test_every_feature_can_be_found_in_the_catalogue(seed: Tuple[ProductRecord, ...]) -> None:
    for feature in FEATURES:
        values = [
            product.attributes[name]
            for product in seed
            for name in feature.attributes
            if name in product.attributes
        ]
        assert values, f"no product has an attribute for {feature.key}"
        if feature.kind is FeatureKind.FLAG:
            assert any(value is True for value in values), feature.key
        elif feature.kind is FeatureKind.EQUALS:
            assert any(value in feature.values for value in values), feature.key
        else:
            assert all(isinstance(value, (int, float)) for value in values), feature.key


CATEGORY_ATTRIBUTES = {
    "headphones": {"noise_cancelling", "wireless", "weight_g", "type"},
    "running_shoes": {"support", "drop_mm", "for_flat_feet", "weight_g", "terrain"},
    "dishwashers": {"noise_db", "place_settings", "freestanding", "integrated", "energy_class"},
    "laptops": {"screen_inches", "ram_gb", "storage_gb", "weight_g", "battery_hours"},
    "tents": {"capacity", "seasons", "weight_g", "freestanding"},
    "rain_jackets": {"waterproof", "weight_g", "packable"},
}


@pytest.mark.parametrize("key, attributes", sorted(CATEGORY_ATTRIBUTES.items()))
def test_attributes_customers_ask_about(
    seed: Tuple[ProductRecord, ...], key: str, attributes: set
) -> None:
    for product in seed:
        if product.category_key == key:
            assert attributes <= set(product.attributes), product.sku
    if key == "running_shoes":
        supports = {p.attributes["support"] for p in seed if p.category_key == key}
        assert supports == {"neutral", "stability"}


def test_wireless_headphones_state_their_battery(seed: Tuple[ProductRecord, ...]) -> None:
    for product in seed:
        if product.category_key == "headphones" and product.attributes["wireless"]:
            assert product.attributes["battery_hours"] > 0, product.sku


def test_titles_name_their_category_often_enough(seed: Tuple[ProductRecord, ...]) -> None:
    named = [p for p in seed if find_category(p.title) is not None]

    assert all(find_category(p.title) == p.category_key for p in named), [
        (p.title, find_category(p.title)) for p in named if find_category(p.title) != p.category_key
    ]
    assert len(named) > len(seed) / 2
