"""Properties of reading needs from text: budgets, currencies, brands, whole needs.

Hypothesis generates the texts; each property holds for every one of them.
"""

from typing import Optional

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from actions.catalogue_budget import Budget, parse_budget
from actions.catalogue_vocabulary import DEFAULT_BRANDS
from actions.needs import DEFAULT_CURRENCY, StatedNeed, find_brands, merge_need, parse_need
from actions.order_messages import format_money as shop_money
from actions.recommender.reasons import format_money as shown_money

CURRENCIES = ("EUR", "USD", "GBP", "CHF")
CURRENCY_WORDS = {
    "€": "EUR",
    "eur": "EUR",
    "euros": "EUR",
    "$": "USD",
    "usd": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "£": "GBP",
    "gbp": "GBP",
    "pounds": "GBP",
    "quid": "GBP",
    "chf": "CHF",
    "francs": "CHF",
}
PROPERTIES = settings(
    max_examples=150,
    deadline=None,  # the machine is shared; a slow example is not a failure
    database=None,  # leave no .hypothesis folder in the checkout
    suppress_health_check=[HealthCheck.too_slow],
)

# Text that looks like what customers write about prices, plus anything at all.
budget_words = st.sampled_from(
    [
        "under",
        "below",
        "max",
        "at least",
        "over",
        "around",
        "between",
        "and",
        "to",
        "-",
        "or less",
        "or more",
        "k",
        "grand",
        "budget",
        "not more than",
        "~",
        "ish",
        *CURRENCY_WORDS,
    ]
)
numbers = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(str),
    st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False).map(str),
    st.sampled_from(["1,299.99", "1.299,99", "2.000", "12,50", "1'000", "0.5", "4k"]),
)
budget_texts = st.lists(st.one_of(budget_words, numbers), max_size=8).map(" ".join)
any_texts = st.one_of(st.text(max_size=300), budget_texts)
cents = st.integers(min_value=0, max_value=10**10)


def assert_sane(budget: Optional[Budget]) -> None:
    if budget is None:
        return
    assert budget.min_cents is not None or budget.max_cents is not None
    for limit in (budget.min_cents, budget.max_cents):
        assert limit is None or (isinstance(limit, int) and limit >= 0)
    if budget.min_cents is not None and budget.max_cents is not None:
        assert budget.min_cents <= budget.max_cents
    assert budget.currency in (None, *CURRENCIES)


@PROPERTIES
@given(any_texts)
@example("between 400 and 200 euros")
@example("at least 900 but under 300")
@example("\x00\ud800 under €-5 %s {0}")
def test_any_text_gives_no_budget_or_an_ordered_non_negative_one(text: str) -> None:
    assert_sane(parse_budget(text))


@PROPERTIES
@given(cents, st.sampled_from(CURRENCIES))
def test_an_upper_limit_the_bot_wrote_reads_back_the_same(amount: int, currency: str) -> None:
    for written in (shown_money(amount, currency), shop_money(amount, currency)):
        assert parse_budget(f"under {written}") == Budget(None, amount, currency), written
        assert parse_budget(f"at least {written}") == Budget(amount, None, currency), written


@PROPERTIES
@given(cents, cents, st.sampled_from(CURRENCIES))
def test_a_range_the_bot_wrote_reads_back_ordered(low: int, high: int, currency: str) -> None:
    text = f"between {shown_money(low, currency)} and {shown_money(high, currency)}"
    assert parse_budget(text) == Budget(min(low, high), max(low, high), currency)


@PROPERTIES
@given(st.integers(min_value=1, max_value=99_999), st.sampled_from(sorted(CURRENCY_WORDS)))
def test_the_currency_named_is_the_currency_read(amount: int, word: str) -> None:
    expected = CURRENCY_WORDS[word]
    before = word in ("€", "$", "£")
    text = f"under {word}{amount}" if before else f"under {amount} {word}"
    assert parse_budget(text) == Budget(None, amount * 100, expected)


@PROPERTIES
@given(any_texts)
def test_a_whole_need_is_consistent(text: str) -> None:
    need = parse_need(text)
    assert need.text == text.strip()
    assert_sane(
        Budget(need.budget_min_cents, need.budget_max_cents, need.currency)
        if need.has_budget
        else None
    )
    if not need.currency_stated:
        assert need.currency == DEFAULT_CURRENCY
    assert not set(need.brands_wanted) & set(need.brands_excluded)
    assert set(need.brands_wanted) | set(need.brands_excluded) <= set(DEFAULT_BRANDS)
    assert len(set(need.features)) == len(need.features)


@PROPERTIES
@given(any_texts, any_texts)
def test_merging_keeps_a_budget_ordered_and_brands_apart(first: str, second: str) -> None:
    merged = merge_need(parse_need(first), parse_need(second))
    assert isinstance(merged, StatedNeed)
    if merged.budget_min_cents is not None and merged.budget_max_cents is not None:
        assert merged.budget_min_cents <= merged.budget_max_cents
    assert not set(merged.brands_wanted) & set(merged.brands_excluded)


brands = st.sampled_from(DEFAULT_BRANDS)
exclusions = st.sampled_from(
    ["not", "no", "anything but", "except", "avoid", "without", "I don't like", "other than"]
)


@PROPERTIES
@given(exclusions, st.lists(brands, min_size=1, max_size=3, unique=True))
def test_a_brand_list_after_an_exclusion_is_excluded_whole(cue: str, excluded: list) -> None:
    text = f"headphones please, {cue} {' or '.join(excluded)}"
    assert find_brands(text) == ((), tuple(excluded))


@PROPERTIES
@given(brands, brands)
def test_a_wanted_brand_and_an_excluded_one_are_told_apart(wanted: str, excluded: str) -> None:
    assume(wanted != excluded)
    assert find_brands(f"I'd like {wanted}, but not {excluded}") == ((wanted,), (excluded,))


@PROPERTIES
@given(brands, st.sampled_from(["is out", "is a no-go", "is off the table", ", no thanks"]))
def test_an_exclusion_after_the_brand_excludes_it(brand: str, cue: str) -> None:
    assert find_brands(f"{brand} {cue}") == ((), (brand,))


@PROPERTIES
@given(st.text(max_size=200), st.lists(st.text(min_size=1, max_size=20), max_size=5))
def test_brands_of_any_catalogue_are_found_without_crashing(text: str, catalogue: list) -> None:
    wanted, excluded = find_brands(text, catalogue)
    assert set(wanted) | set(excluded) <= set(catalogue)
    assert not set(wanted) & set(excluded)
