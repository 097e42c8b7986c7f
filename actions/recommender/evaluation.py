"""Offline evaluation of the recommender against stated needs with gold constraints.

::

    python -m actions.recommender.evaluation --out report.json [--eval FILE] [--top 5]
        [--split all|tune|report] [--keyword-weight W] [--threads N] [--weights fp32|fp16|int8]

The set, its relevance rule and its tune/report split live in
:mod:`~actions.recommender.eval_gold`, the metrics in
:mod:`~actions.recommender.eval_metrics`; this module runs the systems.

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
  product embeddings computed once) and the ranking weights given (the
  defaults, or another keyword weight with ``--keyword-weight``);
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

**Split.** The ranking weights were chosen on the ``tune`` half of the set
(:func:`split_needs`, :mod:`actions.recommender.tuning`); report results on
the ``report`` half (``--split report``); ``all`` includes the tuning half.
"""

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from actions.catalogue_files import load_seed_catalogue
from actions.catalogue_record import ProductRecord
from actions.catalogue_store import CatalogueRepository
from actions.db import Database
from actions.needs import StatedNeed, parse_need
from actions.recommender.bm25 import BM25
from actions.recommender.constraints import failed_constraints
from actions.recommender.embeddings import Embedder, product_text
from actions.recommender.eval_gold import (
    EVAL_FILE,
    OPS,
    EvalSplit,
    GoldNeed,
    is_relevant,
    load_eval,
    meets_condition,
    relevant_skus,
    satisfies_constraints,
    split_needs,
)
from actions.recommender.eval_metrics import (
    constraint_summary,
    mean,
    ndcg_at_k,
    ndcg_by_category,
    precision_at_k,
    recall_at_k,
    relevance_summary,
    summary_table,
)
from actions.recommender.payloads import NoMatch, SearchRequest
from actions.recommender.ranking import DEFAULT_WEIGHTS, Weights
from actions.recommender.refinements import wants_only_brands
from actions.recommender.service import Recommender
from actions.settings import Settings
from nlu_models import WEIGHT_PRECISIONS

__all__ = [
    "EVAL_FILE",
    "OPS",
    "BM25Baseline",
    "EvalSplit",
    "GoldNeed",
    "evaluate",
    "is_relevant",
    "load_eval",
    "main",
    "meets_condition",
    "ndcg_at_k",
    "parser_fields",
    "precision_at_k",
    "recall_at_k",
    "relevant_skus",
    "satisfies_constraints",
    "seeded_database",
    "select_split",
    "split_needs",
    "summary_table",
]


# --- parsing -------------------------------------------------------------------------


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


def evaluate(
    needs: Sequence[GoldNeed],
    records: Sequence[ProductRecord],
    embedder: Embedder,
    *,
    top: int = 5,
    folder: Optional[Path] = None,
    weights: Weights = DEFAULT_WEIGHTS,
) -> Dict[str, Any]:
    """Run every need through the recommender and BM25 and compute the metrics.

    Args:
        needs: The evaluation set.
        records: The catalogue (the seed catalogue in the real run).
        embedder: The model the recommender uses.
        top: ``k`` of the metrics and the number of products asked for.
        folder: Where the temporary database goes; a new temporary folder if None.
        weights: The recommender's ranking weights.

    Returns:
        The report (JSON-serialisable), per-need details under ``per_need``.
    """
    by_sku = {record.sku: record for record in records}
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        database = seeded_database(Path(tmp), records)
        try:
            recommender = Recommender(database, embedder, weights=weights)
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
        "weights": asdict(weights),
        "constraint_satisfaction": {
            "recommender": constraint_summary(ours, by_sku, top),
            "bm25": constraint_summary(theirs, by_sku, top),
            "filters_only": constraint_summary(unranked, by_sku, top),
        },
        "relevance": {
            "recommender": relevance_summary(ours, top),
            "bm25": relevance_summary(theirs, top),
            "filters_only": relevance_summary(unranked, top),
        },
        "ndcg_by_category": ndcg_by_category(ours, theirs, top),
        "parser_accuracy": {
            name: mean([float(fields[name]) for fields in parsed_fields]) for name in names
        },
        "timing_s": {"embed_catalogue": round(embed_s, 2), "all_queries": round(query_s, 2)},
        "per_need": per_need,
    }


SPLITS = ("all", "tune", "report")


def select_split(needs: Sequence[GoldNeed], split: str) -> List[GoldNeed]:
    """Return all needs, or one half of :func:`split_needs`.

    Raises:
        ValueError: If ``split`` is not one of :data:`SPLITS`.
    """
    if split == "all":
        return list(needs)
    halves = split_needs(needs)
    if split == "tune":
        return list(halves.tune)
    if split == "report":
        return list(halves.report)
    raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


def main(argv: Optional[Sequence[str]] = None, *, embedder: Optional[Embedder] = None) -> int:
    """Run the evaluation; write the JSON report and print a summary."""
    parser = argparse.ArgumentParser(
        prog="python -m actions.recommender.evaluation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON report")
    parser.add_argument("--eval", type=Path, default=EVAL_FILE, help="evaluation set (.jsonl)")
    parser.add_argument("--top", type=int, default=5, help="k of the metrics (default 5)")
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="all",
        help="the needs to run: all, the tune half or the report half (default all)",
    )
    parser.add_argument(
        "--keyword-weight",
        type=float,
        default=DEFAULT_WEIGHTS.keyword,
        help=f"weight of the BM25 keyword score (default {DEFAULT_WEIGHTS.keyword})",
    )
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads; default: ASSISTANT_TORCH_THREADS (1)"
    )
    parser.add_argument(
        "--weights",
        choices=WEIGHT_PRECISIONS,
        help="precision of the encoder's linear weights; default: ASSISTANT_RECOMMENDER_WEIGHTS",
    )
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be positive")
    if args.keyword_weight < 0:
        parser.error("--keyword-weight must not be negative")
    needs = select_split(load_eval(args.eval), args.split)
    records = load_seed_catalogue()
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be positive")
    if embedder is None:
        from actions.recommender.embeddings import MiniLMEmbedder

        settings = Settings.from_env()
        embedder = MiniLMEmbedder(
            torch_threads=args.threads or settings.torch_threads,
            weights=args.weights or settings.recommender_weights,
        )
    weights = replace(DEFAULT_WEIGHTS, keyword=args.keyword_weight)
    report = evaluate(needs, records, embedder, top=args.top, weights=weights)
    report["split"] = args.split
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(
        f"{report['needs']} needs ({args.split}), {report['catalogue_products']} products, "
        f"k={args.top}, keyword weight {args.keyword_weight}"
    )
    print(summary_table(report))
    print("parser accuracy: " + ", ".join(f"{n} {v}" for n, v in report["parser_accuracy"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
