"""The values that cross the recommender's boundaries, one definition each.

* :class:`SearchRequest`: what to look for (a stated need plus the state of
  the refinements); stored in the ``product_need`` slot as JSON.
* :class:`Recommendation`: one ranked product with the reasons it fits; what
  the action shows and the command line prints.
* :class:`Recommendations` / :class:`NoMatch`: the two outcomes of a ranking,
  :data:`RankingResult`. A search that finds nothing is a result that says
  which constraint to relax, not an exception.
* :class:`FeedbackEvent`: a thumbs up or down on a product in a conversation.

All are frozen dataclasses and free of database and model objects.
"""

import json
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Dict, Optional, Tuple, Union

from actions.needs import StatedNeed

_REQUEST_FORMAT = 1
"""Version of the JSON written by :meth:`SearchRequest.to_json`."""


@dataclass(frozen=True)
class SearchRequest:
    """What to recommend: the customer's need and the refinements applied to it.

    Attributes:
        need: The stated need (budget, category, brands, features, text).
        like_sku: Rank by similarity to this product instead of the need's
            text ("more like the second one").
        exclude_skus: Products never to show for this request (the product a
            "more like" search starts from).
        brands_only: Only the wanted brands qualify ("only Sony"); otherwise a
            wanted brand merely ranks higher.
    """

    need: StatedNeed
    like_sku: Optional[str] = None
    exclude_skus: Tuple[str, ...] = ()
    brands_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_skus", tuple(self.exclude_skus))

    def to_json(self) -> str:
        """Serialise the request for the ``product_need`` slot."""
        payload = {
            "format": _REQUEST_FORMAT,
            "need": asdict(self.need),
            "like_sku": self.like_sku,
            "exclude_skus": list(self.exclude_skus),
            "brands_only": self.brands_only,
        }
        return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, value: Any) -> Optional["SearchRequest"]:
        """Read a request written by :meth:`to_json`.

        Args:
            value: The slot value; anything else (None, garbage, an older
                format) yields None rather than an error.

        Returns:
            The request, or None if ``value`` does not hold one.
        """
        if not isinstance(value, str) or not value.strip():
            return None
        try:
            payload = json.loads(value)
            if not isinstance(payload, dict) or payload.get("format") != _REQUEST_FORMAT:
                return None
            need = _need_from_dict(payload["need"])
            like_sku = payload.get("like_sku")
            exclude_skus = payload.get("exclude_skus") or []
            if like_sku is not None and not isinstance(like_sku, str):
                return None
            if not isinstance(exclude_skus, list) or not all(
                isinstance(sku, str) for sku in exclude_skus
            ):
                return None
            return cls(
                need=need,
                like_sku=like_sku,
                exclude_skus=tuple(exclude_skus),
                brands_only=payload.get("brands_only") is True,
            )
        except (ValueError, TypeError, KeyError):
            return None

    def with_need(self, need: StatedNeed) -> "SearchRequest":
        """Return a copy with another need and the refinement state kept."""
        return replace(self, need=need)


_NEED_TYPES = {
    "text": (str,),
    "budget_min_cents": (int, type(None)),
    "budget_max_cents": (int, type(None)),
    "currency": (str,),
    "currency_stated": (bool,),
    "category_key": (str, type(None)),
}
_NEED_LISTS = ("brands_wanted", "brands_excluded", "features")


def _need_from_dict(raw: Any) -> StatedNeed:
    """Rebuild a need from :func:`dataclasses.asdict` output, checking every type.

    Raises:
        ValueError: If a field has the wrong type or ``text`` is missing.
    """
    if not isinstance(raw, dict) or "text" not in raw:
        raise ValueError("not a need")
    known = {item.name for item in fields(StatedNeed)}
    args: Dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            continue
        if key in _NEED_LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{key} must be a list of strings")
            value = tuple(value)
        elif not isinstance(value, _NEED_TYPES[key]) or (
            isinstance(value, bool) and bool not in _NEED_TYPES[key]
        ):
            raise ValueError(f"{key} has the wrong type")
        args[key] = value
    return StatedNeed(**args)


