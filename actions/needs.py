"""Reading a customer's stated needs: budget, category, brands and features.

:func:`parse_need` turns a message such as "noise cancelling earbuds under
200 euros, not Apple" into a :class:`StatedNeed`; :func:`merge_need` folds a
follow-up ("actually up to 250") into what was said before.

Budgets are read by :func:`actions.catalogue_budget.parse_budget`, in cents of
the currency the customer named (EUR when none was named); nothing is
converted. Categories, features and brands come from the tables of
:mod:`actions.catalogue_vocabulary`.
"""

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Iterable, List, Optional, Pattern, Sequence, Tuple

from actions.catalogue_budget import Budget, normalise, parse_budget
from actions.catalogue_vocabulary import BRAND_ALIASES, CATEGORIES, DEFAULT_BRANDS, FEATURES

__all__ = [
    "DEFAULT_CURRENCY",
    "Budget",
    "StatedNeed",
    "find_brands",
    "find_category",
    "find_features",
    "merge_need",
    "parse_budget",
    "parse_need",
]

DEFAULT_CURRENCY = "EUR"


@dataclass(frozen=True)
class StatedNeed:
    """What a customer said they want, in the catalogue's terms.

    Attributes:
        text: The customer's words (several messages joined after a merge).
        budget_min_cents: Lowest price wanted, in cents of ``currency``.
        budget_max_cents: Highest price wanted, in cents of ``currency``.
        currency: ISO code of the budget; ``EUR`` unless another was named.
        currency_stated: Whether the customer named the currency.
        category_key: Catalogue category key, e.g. ``headphones``.
        brands_wanted: Brands asked for, as the catalogue spells them.
        brands_excluded: Brands to leave out.
        features: Feature keys of :data:`actions.catalogue_vocabulary.FEATURES`.
    """

    text: str
    budget_min_cents: Optional[int] = None
    budget_max_cents: Optional[int] = None
    currency: str = DEFAULT_CURRENCY
    currency_stated: bool = False
    category_key: Optional[str] = None
    brands_wanted: Tuple[str, ...] = ()
    brands_excluded: Tuple[str, ...] = ()
    features: Tuple[str, ...] = ()

    @property
    def has_budget(self) -> bool:
        """Whether a lower or upper price limit was stated."""
        return self.budget_min_cents is not None or self.budget_max_cents is not None


# --- categories, brands, features -----------------------------------------------


def _phrase_regex(phrase: str) -> str:
    tokens = re.findall(r"[^\W_]+|[^\w\s'\-]", phrase.lower())
    return r"[\s'\-.]*".join(re.escape(token) for token in tokens)


@lru_cache(maxsize=1)
def _category_patterns() -> Tuple[Tuple[str, Pattern[str]], ...]:
    patterns = []
    for category in CATEGORIES:
        phrases = sorted(category.synonyms, key=len, reverse=True)
        body = "|".join(_phrase_regex(phrase) for phrase in phrases)
        if category.key == "smartwatches":
            body += r"|watch(?:es)?(?!\s+(?:tv|telly|movies?|films?|netflix|football|sports?|"
            body += r"series|shows?|videos?|youtube|out))"
        patterns.append((category.key, re.compile(rf"(?<!\w)(?:{body})(?!\w)")))
    return tuple(patterns)


_PURPOSE_BEFORE = re.compile(
    r"\b(?:for|with|to|fits?|from|of|than|compatible with|goes with|pair(?:ed|s)? with|"
    r"connects? to)(?:\s+(?:my|a|an|the|your|his|her|our|their|good|great|decent|nice|"
    r"big|small|new|old|\w+'s))*\s*$"
)


def find_category(text: str) -> Optional[str]:
    """Return the category key a message names, or None.

    When several are named, the first one that is not the purpose of another
    wins: "a backpack for my laptop" asks for a backpack.
    """
    text = normalise(text)
    found = []
    for key, pattern in _category_patterns():
        for match in pattern.finditer(text):
            found.append((match.start(), -(match.end() - match.start()), match.end(), key))
    chosen: List[Tuple[int, bool, str]] = []
    covered_to = -1
    for start, _, end, key in sorted(found):
        if start < covered_to:
            continue  # inside a longer mention ("laptop" in "laptop backpack")
        covered_to = end
        chosen.append((start, bool(_PURPOSE_BEFORE.search(text, 0, start)), key))
    for _, is_purpose, key in chosen:
        if not is_purpose:
            return key
    return chosen[0][2] if chosen else None


