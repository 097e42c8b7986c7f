from typing import Optional, Tuple

import pytest

from actions.catalogue_vocabulary import DEFAULT_BRANDS
from actions.needs import (
    StatedNeed,
    find_brands,
    find_category,
    find_features,
    merge_need,
    parse_budget,
    parse_need,
)

# text, min cents, max cents, currency named (None: none named)
BUDGETS = [
    ("under 600 euros", None, 60000, "EUR"),
    ("below €600", None, 60000, "EUR"),
    ("max $800", None, 80000, "USD"),
    ("less than 1k", None, 100000, None),
    ("around 300", 25500, 34500, None),
    ("between 200 and 400 EUR", 20000, 40000, "EUR"),
    ("200-400€", 20000, 40000, "EUR"),
    ("£150 or less", None, 15000, "GBP"),
    ("up to 2.000 EUR", None, 200000, "EUR"),
    ("1,299.99", None, 129999, None),
    ("up to 1,299.99", None, 129999, None),
    ("max 1.299,99 €", None, 129999, "EUR"),
    ("under 2,000", None, 200000, None),
    ("under 12.50 euros", None, 1250, "EUR"),
    ("below 49,90 €", None, 4990, "EUR"),
    ("less than 100 bucks", None, 10000, "USD"),
    ("less than 100 pounds", None, 10000, "GBP"),
    ("200 quid", None, 20000, "GBP"),
    ("€500", None, 50000, "EUR"),
    ("500", None, 50000, None),
    ("under a grand", None, 100000, None),
    ("no more than 1500 euros", None, 150000, "EUR"),
    ("not more than 700", None, 70000, None),
    ("I don't want to spend more than 500", None, 50000, None),
    ("nothing over 800 please", None, 80000, None),
    ("I want to spend more than 500", 50000, None, None),
    ("at least 200", 20000, None, None),
    ("over €1000", 100000, None, "EUR"),
    ("500+", 50000, None, None),
    ("800 or more", 80000, None, None),
    ("at least 200 but under 400", 20000, 40000, None),
    ("around 1000 USD", 85000, 115000, "USD"),
    ("about 600 eur", 51000, 69000, "EUR"),
    ("roughly €50", 4250, 5750, "EUR"),
    ("300ish", 25500, 34500, None),
    ("a 300 euro phone", 25500, 34500, "EUR"),
    ("between $800 and $1200", 80000, 120000, "USD"),
    ("between €400 and €600", 40000, 60000, "EUR"),
    ("from 300 to 500 euros", 30000, 50000, "EUR"),
    ("between 1 and 1.5k", 100000, 150000, None),
    ("800-1.2k", 80000, 120000, None),
    ("1k - 2k", 100000, 200000, None),
    ("between 400 and 200", 20000, 40000, None),
    ("up to €250", None, 25000, "EUR"),
    ("CHF 300 max", None, 30000, "CHF"),
    ("1.5k max", None, 150000, None),
    ("budget 1500 euros", None, 150000, "EUR"),
    ("my budget is about 600 eur", 51000, 69000, "EUR"),
    ("for 800 euros", None, 80000, "EUR"),
    ("USD 950 at most", None, 95000, "USD"),
    ("2-person tent under 300", None, 30000, None),
    ("iPhone 15 under 900", None, 90000, None),
    ("18-55mm lens below 700", None, 70000, None),
    ("laptop with 16gb ram below 1000", None, 100000, None),
    ("a 65 inch 4K TV under 1500", None, 150000, None),
]

NO_BUDGET = [
    "a 65 inch 4K TV",
    "a tent for 4 people",
    "running shoes, size 42",
    "I have 2 dogs",
    "quiet, under 45 db",
    "battery of at least 30 hours",
    "a 2-person tent",
    "headphones with 30 hours battery",
    "iPhone 15",
    "something for my 3 kids",
    "",
]


@pytest.mark.parametrize("text, low, high, currency", BUDGETS)
def test_budgets(
    text: str, low: Optional[int], high: Optional[int], currency: Optional[str]
) -> None:
    budget = parse_budget(text)

    assert budget is not None, text
    assert (budget.min_cents, budget.max_cents, budget.currency) == (low, high, currency)


@pytest.mark.parametrize("text", NO_BUDGET)
def test_texts_without_a_budget(text: str) -> None:
    assert parse_budget(text) is None


