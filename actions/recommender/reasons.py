"""Why a product fits: matched features, price against budget, brand, rating.

The texts are shown to customers, in English, e.g.::

    €549, €51 under your €600 budget
    noise cancelling, long battery (30 h)
    Sony, a brand you asked for
    rated 4.5/5 from 58 reviews
    similar to the Sony WH-1000XM5 you liked

Features are judged on the product's attributes as
:mod:`actions.catalogue_vocabulary` says: a flag must be true, an "equals"
feature must have one of its values, and a "low" or "high" feature (weight,
battery life) must be at least as good as the median of the products it is
compared with.
"""

from dataclasses import dataclass
from statistics import median
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from actions.catalogue_record import ProductRecord
from actions.catalogue_vocabulary import FEATURE_BY_KEY, Feature, FeatureKind
from actions.needs import StatedNeed

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}

FEATURE_LABELS: Dict[str, str] = {
    "noise_cancelling": "noise cancelling",
    "flat_feet": "made for flat feet",
    "stability": "stability support",
    "trail": "trail grip",
    "cushioned": "max cushioning",
    "long_battery": "long battery",
    "gps": "GPS",
    "cellular": "LTE",
    "oled": "OLED screen",
    "good_camera": "good camera",
    "milk_frother": "milk frother",
    "grinder": "built-in grinder",
    "robot": "robot vacuum",
    "pet_hair": "good with pet hair",
    "slimline": "slimline",
    "laptop_sleeve": "laptop sleeve",
    "four_season": "four-season",
}
"""How features read in reasons; the others read as their key with spaces."""

_UNITS: Dict[str, str] = {
    "battery_hours": "{} h",
    "runtime_min": "{} min",
    "weight_g": "{} g",
    "noise_db": "{} dB",
    "screen_inches": '{}"',
    "camera_mp": "{} MP",
    "charging_w": "{} W",
    "breathability_g": "{} g/m²",
}


def format_money(cents: int, currency: str) -> str:
    """Format a price the way the recommendations show it.

    Whole amounts have no decimals: "€549", "€549.99", "$20", "£7.50", and
    "549 CHF" for currencies without a symbol here.

    Args:
        cents: The amount in minor units.
        currency: ISO 4217 code.

    Returns:
        The amount with its currency.
    """
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(cents), 100)
    amount = f"{whole:,}" if not fraction else f"{whole:,}.{fraction:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _numeric(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def feature_label(key: str) -> str:
    """Return how a feature reads in a reason ("noise cancelling")."""
    return FEATURE_LABELS.get(key, key.replace("_", " "))


@dataclass(frozen=True)
class FeatureMatch:
    """A requested feature a product has.

    Attributes:
        key: The feature key.
        label: How it reads, with the value for graded features
            ("long battery (30 h)").
    """

    key: str
    label: str


def _attribute_of(feature: Feature, attributes: Mapping[str, Any]) -> Optional[str]:
    return next((name for name in feature.attributes if name in attributes), None)


def _graded_value(feature: Feature, record: ProductRecord) -> Tuple[Optional[str], Optional[float]]:
    name = _attribute_of(feature, record.attributes)
    return name, (_numeric(record.attributes[name]) if name else None)


class FeatureJudge:
    """Judges requested features of products against one pool of products.

    The medians that "low"/"high" features are compared with are computed once
    per attribute, so judging every product of a large pool stays linear.

    Args:
        pool: The products compared with each other (the ones that passed the
            hard filters).
    """

    def __init__(self, pool: Sequence[ProductRecord]) -> None:
        self._pool = pool
        self._medians: Dict[Tuple[str, str], float] = {}

    def _median(self, feature: Feature, name: str, value: float) -> float:
        key = (feature.key, name)
        if key not in self._medians:
            values = [
                v
                for attribute, v in (_graded_value(feature, other) for other in self._pool)
                if attribute == name and v is not None
            ]
            self._medians[key] = median(values) if values else value
        return self._medians[key]

    def match(self, key: str, record: ProductRecord) -> Optional[FeatureMatch]:
        """Tell whether a product has a requested feature.

        Args:
            key: A feature key of :data:`actions.catalogue_vocabulary.FEATURES`.
            record: The product.

        Returns:
            The match, or None if the product lacks the feature (or the key is unknown).
        """
        feature = FEATURE_BY_KEY.get(key)
        if feature is None:
            return None
        label = feature_label(key)
        if feature.kind in (FeatureKind.FLAG, FeatureKind.EQUALS):
            name = _attribute_of(feature, record.attributes)
            if name is None:
                return None
            value = record.attributes[name]
            if feature.kind is FeatureKind.FLAG:
                return FeatureMatch(key, label) if value is True else None
            return FeatureMatch(key, label) if value in feature.values else None
        name, number = _graded_value(feature, record)
        if name is None or number is None:
            return None
        middle = self._median(feature, name, number)
        better = number <= middle if feature.kind is FeatureKind.LOW else number >= middle
        if not better:
            return None
        shown = _UNITS.get(name, "{}").format(_number(number))
        return FeatureMatch(key, f"{label} ({shown})")

    def matches(self, need: StatedNeed, record: ProductRecord) -> Tuple[FeatureMatch, ...]:
        """Return the requested features a product has, in the order they were asked for."""
        found = (self.match(key, record) for key in need.features)
        return tuple(match for match in found if match is not None)


