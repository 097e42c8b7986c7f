"""Properties of reading order numbers (the order id entity) from text, with Hypothesis."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from actions.orders import parse_order_id

PROPERTIES = settings(max_examples=200, deadline=None, database=None)
CANONICAL = re.compile(r"ORD-[0-9]{6}")
digits6 = st.from_regex(r"[0-9]{6}", fullmatch=True)
spellings = st.sampled_from(
    ["ORD-{}", "ord-{}", "ORD {}", "ord{}", "Ord_{}", "ORD\u2013{}", "#{}", "# {}", "{}", "ord #{}"]
)
words = st.sampled_from(["my order", "is", "where's", "number:", "(", ")", "please", "?", ""])


@PROPERTIES
@given(st.text(max_size=300))
def test_any_text_gives_no_order_number_or_a_canonical_one(text: str) -> None:
    found = parse_order_id(text)
    assert found is None or CANONICAL.fullmatch(found)
    if found is not None:
        assert parse_order_id(found) == found


@PROPERTIES
@given(digits6, spellings, words, words)
def test_every_spelling_of_a_number_in_a_sentence_reads_canonically(
    number: str, spelling: str, before: str, after: str
) -> None:
    text = f"{before} {spelling.format(number)} {after}"
    assert parse_order_id(text) == f"ORD-{number}"


@PROPERTIES
@given(st.from_regex(r"[0-9]{1,5}|[0-9]{7,12}", fullmatch=True), spellings)
def test_numbers_of_other_lengths_are_not_order_numbers(number: str, spelling: str) -> None:
    assert parse_order_id(spelling.format(number)) is None