# text, wanted, excluded
BRANDS = [
    ("not Nike", (), ("Nike",)),
    ("no Apple please", (), ("Apple",)),
    ("anything but Samsung", (), ("Samsung",)),
    ("except Sony", (), ("Sony",)),
    ("avoid Dell", (), ("Dell",)),
    ("excluding Bose", (), ("Bose",)),
    ("other than Canon", (), ("Canon",)),
    ("I don't want Samsung", (), ("Samsung",)),
    ("I don't like Xiaomi", (), ("Xiaomi",)),
    ("not a fan of Apple, maybe Google", ("Google",), ("Apple",)),
    ("nothing from Apple", (), ("Apple",)),
    ("Samsung is out", (), ("Samsung",)),
    ("Bose, no thanks", (), ("Bose",)),
    ("not Nike or Adidas", (), ("Nike", "Adidas")),
    ("no Apple, Samsung or Google", (), ("Apple", "Samsung", "Google")),
    ("Sony but not Bose", ("Sony",), ("Bose",)),
    ("I like Sony, avoid JBL", ("Sony",), ("JBL",)),
    ("not Nike, Asics is fine", ("Asics",), ("Nike",)),
    ("Apple or Samsung phone", ("Apple", "Samsung"), ()),
    ("Nike vs Asics", ("Nike", "Asics"), ()),
    ("I'm not sure, maybe Sony", ("Sony",), ()),
    ("no, Sony please", ("Sony",), ()),
    ("doesn't have to be Apple", (), ()),
    ("not necessarily Garmin", (), ()),
    ("delonghi or de'longhi", ("De'Longhi",), ()),
    ("a De’Longhi", ("De'Longhi",), ()),
    ("the north face or arcteryx", ("The North Face", "Arc'teryx"), ()),
    ("North Face", ("The North Face",), ()),
    ("fjallraven kanken", ("Fjällräven",), ()),
    ("an iPhone", ("Apple",), ()),
    ("not an iPhone", (), ("Apple",)),
    ("a thinkpad", ("Lenovo",), ()),
    ("no Samsung Galaxy", (), ("Samsung",)),
    ("sage green jacket", (), ()),
    ("the Sage Barista Express", ("Sage",), ()),
    ("SONY", ("Sony",), ()),
    ("sonyx", (), ()),
    ("running shoes for flat feet", (), ()),
]


@pytest.mark.parametrize("text, wanted, excluded", BRANDS)
def test_brands_and_exclusions(
    text: str, wanted: Tuple[str, ...], excluded: Tuple[str, ...]
) -> None:
    assert find_brands(text) == (wanted, excluded)


def test_brands_come_from_the_given_list() -> None:
    assert find_brands("Sony or Acme, not Globex", ["Acme", "Globex"]) == (("Acme",), ("Globex",))
    assert find_brands("Sony", ["Acme"]) == ((), ())


def test_every_default_brand_is_found_by_its_own_name() -> None:
    for brand in DEFAULT_BRANDS:
        assert find_brands(f"I'd like {brand}") == ((brand,), ()), brand
        assert find_brands(f"anything but {brand}") == ((), (brand,)), brand


CATEGORIES = [
    ("noise cancelling earbuds", "headphones"),
    ("a gaming headset", "headphones"),
    ("new notebook for uni", "laptops"),
    ("need a new mobile", "smartphones"),
    ("a phone with a great camera", "smartphones"),
    ("a telly for the bedroom", "televisions"),
    ("which tv should i buy", "televisions"),
    ("I want to watch movies, need a TV", "televisions"),
    ("a camera for vlogging", "cameras"),
    ("apple watch", "smartwatches"),
    ("a watch for running", "smartwatches"),
    ("an espresso machine", "coffee_machines"),
    ("coffee maker", "coffee_machines"),
    ("a bean-to-cup", "coffee_machines"),
    ("robot hoover", "vacuum_cleaners"),
    ("a vacuum", "vacuum_cleaners"),
    ("a quiet dishwasher", "dishwashers"),
    ("trail running shoes", "running_shoes"),
    ("trainers for the gym", "running_shoes"),
    ("a backpack for my laptop", "backpacks"),
    ("laptop backpack", "backpacks"),
    ("a rucksack", "backpacks"),
    ("a family tent", "tents"),
    ("waterproof jacket", "rain_jackets"),
    ("raincoat", "rain_jackets"),
    ("headphones for my phone", "headphones"),
    ("a fridge", None),
    ("sleeping bag for winter", None),
    ("hello", None),
]


@pytest.mark.parametrize("text, key", CATEGORIES)
def test_categories_from_synonyms(text: str, key: Optional[str]) -> None:
    assert find_category(text) == key


