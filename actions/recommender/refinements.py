"""Follow-ups to a recommendation: cheaper, more like one of them, other brands.

Each refinement is a function of the previous :class:`SearchRequest` and the
products shown, returning the next request:

* :func:`cheaper`: the maximum budget drops below the cheapest product shown.
* :func:`more_like`: rank by similarity to the chosen product (which is not
  shown again), keeping the other constraints.
* :func:`other_brands`: the brands shown are excluded.

:func:`parse_refinement` recognises them in a message, from the buttons'
entities or from free text ("something cheaper", "more like the second one",
"show me other brands").
"""

import re
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Iterable, Mapping, Optional, Protocol, Sequence

from actions.catalogue_budget import normalise
from actions.recommender.payloads import SearchRequest


class ShownProduct(Protocol):
    """What a refinement needs of a product shown (a record or a recommendation)."""

    @property
    def sku(self) -> str:
        """The product's SKU."""
        ...

    @property
    def brand(self) -> str:
        """Its brand."""
        ...

    @property
    def price_cents(self) -> int:
        """Its price in cents of ``currency``."""
        ...

    @property
    def currency(self) -> str:
        """ISO code of the price."""
        ...


class RefinementKind(str, Enum):
    """The follow-ups the recommender understands."""

    CHEAPER = "cheaper"
    MORE_LIKE = "more_like"
    OTHER_BRANDS = "other_brands"


@dataclass(frozen=True)
class Refinement:
    """A follow-up request.

    Attributes:
        kind: Which follow-up.
        position: For ``MORE_LIKE``, the product's 1-based place in the list shown.
    """

    kind: RefinementKind
    position: Optional[int] = None


def cheaper(request: SearchRequest, shown: Sequence[ShownProduct]) -> SearchRequest:
    """Ask for products cheaper than every product shown.

    The maximum budget becomes one cent below the cheapest product shown (in
    the budget's currency); a minimum above it is dropped. With nothing shown
    the request is returned unchanged.
    """
    need = request.need
    prices = [p.price_cents for p in shown if p.currency == need.currency]
    if not prices:
        return request
    new_max = max(0, min(prices) - 1)
    if need.budget_max_cents is not None:
        new_max = min(new_max, need.budget_max_cents)
    new_min = need.budget_min_cents
    if new_min is not None and new_min > new_max:
        new_min = None
    return request.with_need(replace(need, budget_max_cents=new_max, budget_min_cents=new_min))


def more_like(
    request: SearchRequest, shown: Sequence[ShownProduct], position: int
) -> SearchRequest:
    """Ask for products similar to one shown, other constraints kept.

    Args:
        request: The previous request.
        shown: The products shown, in the order shown.
        position: The chosen product's 1-based place in ``shown``.

    Returns:
        A request ranked by similarity to that product, which is left out.

    Raises:
        ValueError: If ``position`` is not a place in ``shown``.
    """
    if not 1 <= position <= len(shown):
        raise ValueError(f"position {position} is not between 1 and {len(shown)}")
    sku = shown[position - 1].sku
    return replace(request, like_sku=sku, exclude_skus=(sku,))


def other_brands(request: SearchRequest, shown: Sequence[ShownProduct]) -> SearchRequest:
    """Ask for products of brands other than those shown.

    The brands shown join the excluded brands and leave the wanted ones.
    """
    need = request.need
    shown_brands = list(dict.fromkeys(p.brand for p in shown))
    lowered = {brand.lower() for brand in shown_brands}
    excluded = tuple(dict.fromkeys([*need.brands_excluded, *shown_brands]))
    wanted = tuple(b for b in need.brands_wanted if b.lower() not in lowered)
    return replace(
        request,
        need=replace(need, brands_excluded=excluded, brands_wanted=wanted),
        brands_only=request.brands_only and bool(wanted),
    )


def apply_refinement(
    refinement: Refinement, request: SearchRequest, shown: Sequence[ShownProduct]
) -> SearchRequest:
    """Apply a follow-up to the previous request.

    Raises:
        ValueError: For ``MORE_LIKE`` without a valid position.
    """
    if refinement.kind is RefinementKind.CHEAPER:
        return cheaper(request, shown)
    if refinement.kind is RefinementKind.OTHER_BRANDS:
        return other_brands(request, shown)
    return more_like(request, shown, refinement.position or 0)


