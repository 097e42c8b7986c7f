"""The recommender's evaluation set: stated needs with gold constraints.

:func:`load_eval` reads ``actions/data/recommender_eval.jsonl``; the
relevance rule (:func:`is_relevant`) judges catalogue products against a
need's gold constraints and attribute conditions, never against a system's
output. :func:`split_needs` divides the set into a tuning half and a reporting
half, so that weights chosen on one are measured on the other.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from actions.catalogue_record import ProductRecord

EVAL_FILE = Path(__file__).resolve().parent.parent / "data" / "recommender_eval.jsonl"
"""The evaluation set shipped with the project."""

OPS = ("==", "!=", "<=", ">=", "in")


@dataclass(frozen=True)
class GoldNeed:
    """One stated need of the evaluation set with its gold constraints."""

    id: str
    text: str
    category: str
    budget_min_cents: Optional[int] = None
    budget_max_cents: Optional[int] = None
    brands_wanted: Tuple[str, ...] = ()
    brands_excluded: Tuple[str, ...] = ()
    brands_only: bool = False
    features: Tuple[str, ...] = ()
    conditions: Tuple[Mapping[str, Any], ...] = ()
    relevant: Tuple[str, ...] = field(default=())

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "GoldNeed":
        """Read a line of the evaluation file.

        Raises:
            ValueError: If a field is missing or malformed.
        """
        for name in ("id", "text", "category"):
            if not isinstance(raw.get(name), str) or not raw[name].strip():
                raise ValueError(f"{name} must be a non-empty string")
        conditions = tuple(raw.get("conditions") or ())
        for condition in conditions:
            if condition.get("op") not in OPS or "attribute" not in condition:
                raise ValueError(f"bad condition {condition!r}")
        return cls(
            id=raw["id"],
            text=raw["text"],
            category=raw["category"],
            budget_min_cents=raw.get("budget_min_cents"),
            budget_max_cents=raw.get("budget_max_cents"),
            brands_wanted=tuple(raw.get("brands_wanted") or ()),
            brands_excluded=tuple(raw.get("brands_excluded") or ()),
            brands_only=bool(raw.get("brands_only", False)),
            features=tuple(raw.get("features") or ()),
            conditions=conditions,
            relevant=tuple(raw.get("relevant") or ()),
        )


def load_eval(path: Path = EVAL_FILE) -> List[GoldNeed]:
    """Read the evaluation set (one JSON object per line; blank lines skipped).

    Raises:
        ValueError: If a line is not a valid need, naming the line.
    """
    needs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            needs.append(GoldNeed.from_dict(json.loads(line)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path.name} line {number}: {exc}") from exc
    return needs


def satisfies_constraints(record: ProductRecord, gold: GoldNeed) -> bool:
    """Whether a product meets the need's hard constraints (not the features)."""
    if not record.in_stock or record.category_key != gold.category:
        return False
    if gold.budget_max_cents is not None and record.price_cents > gold.budget_max_cents:
        return False
    if gold.budget_min_cents is not None and record.price_cents < gold.budget_min_cents:
        return False
    brand = record.brand.lower()
    if brand in {b.lower() for b in gold.brands_excluded}:
        return False
    if gold.brands_only and brand not in {b.lower() for b in gold.brands_wanted}:
        return False
    return True


def meets_condition(record: ProductRecord, condition: Mapping[str, Any]) -> bool:
    """Whether a product's attribute passes one condition (a missing attribute fails)."""
    name, op, wanted = condition["attribute"], condition["op"], condition["value"]
    if name not in record.attributes or record.attributes[name] is None:
        return False
    value = record.attributes[name]
    if op == "==":
        return bool(value == wanted)
    if op == "!=":
        return bool(value != wanted)
    if op == "in":
        return value in wanted
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value <= wanted if op == "<=" else value >= wanted


def is_relevant(record: ProductRecord, gold: GoldNeed) -> bool:
    """The relevance rule: constraints, wanted brand if any, every condition."""
    if not satisfies_constraints(record, gold):
        return False
    if gold.brands_wanted and record.brand.lower() not in {b.lower() for b in gold.brands_wanted}:
        return False
    return all(meets_condition(record, condition) for condition in gold.conditions)


def relevant_skus(gold: GoldNeed, records: Sequence[ProductRecord]) -> List[str]:
    """Return the SKUs the relevance rule accepts, sorted."""
    return sorted(record.sku for record in records if is_relevant(record, gold))


@dataclass(frozen=True)
class EvalSplit:
    """The evaluation set in two disjoint halves.

    Attributes:
        tune: Needs on which ranking weights may be chosen.
        report: Needs on which results are reported.
    """

    tune: Tuple[GoldNeed, ...]
    report: Tuple[GoldNeed, ...]


def split_needs(needs: Sequence[GoldNeed]) -> EvalSplit:
    """Split the needs deterministically, the same way every time.

    Within each category, needs sorted by id alternate: the first, third,
    fifth, ... go to ``report``, the second, fourth, ... to ``tune`` (with 9
    needs per category: 5 to report, 4 to tune). The split depends on the ids
    only, never on any system's results.
    """
    by_category: Dict[str, List[GoldNeed]] = defaultdict(list)
    for need in needs:
        by_category[need.category].append(need)
    tune: List[GoldNeed] = []
    report: List[GoldNeed] = []
    for category in sorted(by_category):
        for position, need in enumerate(sorted(by_category[category], key=lambda n: n.id)):
            (tune if position % 2 else report).append(need)
    return EvalSplit(tune=tuple(tune), report=tuple(report))