_BRAND_NOT_FOLLOWED_BY = {"Sage": r"\s+(?:green|colou?r)", "Polar": r"\s+(?:fleece|bear|night)"}
_FILLERS = r"(?:\s+(?:any|a|an|the|from|by|made by|of|brand|brands|anything|stuff|products?|more))*"
_EXCLUDE_BEFORE = re.compile(
    r"(?:\bnot|\bno|\bnever|anything but|anything except|everything but|\bexcept(?: for)?|"
    r"excluding|\bexclude|other than|rather than|instead of|apart from|\bbesides|"
    r"\bavoid(?:ing)?|\bwithout|\bhate|\bdislike|(?:do not|don'?t|dont) (?:like|want|trust)|"
    r"(?:not|n'?t) (?:a )?(?:big )?fan of|nothing (?:from|by)|stay away from|steer clear of|"
    r"\bskip|sick of|tired of|done with|had enough of)" + _FILLERS + r"\s*:?\s*$"
)
_NEUTRAL_BEFORE = re.compile(
    r"(?:(?:does ?n'?t|does not|don'?t|do not|needn'?t) (?:have|need) to be|not necessarily|"
    r"don'?t care (?:if it'?s|about))(?:\s+(?:a|an|the|from|by))*\s*$"
)
_LIST_GAP = re.compile(r"\s*(?:(?:,|/|&|\bor\b|\band\b|\bnor\b)\s*)+$")
_WANTED_AFTER = re.compile(
    r"\s*(?:is|are|would be|'s|'d be)\s+(?:fine|ok|okay|good|great|alright|welcome|preferred)\b"
)
_EXCLUDED_AFTER = re.compile(
    r"\s*(?:(?:is|are|'s)\s+)?(?:out\b|a no[\s-]?go|no[\s-]?go|not an option|off the table|"
    r"excluded)|\s*[,:]?\s*no thanks"
)


@lru_cache(maxsize=8)
def _brand_patterns(brands: Tuple[str, ...]) -> Tuple[Tuple[str, Pattern[str]], ...]:
    patterns = []
    for brand in brands:
        phrases = [brand, *BRAND_ALIASES.get(brand, ())]
        alternatives = []
        for phrase in phrases:
            regex = _phrase_regex(phrase)
            if phrase.lower().startswith("the ") and len(phrase.split()) > 1:
                regex = rf"(?:the[\s'\-.]*)?{_phrase_regex(phrase[4:])}"
            alternatives.append(regex)
        not_after = _BRAND_NOT_FOLLOWED_BY.get(brand)
        tail = rf"(?!\w)(?!{not_after})" if not_after else r"(?!\w)"
        patterns.append((brand, re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)}){tail}")))
    return tuple(patterns)


def find_brands(
    text: str, brands: Optional[Iterable[str]] = None
) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """Return the brands a message asks for and the ones it rules out.

    Exclusions: "not Nike", "no Apple please", "anything but Samsung", "except
    Sony", "avoid Dell", "I don't like Bose", "Samsung is out"; a list after one
    of those is excluded as a whole ("not Nike or Adidas"). "Doesn't have to be
    Apple" is neither.

    Args:
        text: The message.
        brands: Brand names as the catalogue spells them; by default
            :data:`actions.catalogue_vocabulary.DEFAULT_BRANDS`.

    Returns:
        (wanted, excluded), each in order of mention, without duplicates.
    """
    text = normalise(text)
    names = tuple(sorted(set(brands))) if brands is not None else DEFAULT_BRANDS
    mentions = []
    for brand, pattern in _brand_patterns(names):
        for match in pattern.finditer(text):
            mentions.append((match.start(), -(match.end() - match.start()), match.end(), brand))
    wanted: List[str] = []
    excluded: List[str] = []
    previous_end, previous_excluded = 0, False
    for start, _, end, brand in sorted(mentions):
        if start < previous_end:
            continue
        before, after = text[previous_end:start], text[end:]
        if _NEUTRAL_BEFORE.search(before):
            is_excluded = None
        elif _WANTED_AFTER.match(after):
            is_excluded = False
        else:
            is_excluded = bool(
                _EXCLUDE_BEFORE.search(before)
                or (previous_excluded and _LIST_GAP.fullmatch(before))
                or _EXCLUDED_AFTER.match(after)
            )
        if is_excluded is not None:
            (excluded if is_excluded else wanted).append(brand)
        previous_end, previous_excluded = end, bool(is_excluded)
    excluded_set = set(excluded)
    return (
        tuple(dict.fromkeys(b for b in wanted if b not in excluded_set)),
        tuple(dict.fromkeys(excluded)),
    )