def match_feature(
    key: str, record: ProductRecord, pool: Sequence[ProductRecord]
) -> Optional[FeatureMatch]:
    """Tell whether a product has a requested feature, compared with ``pool``.

    A flag must be true, an "equals" feature must have one of its values, a
    "low"/"high" feature must be at least as good as the pool's median for the
    same attribute. See :class:`FeatureJudge`.
    """
    return FeatureJudge(pool).match(key, record)


def match_features(
    need: StatedNeed, record: ProductRecord, pool: Sequence[ProductRecord]
) -> Tuple[FeatureMatch, ...]:
    """Return the requested features a product has, in the order they were asked for."""
    return FeatureJudge(pool).matches(need, record)


def price_reason(record: ProductRecord, need: StatedNeed) -> str:
    """Describe the price against the budget: "€549, €51 under your €600 budget".

    Other forms: "€600, right at your €600 budget", "€549, above your €500
    minimum", and just "€549" without a budget in the product's currency.
    """
    price = format_money(record.price_cents, record.currency)
    if record.currency != need.currency:
        return price
    high, low = need.budget_max_cents, need.budget_min_cents
    if high is not None:
        budget = format_money(high, need.currency)
        if record.price_cents == high:
            return f"{price}, right at your {budget} budget"
        if record.price_cents < high:
            under = format_money(high - record.price_cents, need.currency)
            return f"{price}, {under} under your {budget} budget"
        over = format_money(record.price_cents - high, need.currency)
        return f"{price}, {over} over your {budget} budget"
    if low is not None and record.price_cents >= low:
        return f"{price}, above your {format_money(low, need.currency)} minimum"
    return price


def brand_reason(record: ProductRecord, need: StatedNeed) -> Optional[str]:
    """Return "Sony, a brand you asked for" when the brand was asked for."""
    wanted = {brand.lower() for brand in need.brands_wanted}
    return f"{record.brand}, a brand you asked for" if record.brand.lower() in wanted else None


def rating_reason(record: ProductRecord) -> Optional[str]:
    """Return "rated 4.5/5 from 58 reviews", or None for an unrated product."""
    if record.rating is None or record.review_count < 1:
        return None
    noun = "review" if record.review_count == 1 else "reviews"
    return f"rated {record.rating:.1f}/5 from {record.review_count:,} {noun}"


def liked_reason(liked_title: str, is_itself: bool) -> str:
    """Return why feedback favoured a product."""
    return "you liked this one" if is_itself else f"similar to the {liked_title} you liked"


def reasons_for(
    record: ProductRecord,
    need: StatedNeed,
    features: Sequence[FeatureMatch],
    liked: Optional[str] = None,
) -> Tuple[str, ...]:
    """Return all reasons for a product, price first.

    Args:
        record: The product.
        need: What the customer asked for.
        features: The requested features it has.
        liked: The feedback reason, if feedback favoured it.

    Returns:
        Price, features (one reason), brand, rating, feedback; missing ones left out.
    """
    reasons = [price_reason(record, need)]
    if features:
        reasons.append(", ".join(match.label for match in features))
    for reason in (brand_reason(record, need), rating_reason(record), liked):
        if reason:
            reasons.append(reason)
    return tuple(reasons)