@dataclass(frozen=True)
class Recommendation:
    """A recommended product and why it fits.

    Attributes:
        sku: The product's SKU.
        title: Its name.
        category: Its category key, e.g. ``headphones``.
        brand: Its brand.
        price_cents: Its price in cents of ``currency``.
        currency: ISO 4217 code of the price.
        score: Ranking score; higher is better, comparable within one ranking.
        reasons: Why it fits, for customers: price against the budget first,
            then matched features, brand preference, rating and feedback.
        image_url: An https address of the product's picture, if the
            catalogue has one (attribute ``image_url``).
    """

    sku: str
    title: str
    category: str
    brand: str
    price_cents: int
    currency: str
    score: float
    reasons: Tuple[str, ...] = ()
    image_url: Optional[str] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reasons", tuple(self.reasons))

    @property
    def price(self) -> Decimal:
        """The price in units of ``currency`` (euros, not cents)."""
        return Decimal(self.price_cents) / 100

    def to_dict(self) -> Dict[str, Any]:
        """Return the recommendation as plain JSON-ready data (``image_url`` only if set)."""
        data: Dict[str, Any] = {
            "sku": self.sku,
            "title": self.title,
            "category": self.category,
            "brand": self.brand,
            "price": round(self.price_cents / 100, 2),
            "currency": self.currency,
            "score": round(self.score, 4),
            "reasons": list(self.reasons),
        }
        if self.image_url is not None:
            data["image_url"] = self.image_url
        return data


class RelaxKind(str, Enum):
    """A hard constraint a customer could give up to get results."""

    BUDGET_MAX = "budget_max"
    """Raise the maximum price."""
    BUDGET_MIN = "budget_min"
    """Lower the minimum price."""
    EXCLUDED_BRANDS = "excluded_brands"
    """Accept brands that were ruled out."""
    ONLY_BRANDS = "only_brands"
    """Accept brands other than the only ones asked for."""
    IN_STOCK = "in_stock"
    """Accept products that are sold out right now."""


@dataclass(frozen=True)
class Relaxation:
    """One way to get results: the constraints to relax and by how much.

    Attributes:
        kinds: The constraints to relax together (usually one).
        suggestion: What to tell the customer, e.g. "raise the budget to €729".
        available: How many products would then match.
        budget_max_cents: The new maximum price, for ``BUDGET_MAX``.
        budget_min_cents: The new minimum price, for ``BUDGET_MIN``.
        brands: The excluded brands to accept again, for ``EXCLUDED_BRANDS``.
    """

    kinds: Tuple[RelaxKind, ...]
    suggestion: str
    available: int
    budget_max_cents: Optional[int] = None
    budget_min_cents: Optional[int] = None
    brands: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendations:
    """A ranking that found products.

    Attributes:
        request: What was searched for.
        items: The best products, best first.
    """

    request: SearchRequest
    items: Tuple[Recommendation, ...]


@dataclass(frozen=True)
class NoMatch:
    """A ranking in which no product passed the hard filters.

    Attributes:
        request: What was searched for.
        relaxations: Ways to get results, most useful first; empty when no
            single change helps (e.g. the category has no products at all).
        category_empty: Whether the category itself has no products.
    """

    request: SearchRequest
    relaxations: Tuple[Relaxation, ...] = ()
    category_empty: bool = False


RankingResult = Union[Recommendations, NoMatch]
"""What :func:`actions.recommender.ranking.rank` returns."""


class Vote(str, Enum):
    """A customer's verdict on a recommended product."""

    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class FeedbackEvent:
    """A thumbs up or down on a product, within one conversation.

    Attributes:
        conversation_id: The Rasa sender id of the conversation.
        sku: The product judged.
        vote: Thumbs up or down.
        created_at: When the vote was cast (timezone-aware UTC).
        need_text: What the customer was looking for at the time, if known.
    """

    conversation_id: str
    sku: str
    vote: Vote
    created_at: datetime
    need_text: Optional[str] = field(default=None)