_NEGATED_FEATURE = re.compile(
    r"\b(?:no|not|without|don'?t|do not|doesn'?t|does not|needn'?t|never)\b(?:\s+[\w']+){0,3}\s*$"
)


@lru_cache(maxsize=1)
def _feature_patterns() -> Tuple[Tuple[str, Pattern[str]], ...]:
    return tuple(
        (feature.key, re.compile(rf"(?<!\w)(?:{'|'.join(feature.patterns)})(?!\w)"))
        for feature in FEATURES
    )


def find_features(text: str) -> Tuple[str, ...]:
    """Return the feature keys a message asks for, in order of mention.

    A feature the customer says they do not need ("doesn't need to be
    waterproof") is left out.
    """
    text = normalise(text)
    found = []
    for key, pattern in _feature_patterns():
        for match in pattern.finditer(text):
            clause = re.split(r"[.,;!?]", text[: match.start()])[-1]
            if not _NEGATED_FEATURE.search(clause):
                found.append((match.start(), key))
                break
    return tuple(dict.fromkeys(key for _, key in sorted(found)))


# --- the whole need ---------------------------------------------------------------


def parse_need(text: str, *, brands: Optional[Iterable[str]] = None) -> StatedNeed:
    """Read everything a message says about the product wanted.

    Args:
        text: The customer's message.
        brands: The catalogue's brand names (e.g. from
            :meth:`actions.catalogue.CatalogueRepository.brands`); by default
            :data:`actions.catalogue_vocabulary.DEFAULT_BRANDS`.

    Returns:
        The stated need; fields the message says nothing about are empty.
    """
    budget = parse_budget(text)
    wanted, excluded = find_brands(text, brands)
    return StatedNeed(
        text=text.strip(),
        budget_min_cents=budget.min_cents if budget else None,
        budget_max_cents=budget.max_cents if budget else None,
        currency=(budget.currency if budget and budget.currency else DEFAULT_CURRENCY),
        currency_stated=bool(budget and budget.currency),
        category_key=find_category(text),
        brands_wanted=wanted,
        brands_excluded=excluded,
        features=find_features(text),
    )


def _union(first: Sequence[str], second: Sequence[str], without: Sequence[str]) -> Tuple[str, ...]:
    return tuple(dict.fromkeys(b for b in (*first, *second) if b not in set(without)))


def merge_need(previous: StatedNeed, update: StatedNeed) -> StatedNeed:
    """Fold a follow-up message's need into the earlier one.

    * A different category starts over: the update is returned as it is.
    * A new budget replaces the limits it states; the other limit is kept if it
      still fits ("under 600" then "at least 300" is 300-600). A budget in
      another currency replaces the old one entirely.
    * Brands and features accumulate; a brand now wanted is no longer
      excluded and the other way round.

    Args:
        previous: The need so far.
        update: The need read from the latest message.

    Returns:
        The combined need.
    """
    if update.category_key and previous.category_key not in (None, update.category_key):
        return update
    text = " ".join(part for part in (previous.text, update.text) if part)
    merged = replace(
        previous,
        text=text,
        category_key=update.category_key or previous.category_key,
        brands_wanted=_union(previous.brands_wanted, update.brands_wanted, update.brands_excluded),
        brands_excluded=_union(
            previous.brands_excluded, update.brands_excluded, update.brands_wanted
        ),
        features=_union(previous.features, update.features, ()),
    )
    if not update.has_budget:
        return merged
    currency = update.currency if update.currency_stated else previous.currency
    same_currency = currency == previous.currency
    low, high = update.budget_min_cents, update.budget_max_cents
    old_low, old_high = previous.budget_min_cents, previous.budget_max_cents
    if low is None and same_currency and old_low is not None:
        low = old_low if high is None or old_low <= high else None
    if high is None and same_currency and old_high is not None:
        high = old_high if old_high >= (low or 0) else None
    return replace(
        merged,
        budget_min_cents=low,
        budget_max_cents=high,
        currency=currency,
        currency_stated=previous.currency_stated or update.currency_stated,
    )