FEATURES = [
    ("noise cancelling and long battery life", ("noise_cancelling", "long_battery")),
    ("noise-canceling", ("noise_cancelling",)),
    ("with ANC", ("noise_cancelling",)),
    ("wireless earbuds", ("wireless",)),
    ("waterproof", ("waterproof",)),
    ("water resistant backpack", ("waterproof",)),
    ("for flat feet", ("flat_feet",)),
    ("I overpronate", ("flat_feet",)),
    ("a quiet dishwasher", ("quiet",)),
    ("lightweight tent", ("lightweight",)),
    ("something light", ("lightweight",)),
    ("light grey", ()),
    ("doesn't need to be waterproof", ()),
    ("I don't need noise cancelling", ()),
    ("no cables please", ("wireless",)),
    ("latte and cappuccino at the touch of a button", ("milk_frother",)),
    ("we have two dogs", ("pet_hair",)),
    ("a 4-season tent", ("four_season",)),
    ("with a laptop sleeve and a rain cover", ("laptop_sleeve", "rain_cover")),
    ("an OLED", ("oled",)),
    ("a robot vacuum", ("robot",)),
]


@pytest.mark.parametrize("text, keys", FEATURES)
def test_features(text: str, keys: Tuple[str, ...]) -> None:
    assert find_features(text) == keys


def test_parse_need_reads_everything_at_once() -> None:
    need = parse_need("Looking for noise cancelling earbuds under 200 euros, not Apple!")

    assert need == StatedNeed(
        text="Looking for noise cancelling earbuds under 200 euros, not Apple!",
        budget_max_cents=20000,
        currency="EUR",
        currency_stated=True,
        category_key="headphones",
        brands_excluded=("Apple",),
        features=("noise_cancelling",),
    )


def test_parse_need_records_other_currencies_and_defaults_to_eur() -> None:
    pounds = parse_need("Need a new mobile, max £300, not Xiaomi")
    plain = parse_need("running shoes for flat feet, Brooks or Asics")

    assert (pounds.currency, pounds.currency_stated, pounds.budget_max_cents) == (
        "GBP",
        True,
        30000,
    )
    assert pounds.category_key == "smartphones" and pounds.brands_excluded == ("Xiaomi",)
    assert (plain.currency, plain.currency_stated, plain.has_budget) == ("EUR", False, False)
    assert plain.brands_wanted == ("Brooks", "Asics")
    assert plain.features == ("flat_feet",)


def test_merge_refines_the_budget_and_accumulates() -> None:
    first = parse_need("headphones under 300, Sony or Bose")
    second = merge_need(first, parse_need("at least 100, and noise cancelling. Actually not Bose"))

    assert (second.budget_min_cents, second.budget_max_cents) == (10000, 30000)
    assert second.category_key == "headphones"
    assert second.brands_wanted == ("Sony",)
    assert second.brands_excluded == ("Bose",)
    assert second.features == ("noise_cancelling",)
    assert second.text.startswith("headphones under 300") and second.text.endswith("not Bose")


def test_merge_replaces_a_budget_limit_that_no_longer_fits() -> None:
    first = parse_need("laptop between 800 and 1000")

    raised = merge_need(first, parse_need("ok, up to 1500 then"))
    lowered = merge_need(first, parse_need("actually under 500"))

    assert (raised.budget_min_cents, raised.budget_max_cents) == (80000, 150000)
    assert (lowered.budget_min_cents, lowered.budget_max_cents) == (None, 50000)


def test_merge_keeps_the_stated_currency_and_drops_limits_in_another_one() -> None:
    pounds = parse_need("a tent, £150 or less")

    more = merge_need(pounds, parse_need("make it 200 max"))
    dollars = merge_need(parse_need("a tent over 100"), parse_need("max $300"))

    assert (more.currency, more.budget_max_cents) == ("GBP", 20000)
    assert (dollars.currency, dollars.budget_min_cents, dollars.budget_max_cents) == (
        "USD",
        None,
        30000,
    )


def test_merge_brand_changes_of_mind() -> None:
    first = parse_need("no Apple please")
    second = merge_need(first, parse_need("hmm, Apple would be fine actually"))

    assert second.brands_excluded == ()
    assert second.brands_wanted == ("Apple",)


def test_a_new_category_starts_a_new_need() -> None:
    first = parse_need("headphones under 300, not Sony")
    update = parse_need("show me laptops instead")

    assert merge_need(first, update) == update


def test_merge_with_an_empty_update_keeps_everything() -> None:
    first = parse_need("quiet dishwasher under 700, Bosch")

    merged = merge_need(first, parse_need(""))

    assert merged == first
