"""Offline evaluation of the recommender against stated needs with gold constraints.

::

    python -m actions.recommender.evaluation --out report.json [--eval FILE] [--top 5]
        [--threads 1]

The evaluation set (``actions/data/recommender_eval.jsonl`` by default) holds
one need per line: the customer's ``text``, its gold constraints (``category``,
``budget_min_cents``, ``budget_max_cents``, ``brands_wanted``,
``brands_excluded``, ``brands_only``, the feature keys ``features`` the parser
should find) and ``conditions``, attribute tests that spell out what the
requested features mean on this catalogue (``{"attribute": "noise_db", "op":
"<=", "value": 44}``; ops ``==``, ``!=``, ``<=``, ``>=``, ``in``), plus
``relevant``, the SKUs judged relevant.

**Relevance rule** (:func:`is_relevant`), applied to the seed catalogue's data
and never to the recommender's output, so the evaluation is not circular: a
product is relevant to a need when it satisfies the gold constraints
(:func:`satisfies_constraints`: in stock, in the category, within the budget,
not of an excluded brand, of a wanted brand when ``brands_only``), is of a
wanted brand whenever brands were named, and meets every attribute condition (a
product without the attribute does not). The ``relevant`` lists of the file are
that rule's output (:func:`relevant_skus`); a test checks they still agree.

**Systems.** Each need's text goes through :func:`actions.needs.parse_need`
(with the catalogue's brands) and :func:`wants_only_brands`, as the assistant
does, into a :class:`SearchRequest`, then

* the recommender: :meth:`Recommender.recommend` on a fresh SQLite database
  seeded from the seed catalogue, with the given embedder (MiniLM by default;
  product embeddings computed once);
* BM25 (:mod:`actions.recommender.bm25`) over the same product text the
  embeddings are computed from (:func:`product_text`), with IDF over the whole
  catalogue, ranking only the products that pass the recommender's own hard
  filters (:func:`failed_constraints`) for the same parsed request. Both
  systems therefore choose among the same products and the comparison isolates
  ranking.

**Metrics**, at ``k = --top``:

* constraint precision@k: share of the returned top-k products that satisfy
  the gold constraints, averaged over the needs with at least one result;
  plus how many needs got no result at all, and how many of those have
  relevant products (a miss);
* precision@k (relevant in top k / k, fewer results count as misses),
  recall@k (relevant in top k / relevant) and nDCG@k (binary gains,
  ``1/log2(rank + 1)``), averaged over the needs whose relevant set is not
  empty;
* for reference, the same metrics for "hard filters only": the products that
  pass the filters in SKU order, no ranking at all, which shows how much of
  each score the filters alone earn; and the best precision@k possible
  (``min(k, relevant) / k``), since some needs have fewer than k relevant
  products;
* parser accuracy per field: share of needs for which the parsed field equals
  the gold one (brands and features compared as sets).
"""

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from actions.catalogue_files import load_seed_catalogue
from actions.catalogue_record import ProductRecord
from actions.catalogue_store import CatalogueRepository
from actions.db import Database
from actions.needs import StatedNeed, parse_need
from actions.recommender.bm25 import BM25
from actions.recommender.constraints import failed_constraints
from actions.recommender.embeddings import Embedder, product_text
from actions.recommender.payloads import NoMatch, SearchRequest
from actions.recommender.refinements import wants_only_brands
from actions.recommender.service import Recommender
from actions.settings import Settings

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


# --- judging products against gold -------------------------------------------------


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


# --- metrics ------------------------------------------------------------------------


