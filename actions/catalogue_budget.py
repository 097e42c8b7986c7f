"""Reading budgets (price ranges) from customers' messages.

Used by :mod:`actions.needs`. Amounts are in cents of the currency the
customer named; nothing is converted. An amount counts as a budget only when a
currency or a cue word ("under", "max", "around", "budget", ...) comes with it,
or when the message is nothing but an amount, so "a 65 inch 4K TV" states no
budget.
"""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import List, Optional

AROUND_TOLERANCE = Decimal("0.15")
""""Around 300" means 300 give or take this fraction."""


@dataclass(frozen=True)
class Budget:
    """A price range read from text.

    Attributes:
        min_cents: Lowest price, None if open.
        max_cents: Highest price, None if open.
        currency: ISO code named with an amount, None if none was named.
    """

    min_cents: Optional[int]
    max_cents: Optional[int]
    currency: Optional[str]


_CURRENCIES = {
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "quid": "GBP",
    "chf": "CHF", "franc": "CHF", "francs": "CHF",
}  # fmt: skip
_MULTIPLIERS = {"k": 1000, "grand": 1000, "thousand": 1000}


def _amount(tag: str) -> str:
    return (
        rf"(?<![\w.,])(?P<{tag}pre>us\$|[€$£]|(?:eur|usd|gbp|chf)\b)?\s?"
        rf"(?P<{tag}num>\d{{1,3}}(?:[.,']\d{{3}})+(?:[.,]\d{{1,2}})?(?!\d)|\d+(?:[.,]\d{{1,2}})?(?!\d))"
        rf"(?:\s?(?P<{tag}mult>k|grand|thousand)\b)?"
        rf"(?:\s?(?P<{tag}post>[€$£]|(?:euros?|eur|usd|dollars?|bucks|gbp|pounds?|quid|chf|francs?)\b))?"
    )


_SINGLE = re.compile(_amount("a"))
_RANGES = (
    re.compile(rf"\bbetween\s+{_amount('a')}\s*(?:and|-|–|—|to)\s*{_amount('b')}"),
    re.compile(
        rf"(?:\bfrom\s+)?{_amount('a')}(?:\s*[-–—]\s*|\s+(?:to|till|until)\s+){_amount('b')}"
    ),
)
_UNIT_AFTER = re.compile(
    r"\s?-?\s?(?:(?:g|kg|kilos?|grams?|gb|tb|mb|mah|mp|megapixels?|inch(?:es)?|cm|mm|m|metres?|"
    r"meters?|km|l|litres?|liters?|ml|db|w|watts?|v|hz|hours?|hrs?|h|minutes?|mins?|days?|"
    r"weeks?|months?|years?|persons?|people|man|p|seasons?|x|nits|rpm|bar|atm|oz|lbs?|miles?|"
    r"st|nd|rd|th)\b|[%\"”″])"
)
_NUMBER_BEFORE = re.compile(r"(?:size|model|gen|generation|series|mark|number|no\.|#)\s*$")
_NEGATED_MORE = re.compile(
    r"\b(?:not|no|never|nothing|\w+n't|dont|cant|wont)\b[^.,;!?]{0,30}?(?:more than|over|above)\s*$"
)
_AROUND_BEFORE = re.compile(
    r"(?:\baround|\babout|approx(?:imately|\.)?|\broughly|\bcirca|\bca\.|~|"
    r"in the region of|more or less|give or take)\s*$"
)
_MAX_BEFORE = re.compile(
    r"(?:\bunder|\bbelow|\bbeneath|less than|lower than|cheaper than|\bmax(?:imum)?\.?:?|"
    r"at (?:the )?most|\bup ?to|no more than|no higher than|\bwithin|\bbudget(?: is| of)?:?|"
    r"\bspend(?:ing)?|\bpay(?:ing)?|\bafford|<=?|≤)\s*$"
)
# Cues that count only with a currency or "k" ("for 800 euros", not "for 2 kids").
_WEAK_MAX_BEFORE = re.compile(r"\b(?:for|have|got)\s*$")
_WEAK_AROUND_BEFORE = re.compile(r"\blike\s*$")
# "4k" is a resolution, not 4000 euros, when a screen word follows.
_RESOLUTION_AFTER = re.compile(
    r"\s*(?:tv|telly|oled|qled|screen|display|monitor|resolution|uhd|hdr|video|camera|"
    r"60|120|@|gaming|ultra hd)\b"
)
_MIN_BEFORE = re.compile(
    r"(?:\bover|\babove|more than|at least|\bmin(?:imum)?\.?:?|\bfrom|starting (?:at|from)|"
    r"upwards of|no less than|not less than|>=?|≥)\s*$"
)
_MAX_AFTER = re.compile(
    r"\s*(?:or (?:less|under|below|cheaper|lower)|max(?:imum)?|tops|at (?:the )?most)\b"
)
_MIN_AFTER = re.compile(
    r"\s*(?:\+|(?:or (?:more|above|over|higher)|and (?:up|above|over)|"
    r"plus|minimum|at least|upwards)\b)"
)
_AROUND_AFTER = re.compile(r"\s*(?:-?ish|or so|give or take|or thereabouts|more or less)\b")


