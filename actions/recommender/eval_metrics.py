"""Metrics of the recommender evaluation and their summaries.

Per need: precision@k, recall@k and binary-gain nDCG@k of a ranked SKU list
against the relevant SKUs. Over a set of needs: :func:`relevance_summary`,
:func:`constraint_summary` and :func:`ndcg_by_category`; :func:`summary_table`
prints a report's headline numbers as Markdown.
"""

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from actions.catalogue_record import ProductRecord
from actions.recommender.eval_gold import GoldNeed, satisfies_constraints

Rankings = Sequence[Tuple[List[str], GoldNeed]]
"""One system's ranked SKUs per need, with the need."""


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


def mean(values: Sequence[float]) -> Optional[float]:
    """Return the mean rounded to 4 places, None for no values."""
    return round(sum(values) / len(values), 4) if values else None


def relevance_summary(rankings: Rankings, k: int) -> Dict[str, Any]:
    """Average precision@k, recall@k and nDCG@k over the needs with relevant products.

    Also the best precision@k possible, ``min(k, relevant) / k``.
    """
    judged = [(ranked, gold) for ranked, gold in rankings if gold.relevant]
    return {
        "needs_judged": len(judged),
        "precision_at_k": mean([precision_at_k(r, g.relevant, k) for r, g in judged]),
        "recall_at_k": mean([recall_at_k(r, g.relevant, k) for r, g in judged]),
        "ndcg_at_k": mean([ndcg_at_k(r, g.relevant, k) for r, g in judged]),
        "precision_at_k_ceiling": mean([min(k, len(g.relevant)) / k for _, g in judged]),
    }


def ndcg_by_category(ours: Rankings, theirs: Rankings, k: int) -> Dict[str, Dict[str, Any]]:
    """Average nDCG@k per category for the recommender (``ours``) and BM25 (``theirs``)."""
    categories = sorted({gold.category for _, gold in ours})
    table = {}
    for category in categories:
        row: Dict[str, Any] = {}
        for name, rankings in (("recommender", ours), ("bm25", theirs)):
            judged = [(r, g) for r, g in rankings if g.category == category and g.relevant]
            row["needs_judged"] = len(judged)
            row[name] = mean([ndcg_at_k(r, g.relevant, k) for r, g in judged])
        table[category] = row
    return table


def constraint_summary(
    rankings: Rankings, by_sku: Mapping[str, ProductRecord], k: int
) -> Dict[str, Any]:
    """Share of returned top-k products meeting the gold constraints, and empty results."""
    shares, empty, missed = [], 0, 0
    for ranked, gold in rankings:
        top = ranked[:k]
        if not top:
            empty += 1
            missed += bool(gold.relevant)
            continue
        shares.append(sum(satisfies_constraints(by_sku[s], gold) for s in top) / len(top))
    return {
        "precision_at_k": mean(shares),
        "needs_with_results": len(shares),
        "needs_without_results": empty,
        "needs_without_results_but_relevant": missed,
        "needs_fully_satisfied": sum(1 for share in shares if share == 1.0),
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