def precision_at_k(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """Relevant items among the first ``k``, divided by ``k``."""
    wanted = set(relevant)
    return sum(1 for sku in ranked[:k] if sku in wanted) / k


def recall_at_k(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """Relevant items among the first ``k``, divided by the number relevant (0 if none)."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    return sum(1 for sku in ranked[:k] if sku in wanted) / len(wanted)


def ndcg_at_k(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """Binary-gain nDCG: DCG of the first ``k`` over the DCG of a perfect ranking."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, sku in enumerate(ranked[:k]) if sku in wanted)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(wanted))))
    return dcg / ideal


def parser_fields(need: StatedNeed, brands_only: bool, gold: GoldNeed) -> Dict[str, bool]:
    """Compare a parsed need with the gold one, field by field."""
    fields = {
        "category": need.category_key == gold.category,
        "budget_max": need.budget_max_cents == gold.budget_max_cents,
        "budget_min": need.budget_min_cents == gold.budget_min_cents,
        "brands_wanted": set(need.brands_wanted) == set(gold.brands_wanted),
        "brands_excluded": set(need.brands_excluded) == set(gold.brands_excluded),
        "brands_only": brands_only == gold.brands_only,
        "features": set(need.features) == set(gold.features),
    }
    fields["all"] = all(fields.values())
    return fields


# --- running the systems ---------------------------------------------------------------


def seeded_database(folder: Path, records: Sequence[ProductRecord]) -> Database:
    """A fresh SQLite database in ``folder`` holding ``records`` and nothing else."""
    database = Database(Settings(database_url=f"sqlite:///{folder / 'eval.db'}"), seeders=[])
    CatalogueRepository(database).upsert_many(records)
    return database


class BM25Baseline:
    """BM25 over the products' embedding text, behind the recommender's hard filters."""

    def __init__(self, records: Sequence[ProductRecord]) -> None:
        self.records = list(records)
        self._position = {record.sku: i for i, record in enumerate(self.records)}
        self.bm25 = BM25([product_text(record) for record in self.records])

    def recommend(self, request: SearchRequest, top_k: int) -> List[str]:
        """Return the best SKUs among the products that pass the hard filters."""
        category = request.need.category_key
        positions = [
            self._position[record.sku]
            for record in self.records
            if (category is None or record.category_key == category)
            and not failed_constraints(record, request)
        ]
        return [self.records[i].sku for i, _ in self.bm25.rank(request.need.text, positions, top_k)]

    def filters_only(self, request: SearchRequest, top_k: int) -> List[str]:
        """Return the first SKUs, in SKU order, that pass the hard filters: no ranking."""
        category = request.need.category_key
        passing = sorted(
            record.sku
            for record in self.records
            if (category is None or record.category_key == category)
            and not failed_constraints(record, request)
        )
        return passing[:top_k]


def _mean(values: Sequence[float]) -> Optional[float]:
    return round(sum(values) / len(values), 4) if values else None


def _relevance(rankings: Sequence[Tuple[List[str], GoldNeed]], k: int) -> Dict[str, Any]:
    judged = [(ranked, gold) for ranked, gold in rankings if gold.relevant]
    return {
        "needs_judged": len(judged),
        "precision_at_k": _mean([precision_at_k(r, g.relevant, k) for r, g in judged]),
        "recall_at_k": _mean([recall_at_k(r, g.relevant, k) for r, g in judged]),
        "ndcg_at_k": _mean([ndcg_at_k(r, g.relevant, k) for r, g in judged]),
        "precision_at_k_ceiling": _mean([min(k, len(g.relevant)) / k for _, g in judged]),
    }


def _ndcg_by_category(
    ours: Sequence[Tuple[List[str], GoldNeed]],
    theirs: Sequence[Tuple[List[str], GoldNeed]],
    k: int,
) -> Dict[str, Dict[str, Any]]:
    categories = sorted({gold.category for _, gold in ours})
    table = {}
    for category in categories:
        row: Dict[str, Any] = {}
        for name, rankings in (("recommender", ours), ("bm25", theirs)):
            judged = [(r, g) for r, g in rankings if g.category == category and g.relevant]
            row["needs_judged"] = len(judged)
            row[name] = _mean([ndcg_at_k(r, g.relevant, k) for r, g in judged])
        table[category] = row
    return table


def _constraint(
    rankings: Sequence[Tuple[List[str], GoldNeed]], by_sku: Mapping[str, ProductRecord], k: int
) -> Dict[str, Any]:
    shares, empty, missed = [], 0, 0
    for ranked, gold in rankings:
        top = ranked[:k]
        if not top:
            empty += 1
            missed += bool(gold.relevant)
            continue
        shares.append(sum(satisfies_constraints(by_sku[s], gold) for s in top) / len(top))
    return {
        "precision_at_k": _mean(shares),
        "needs_with_results": len(shares),
        "needs_without_results": empty,
        "needs_without_results_but_relevant": missed,
        "needs_fully_satisfied": sum(1 for share in shares if share == 1.0),
    }


def evaluate(
    needs: Sequence[GoldNeed],
    records: Sequence[ProductRecord],
    embedder: Embedder,
    *,
    top: int = 5,
    folder: Optional[Path] = None,
) -> Dict[str, Any]:
    """Run every need through the recommender and BM25 and compute the metrics.

    Args:
        needs: The evaluation set.
        records: The catalogue (the seed catalogue in the real run).
        embedder: The model the recommender uses.
        top: ``k`` of the metrics and the number of products asked for.
        folder: Where the temporary database goes; a new temporary folder if None.

    Returns:
        The report (JSON-serialisable), per-need details under ``per_need``.
    """
    by_sku = {record.sku: record for record in records}
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        database = seeded_database(Path(tmp), records)
        try:
            recommender = Recommender(database, embedder)
            started = time.perf_counter()
            recommender.refresh()
            embed_s = time.perf_counter() - started
            brands = recommender.brands()
            baseline = BM25Baseline(records)
            ours, theirs, unranked, per_need = [], [], [], []
            parsed_fields: List[Dict[str, bool]] = []
            started = time.perf_counter()
            for gold in needs:
                need = parse_need(gold.text, brands=brands)
                only = wants_only_brands(gold.text, need.brands_wanted)
                request = SearchRequest(need=need, brands_only=only)
                result = recommender.recommend(request, top_k=top)
                ranked = [] if isinstance(result, NoMatch) else [i.sku for i in result.items]
                bm25_ranked = baseline.recommend(request, top)
                ours.append((ranked, gold))
                theirs.append((bm25_ranked, gold))
                unranked.append((baseline.filters_only(request, top), gold))
                fields = parser_fields(need, only, gold)
                parsed_fields.append(fields)
                per_need.append(
                    {
                        "id": gold.id,
                        "text": gold.text,
                        "parsed": {
                            "category": need.category_key,
                            "budget_min_cents": need.budget_min_cents,
                            "budget_max_cents": need.budget_max_cents,
                            "brands_wanted": list(need.brands_wanted),
                            "brands_excluded": list(need.brands_excluded),
                            "brands_only": only,
                            "features": list(need.features),
                        },
                        "parser_wrong": sorted(f for f, ok in fields.items() if not ok),
                        "recommender": ranked,
                        "bm25": bm25_ranked,
                        "relevant": list(gold.relevant),
                        "violations": [
                            s for s in ranked[:top] if not satisfies_constraints(by_sku[s], gold)
                        ],
                    }
                )
            query_s = time.perf_counter() - started
        finally:
            database.dispose()
    names = [name for name in parsed_fields[0]] if parsed_fields else []
    return {
        "needs": len(needs),
        "top": top,
        "catalogue_products": len(records),
        "model": embedder.model_name,
        "constraint_satisfaction": {
            "recommender": _constraint(ours, by_sku, top),
            "bm25": _constraint(theirs, by_sku, top),
            "filters_only": _constraint(unranked, by_sku, top),
        },
        "relevance": {
            "recommender": _relevance(ours, top),
            "bm25": _relevance(theirs, top),
            "filters_only": _relevance(unranked, top),
        },
        "ndcg_by_category": _ndcg_by_category(ours, theirs, top),
        "parser_accuracy": {
            name: _mean([float(fields[name]) for fields in parsed_fields]) for name in names
        },
        "timing_s": {"embed_catalogue": round(embed_s, 2), "all_queries": round(query_s, 2)},
        "per_need": per_need,
    }


def summary_table(report: Mapping[str, Any]) -> str:
    """Return the headline numbers as a Markdown table."""
    k = report["top"]
    cons, rel = report["constraint_satisfaction"], report["relevance"]

    def cell(value: Any) -> str:
        if value is None:
            return "n/a"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    rows = [
        (f"constraint precision@{k}", "precision_at_k", cons),
        ("needs without results", "needs_without_results", cons),
        ("… of which with relevant products", "needs_without_results_but_relevant", cons),
        (f"relevance precision@{k}", "precision_at_k", rel),
        (f"… best possible precision@{k}", "precision_at_k_ceiling", rel),
        (f"recall@{k}", "recall_at_k", rel),
        (f"nDCG@{k}", "ndcg_at_k", rel),
    ]
    systems = ("recommender", "bm25", "filters_only")
    lines = [
        f"| metric | recommender ({report['model']}) | BM25 baseline | hard filters only |",
        "|---|---|---|---|",
    ]
    for label, key, group in rows:
        lines.append(f"| {label} | " + " | ".join(cell(group[s][key]) for s in systems) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None, *, embedder: Optional[Embedder] = None) -> int:
    """Run the evaluation; write the JSON report and print a summary."""
    parser = argparse.ArgumentParser(
        prog="python -m actions.recommender.evaluation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON report")
    parser.add_argument("--eval", type=Path, default=EVAL_FILE, help="evaluation set (.jsonl)")
    parser.add_argument("--top", type=int, default=5, help="k of the metrics (default 5)")
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads; default: ASSISTANT_TORCH_THREADS (1)"
    )
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be positive")
    needs = load_eval(args.eval)
    records = load_seed_catalogue()
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be positive")
    if embedder is None:
        from actions.recommender.embeddings import MiniLMEmbedder

        threads = args.threads or Settings.from_env().torch_threads
        embedder = MiniLMEmbedder(torch_threads=threads)
    report = evaluate(needs, records, embedder, top=args.top)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"{report['needs']} needs, {report['catalogue_products']} products, k={args.top}")
    print(summary_table(report))
    print("parser accuracy: " + ", ".join(f"{n} {v}" for n, v in report["parser_accuracy"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