def _number(raw: str) -> Optional[Decimal]:
    grouped = re.fullmatch(r"(\d{1,3})((?:[.,']\d{3})+)(?:([.,])(\d{1,2}))?", raw)
    if grouped:
        head, groups, point, fraction = grouped.groups()
        separators = set(groups[::4])
        if len(separators) != 1 or point in separators:
            return None
        return Decimal(head + re.sub(r"[.,']", "", groups) + (f".{fraction}" if point else ""))
    return Decimal(raw.replace(",", "."))


def _cents(value: Decimal) -> int:
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _value(match: "re.Match[str]", tag: str, multiplier: Optional[str] = None) -> Optional[Decimal]:
    number = _number(match.group(f"{tag}num"))
    factor = match.group(f"{tag}mult") or multiplier
    if number is None:
        return None
    return number * _MULTIPLIERS[factor] if factor else number


def _currency(match: "re.Match[str]", *tags: str) -> Optional[str]:
    for tag in tags:
        for part in ("pre", "post"):
            symbol = match.group(f"{tag}{part}")
            if symbol:
                return _CURRENCIES[symbol]
    return None


def normalise(text: str) -> str:
    """Lower-case text and straighten quotes; spell "a grand" as "1 grand"."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("\u00a0", " ")
    text = re.sub(r"\ba (grand|thousand)\b", r"1 \1", text)
    return re.sub(r"\ba hundred\b", "100", text)


def parse_budget(text: str) -> Optional[Budget]:
    """Read a price range from text.

    Understands "under 600 euros", "below €600", "max $800", "less than 1k",
    "around 300" (±15 %), "between 200 and 400 EUR", "200-400€", "£150 or less",
    "up to 2.000 EUR", "at least 500", "1,299.99", "under a grand" and more.
    Several limits combine ("at least 200 but under 400").

    Args:
        text: A message, or the text of a budget entity.

    Returns:
        The range, or None if the text states no budget.
    """
    text = normalise(text)
    lows: List[int] = []
    highs: List[int] = []
    currency: Optional[str] = None
    masked = text
    for pattern in _RANGES:
        for match in pattern.finditer(masked):
            if _UNIT_AFTER.match(masked, match.end()) or _NUMBER_BEFORE.search(
                masked, 0, match.start()
            ):
                continue
            first, second = _number(match.group("anum")), _number(match.group("bnum"))
            if first is None or second is None:
                continue
            # "1-1.5k" is 1000-1500, but "800-1.2k" is 800-1200.
            shared = match.group("bmult") if not match.group("amult") and first < second else None
            low, high = sorted((_value(match, "a", shared) or first, _value(match, "b") or second))
            lows.append(_cents(low))
            highs.append(_cents(high))
            currency = currency or _currency(match, "a", "b")
            masked = (
                masked[: match.start()]
                + " " * (match.end() - match.start())
                + masked[match.end() :]
            )
    for match in _SINGLE.finditer(masked):
        value = _value(match, "a")
        stated = _currency(match, "a")
        if value is None or (not stated and _UNIT_AFTER.match(masked, match.end())):
            continue
        if (
            match.group("amult") == "k"
            and not stated
            and _RESOLUTION_AFTER.match(masked, match.end())
        ):
            continue
        before, after = masked[: match.start()], masked[match.end() :]
        if _NEGATED_MORE.search(before) or _MAX_AFTER.match(after):
            kind = "max"
        elif _AROUND_BEFORE.search(before) or _AROUND_AFTER.match(after):
            kind = "around"
        elif _MAX_BEFORE.search(before):
            kind = "max"
        elif _MIN_BEFORE.search(before) or _MIN_AFTER.match(after):
            kind = "min"
        elif not (before + after).strip(" .!?"):
            kind = "max"  # the whole message is an amount: the answer to "what's your budget?"
        elif _WEAK_MAX_BEFORE.search(before) and (stated or match.group("amult")):
            kind = "max"
        elif _WEAK_AROUND_BEFORE.search(before) and (stated or match.group("amult")):
            kind = "around"
        elif stated:
            kind = "around"  # "a 300 euro phone"
        else:
            continue
        if kind in ("max", "around"):
            highs.append(_cents(value * (1 + AROUND_TOLERANCE) if kind == "around" else value))
        if kind in ("min", "around"):
            lows.append(_cents(value * (1 - AROUND_TOLERANCE) if kind == "around" else value))
        currency = currency or stated
    if not lows and not highs:
        return None
    low, high = (max(lows) if lows else None), (min(highs) if highs else None)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return Budget(min_cents=low, max_cents=high, currency=currency)
