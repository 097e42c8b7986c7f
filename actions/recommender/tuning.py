"""Choose the keyword weight of the ranking on the tuning half of the evaluation set.

::

    python -m actions.recommender.tuning --out tuning.json
        [--weights 0 0.1 0.2 0.3 0.5 0.75 1 1.5 2 3] [--top 5] [--threads N]

Runs :func:`~actions.recommender.evaluation.evaluate` on the ``tune`` half of
:func:`~actions.recommender.eval_gold.split_needs` once per candidate
``Weights.keyword`` (every other weight at its default) and picks the weight
with the best relevance precision@k, ties broken by nDCG@k and then by the
smaller weight (:func:`choose`). The ``report`` half is never read here, so
results reported on it (``python -m actions.recommender.evaluation --split
report``) are not tuned to it.

Product and query embeddings are computed once for the whole sweep
(:class:`MemoEmbedder`).
"""

import argparse
import json
import sys
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from actions.catalogue_files import load_seed_catalogue
from actions.catalogue_record import ProductRecord
from actions.recommender.embeddings import Embedder
from actions.recommender.eval_gold import EVAL_FILE, GoldNeed, load_eval, split_needs
from actions.recommender.evaluation import evaluate
from actions.recommender.ranking import DEFAULT_WEIGHTS
from actions.settings import Settings

DEFAULT_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
"""Keyword weights tried by default."""


class MemoEmbedder:
    """Wraps an embedder and remembers every text's vector (for repeated runs).

    Args:
        inner: The embedder that computes vectors not seen before.
    """

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._vectors: Dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        """The wrapped model's name."""
        return self._inner.model_name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, computing only those not embedded before."""
        with self._lock:
            missing = [text for text in dict.fromkeys(texts) if text not in self._vectors]
        if missing:
            vectors = self._inner.embed(missing)
            with self._lock:
                self._vectors.update(zip(missing, vectors))
        if not texts:
            return self._inner.embed([])
        with self._lock:
            return np.stack([self._vectors[text] for text in texts])

    @property
    def texts_remembered(self) -> int:
        """How many distinct texts have a vector."""
        with self._lock:
            return len(self._vectors)


@dataclass(frozen=True)
class SweepRow:
    """Relevance on the tuning half at one keyword weight."""

    keyword_weight: float
    precision_at_k: float
    ndcg_at_k: float
    recall_at_k: float


def sweep(
    needs: Sequence[GoldNeed],
    records: Sequence[ProductRecord],
    embedder: Embedder,
    weights: Sequence[float],
    *,
    top: int = 5,
) -> List[SweepRow]:
    """Evaluate the recommender once per keyword weight.

    Args:
        needs: The needs to tune on (the ``tune`` half).
        records: The catalogue.
        embedder: The model; wrapped in a :class:`MemoEmbedder` here.
        weights: The keyword weights to try.
        top: ``k`` of the metrics.

    Returns:
        One row per weight, in the order given.
    """
    memo = embedder if isinstance(embedder, MemoEmbedder) else MemoEmbedder(embedder)
    rows = []
    for weight in weights:
        report = evaluate(
            needs, records, memo, top=top, weights=replace(DEFAULT_WEIGHTS, keyword=weight)
        )
        relevance = report["relevance"]["recommender"]
        rows.append(
            SweepRow(
                keyword_weight=weight,
                precision_at_k=relevance["precision_at_k"] or 0.0,
                ndcg_at_k=relevance["ndcg_at_k"] or 0.0,
                recall_at_k=relevance["recall_at_k"] or 0.0,
            )
        )
    return rows


def choose(rows: Sequence[SweepRow]) -> SweepRow:
    """Return the best row: highest precision@k, then nDCG@k, then the smaller weight.

    Raises:
        ValueError: If there are no rows.
    """
    if not rows:
        raise ValueError("no weights were tried")
    return min(rows, key=lambda row: (-row.precision_at_k, -row.ndcg_at_k, row.keyword_weight))


def _weight(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {number}")
    return number


def main(argv: Optional[Sequence[str]] = None, *, embedder: Optional[Embedder] = None) -> int:
    """Run the sweep on the tuning half; write the JSON and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m actions.recommender.tuning", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON")
    parser.add_argument("--eval", type=Path, default=EVAL_FILE, help="evaluation set (.jsonl)")
    parser.add_argument("--weights", type=_weight, nargs="+", default=list(DEFAULT_GRID))
    parser.add_argument("--top", type=int, default=5, help="k of the metrics (default 5)")
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads; default: ASSISTANT_TORCH_THREADS (1)"
    )
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be positive")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be positive")
    tune = split_needs(load_eval(args.eval)).tune
    if embedder is None:
        from actions.recommender.embeddings import MiniLMEmbedder

        threads = args.threads or Settings.from_env().torch_threads
        embedder = MiniLMEmbedder(torch_threads=threads)
    rows = sweep(tune, load_seed_catalogue(), embedder, args.weights, top=args.top)
    best = choose(rows)
    result: Dict[str, Any] = {
        "split": "tune",
        "needs": len(tune),
        "top": args.top,
        "model": embedder.model_name,
        "rows": [asdict(row) for row in rows],
        "chosen_keyword_weight": best.keyword_weight,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    k = args.top
    print(f"{len(tune)} needs (tune half), k={k}")
    print(f"| keyword weight | precision@{k} | nDCG@{k} | recall@{k} |")
    print("|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.keyword_weight:g} | {row.precision_at_k:.3f} | {row.ndcg_at_k:.3f} "
            f"| {row.recall_at_k:.3f} |"
        )
    print(f"chosen keyword weight: {best.keyword_weight:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
