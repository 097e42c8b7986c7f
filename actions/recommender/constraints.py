"""Hard filters of a search, and what to relax when nothing passes them.

A product qualifies when it is in the requested category, within the budget
(in the budget's currency), in stock, not of an excluded brand, of a wanted
brand only when the customer asked for those brands only, not disliked in
this conversation and not excluded by the request itself.

When no product qualifies, :func:`no_match` looks at the products that fail
only constraints a customer could give up (budget, brand exclusions, stock)
and suggests the smallest change that yields results, e.g. "raise the budget
to €729" when the cheapest otherwise matching product costs €729.
"""

from collections import defaultdict
from enum import Enum
from typing import AbstractSet, Dict, FrozenSet, List, Mapping, Sequence, Tuple

from actions.catalogue_record import ProductRecord
from actions.recommender.payloads import NoMatch, Relaxation, RelaxKind, SearchRequest
from actions.recommender.reasons import format_money

MAX_RELAXATIONS = 3
"""At most this many alternatives are suggested."""


class Constraint(str, Enum):
    """A hard filter a product can fail."""

    CATEGORY = "category"
    CURRENCY = "currency"
    BUDGET_MAX = "budget_max"
    BUDGET_MIN = "budget_min"
    EXCLUDED_BRANDS = "excluded_brands"
    ONLY_BRANDS = "only_brands"
    IN_STOCK = "in_stock"
    DISLIKED = "disliked"
    EXCLUDED_SKU = "excluded_sku"


RELAXABLE: Dict[Constraint, RelaxKind] = {
    Constraint.BUDGET_MAX: RelaxKind.BUDGET_MAX,
    Constraint.EXCLUDED_BRANDS: RelaxKind.EXCLUDED_BRANDS,
    Constraint.ONLY_BRANDS: RelaxKind.ONLY_BRANDS,
    Constraint.BUDGET_MIN: RelaxKind.BUDGET_MIN,
    Constraint.IN_STOCK: RelaxKind.IN_STOCK,
}
"""Constraints a customer can give up, in the order they are suggested."""

_PRIORITY = {kind: position for position, kind in enumerate(RELAXABLE.values())}


def failed_constraints(
    record: ProductRecord, request: SearchRequest, disliked: AbstractSet[str] = frozenset()
) -> FrozenSet[Constraint]:
    """Return the hard filters a product fails.

    Args:
        record: The product.
        request: What is searched for.
        disliked: Products the customer gave a thumbs down in this conversation.

    Returns:
        The failed constraints; empty if the product qualifies.
    """
    need = request.need
    failed = set()
    if need.category_key is not None and record.category_key != need.category_key:
        failed.add(Constraint.CATEGORY)
    if need.has_budget and record.currency != need.currency:
        failed.add(Constraint.CURRENCY)
    elif need.has_budget:
        if need.budget_max_cents is not None and record.price_cents > need.budget_max_cents:
            failed.add(Constraint.BUDGET_MAX)
        if need.budget_min_cents is not None and record.price_cents < need.budget_min_cents:
            failed.add(Constraint.BUDGET_MIN)
    brand = record.brand.lower()
    if brand in {name.lower() for name in need.brands_excluded}:
        failed.add(Constraint.EXCLUDED_BRANDS)
    if (
        request.brands_only
        and need.brands_wanted
        and brand not in {name.lower() for name in need.brands_wanted}
    ):
        failed.add(Constraint.ONLY_BRANDS)
    if not record.in_stock:
        failed.add(Constraint.IN_STOCK)
    if record.sku in disliked:
        failed.add(Constraint.DISLIKED)
    if record.sku in request.exclude_skus:
        failed.add(Constraint.EXCLUDED_SKU)
    return frozenset(failed)


def _excluded_brands_among(request: SearchRequest, products: Sequence[ProductRecord]) -> List[str]:
    present = {record.brand.lower() for record in products}
    return [brand for brand in request.need.brands_excluded if brand.lower() in present]


def _relaxation(
    request: SearchRequest,
    constraints: FrozenSet[Constraint],
    products: Sequence[ProductRecord],
    available: int,
) -> Relaxation:
    """Describe relaxing ``constraints`` so that ``products`` qualify."""
    kinds = tuple(sorted((RELAXABLE[c] for c in constraints), key=_PRIORITY.__getitem__))
    if len(kinds) > 1:
        # Several changes at once: describe them for the cheapest product, so
        # that the new budget and the brand to accept go together.
        products = [min(products, key=lambda record: (record.price_cents, record.sku))]
    need = request.need
    parts: List[str] = []
    new_max = new_min = None
    brands: Tuple[str, ...] = ()
    for kind in kinds:
        if kind is RelaxKind.BUDGET_MAX:
            new_max = min(record.price_cents for record in products)
            parts.append(f"raise the budget to {format_money(new_max, need.currency)}")
        elif kind is RelaxKind.BUDGET_MIN:
            new_min = max(record.price_cents for record in products)
            parts.append(f"lower the minimum to {format_money(new_min, need.currency)}")
        elif kind is RelaxKind.EXCLUDED_BRANDS:
            brands = tuple(_excluded_brands_among(request, products))
            parts.append(f"drop the brand exclusion ({', '.join(brands)})")
        elif kind is RelaxKind.ONLY_BRANDS:
            parts.append(f"look at brands other than {' or '.join(need.brands_wanted)}")
        else:
            parts.append("include products that are sold out right now")
    return Relaxation(
        kinds=kinds,
        suggestion=" and ".join(parts),
        available=available,
        budget_max_cents=new_max,
        budget_min_cents=new_min,
        brands=brands,
    )


def no_match(
    request: SearchRequest,
    candidates: Sequence[ProductRecord],
    failures: Mapping[str, FrozenSet[Constraint]],
) -> NoMatch:
    """Explain a search in which no product qualifies.

    Args:
        request: What was searched for.
        candidates: The products considered (at least the requested category).
        failures: Each candidate's failed constraints, by SKU.

    Returns:
        The smallest sets of constraints whose relaxation yields products,
        budget changes first, at most :data:`MAX_RELAXATIONS`.
    """
    category = request.need.category_key
    in_category = [r for r in candidates if category is None or r.category_key == category]
    by_set: Dict[FrozenSet[Constraint], List[ProductRecord]] = defaultdict(list)
    for record in in_category:
        failed = failures.get(record.sku, frozenset())
        if failed and failed <= RELAXABLE.keys():
            by_set[failed].append(record)
    if not by_set:
        return NoMatch(request=request, relaxations=(), category_empty=not in_category)
    smallest = min(len(failed) for failed in by_set)
    relaxations = []
    for failed, products in by_set.items():
        if len(failed) != smallest:
            continue
        available = sum(len(others) for other, others in by_set.items() if other <= failed)
        relaxations.append(_relaxation(request, failed, products, available))
    relaxations.sort(key=lambda r: ([_PRIORITY[kind] for kind in r.kinds], -r.available))
    return NoMatch(request=request, relaxations=tuple(relaxations[:MAX_RELAXATIONS]))