# --- reading refinements from messages --------------------------------------------

_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
    "fourth": 4, "4th": 4, "fifth": 5, "5th": 5,
}  # fmt: skip
_POSITION = (
    r"(?:the\s+)?(?:#\s*|number\s+|no\.?\s*|option\s+)?"
    r"(\d|first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|last)"
)
_MORE_LIKE = re.compile(
    r"\b(?:more|others?|ones?|something|anything|products?|options?|stuff)\s+"
    r"(?:like|similar\s+to)\s+" + _POSITION + r"\b"
    r"|\bsimilar\s+to\s+" + _POSITION + r"\b"
    r"|\blike\s+(?:the\s+)?(\d|first|second|third|1st|2nd|3rd|last)\s+(?:one|option)\b"
)
_CHEAPER = re.compile(
    r"\b(?:cheaper|less\s+expensive|lower[\s-]priced|too\s+(?:expensive|pricey|much)|"
    r"more\s+affordable|budget\s+option)\b"
)
_OTHER_BRANDS = re.compile(
    r"\b(?:other|different|another|else's)\s+(?:brands?|makers?|manufacturers?)\b"
    r"|\bnot\s+(?:from\s+)?(?:these|those|this|that)\s+brands?\b"
)
_ONLY = r"(?:only|just|exclusively|nothing\s+but)"


def _position(raw: Optional[str], shown_count: int) -> Optional[int]:
    if raw is None:
        return None
    raw = raw.strip().lower().lstrip("#")
    if raw == "last":
        return shown_count or None
    if raw.isdigit():
        return int(raw)
    return _ORDINALS.get(raw)


def _entity(entities: Iterable[Mapping[str, Any]], name: str) -> Optional[str]:
    for entity in entities:
        if entity.get("entity") == name and entity.get("value") not in (None, ""):
            return str(entity["value"])
    return None


def parse_refinement(
    text: str, entities: Iterable[Mapping[str, Any]] = (), *, shown_count: int = 3
) -> Optional[Refinement]:
    """Recognise a follow-up in a message.

    The buttons send entities ``refinement`` (``cheaper``, ``more_like``,
    ``other_brands``) and ``position``; free text is read as well.

    Args:
        text: The message.
        entities: Its entities as Rasa extracts them.
        shown_count: How many products were shown (for "the last one").

    Returns:
        The refinement, or None if the message asks for none.
    """
    entities = list(entities)
    kind = _entity(entities, "refinement")
    if kind in {k.value for k in RefinementKind}:
        position = _position(_entity(entities, "position"), shown_count)
        if kind == RefinementKind.MORE_LIKE.value and position is None:
            position = _position(_more_like_position(text), shown_count) or 1
        return Refinement(RefinementKind(kind), position)
    lowered = normalise(text or "")
    raw_position = _more_like_position(lowered)
    if raw_position is not None:
        return Refinement(RefinementKind.MORE_LIKE, _position(raw_position, shown_count))
    if _OTHER_BRANDS.search(lowered):
        return Refinement(RefinementKind.OTHER_BRANDS)
    if _CHEAPER.search(lowered):
        return Refinement(RefinementKind.CHEAPER)
    return None


def _more_like_position(text: str) -> Optional[str]:
    match = _MORE_LIKE.search(normalise(text or ""))
    if match is None:
        return None
    return next(group for group in match.groups() if group)


def wants_only_brands(text: str, brands_wanted: Sequence[str]) -> bool:
    """Tell whether the customer will take the wanted brands only ("only Sony").

    Args:
        text: The customer's words.
        brands_wanted: The brands they asked for.

    Returns:
        True for "only Sony", "just Apple", "Sony only", "nothing but Bose".
    """
    lowered = normalise(text or "")
    for brand in brands_wanted:
        name = re.escape(brand.lower())
        if re.search(rf"\b{_ONLY}\s+(?:from\s+|by\s+)?{name}(?!\w)", lowered) or re.search(
            rf"(?<!\w){name}\s+only\b", lowered
        ):
            return True
    return False
