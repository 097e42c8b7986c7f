r"""Benchmark the recommender's vector index at catalogue scale.

Command line::

    python -m actions.recommender.benchmark --products 100000 --queries 200 \
        --out bench.json [--index exact|ann] [--database-url URL] [--seed 0] \
        [--torch-threads N] [--ef-sweep EF ...]

Query embedding uses ``--torch-threads`` intra-op threads, by default the
action server's setting ``ASSISTANT_TORCH_THREADS`` (default 1), so that the
benchmark measures the configuration the server runs.

What it does, in order:

1. Creates ``--products`` synthetic products in the database (by default a
   fresh temporary SQLite file, deleted afterwards), inserted in batches of
   :data:`INSERT_BATCH` with their vectors already in the ``embedding`` column.
   Computing MiniLM vectors for a million texts would take hours on a small
   CPU, so the vectors are synthetic but shaped like real ones: the real model
   embeds :data:`BASE_TEXTS` generated product texts once, and each product's
   vector is a random mix of two of those embeddings plus a little Gaussian
   noise, normalised (real sentence embeddings occupy a low-dimensional part
   of the space; uniformly random 384-dimensional vectors would not, and make
   every nearest-neighbour search meaningless).
2. Builds the index the way the action server does at start-up
   (:func:`refresh_embeddings`, which finds nothing to do, then
   :func:`load_vectors`, then the index), timed as ``build_s``.
3. Embeds ``--queries`` realistic customer requests with the real model and
   searches the top 10 for each, timing both together (after a few warm-up
   queries); reports p50 and p95 in milliseconds.
4. For ``--index ann`` computes recall@10 against an exact index over the same
   vectors and queries (1.0 for ``exact`` by definition).

The JSON written to ``--out`` holds ``products``, ``queries``, ``index``,
``p50_ms``, ``p95_ms``, ``build_s``, ``recall_at_10``, ``peak_rss_mb``,
``machine`` and a few details (insert time, HNSW parameters).

Exit status: 0 on success, 2 for bad arguments, 1 for other errors.
"""

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, TextIO

import numpy as np

from actions.db import Database
from actions.recommender.benchmark_data import (
    BASE_TEXTS,
    INSERT_BATCH,
    NOISE,
    insert_products,
    product_texts,
    query_texts,
    synthetic_vectors,
)
from actions.recommender.embedding_store import load_vectors, refresh_embeddings
from actions.recommender.embeddings import Embedder, MiniLMEmbedder
from actions.recommender.index import ExactIndex, Index
from actions.settings import Settings

__all__ = [
    "BASE_TEXTS",
    "INSERT_BATCH",
    "NOISE",
    "build",
    "default_embedder",
    "insert_products",
    "main",
    "product_texts",
    "query_texts",
    "run_benchmark",
    "synthetic_vectors",
]

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

TOP_K = 10
WARMUP_QUERIES = 5


class UsageError(Exception):
    """Bad command-line arguments."""


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m actions.recommender.benchmark",
        description="Benchmark the recommender index on a synthetic catalogue.",
    )
    parser.add_argument("--products", type=_positive, required=True)
    parser.add_argument("--queries", type=_positive, required=True)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--index", choices=("exact", "ann"), default="ann")
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL of an empty database; default: a temporary SQLite file",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--ef-sweep",
        type=_positive,
        nargs="+",
        default=[],
        help="for --index ann: also report recall and search time at these ef_search values",
    )
    parser.add_argument(
        "--torch-threads",
        type=_positive,
        help="torch intra-op threads for query embedding; default: ASSISTANT_TORCH_THREADS (1)",
    )
    return parser


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _torch_threads() -> Optional[int]:
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


def _machine() -> Dict[str, Any]:
    memory_gib: Optional[float] = None
    try:
        memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_gib, 1) if memory_gib else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "gpu": None,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "torch_threads": _torch_threads(),
    }


def build(kind: str, skus: Sequence[str], vectors: np.ndarray) -> Index:
    """Build the index of ``kind`` ("exact" or "ann") over the vectors."""
    if kind == "exact":
        return ExactIndex(skus, vectors)
    from actions.recommender.ann_index import HnswIndex

    return HnswIndex(skus, vectors)


def run_benchmark(
    database: Database,
    embedder: Embedder,
    *,
    products: int,
    queries: int,
    kind: str,
    seed: int = 0,
    base_texts: int = BASE_TEXTS,
    ef_sweep: Sequence[int] = (),
) -> Dict[str, Any]:
    """Fill the database, build the index, time queries; return the results."""
    rng = np.random.default_rng(seed)
    base = embedder.embed(product_texts(min(base_texts, products), rng))
    started = time.perf_counter()
    insert_products(database, products, base, embedder.model_name, rng)
    insert_s = time.perf_counter() - started

    started = time.perf_counter()
    refresh_embeddings(database, embedder)
    skus, vectors = load_vectors(database, embedder.model_name)
    loaded_s = time.perf_counter() - started
    index = build(kind, skus, vectors)
    build_s = time.perf_counter() - started

    texts = query_texts(queries, rng)
    for text in texts[:WARMUP_QUERIES]:
        index.search(embedder.embed([text])[0], TOP_K)
    latencies, query_vectors, found = [], [], []
    for text in texts:
        started = time.perf_counter()
        vector = embedder.embed([text])[0]
        hits = index.search(vector, TOP_K)
        latencies.append((time.perf_counter() - started) * 1000.0)
        query_vectors.append(vector)
        found.append({hit.sku for hit in hits})
    search_ms = []
    for vector in query_vectors:
        started = time.perf_counter()
        index.search(vector, TOP_K)
        search_ms.append((time.perf_counter() - started) * 1000.0)

    recall = 1.0
    if kind != "exact":
        exact = ExactIndex(skus, vectors)
        overlaps = [
            len(got & {hit.sku for hit in exact.search(vector, TOP_K)}) / TOP_K
            for vector, got in zip(query_vectors, found)
        ]
        recall = float(np.mean(overlaps))

    result: Dict[str, Any] = {
        "products": len(skus),
        "queries": queries,
        "index": kind,
        "index_class": type(index).__name__,
        "p50_ms": round(_percentile(latencies, 50), 3),
        "p95_ms": round(_percentile(latencies, 95), 3),
        "search_only_p50_ms": round(_percentile(search_ms, 50), 3),
        "search_only_p95_ms": round(_percentile(search_ms, 95), 3),
        "build_s": round(build_s, 3),
        "load_vectors_s": round(loaded_s, 3),
        "insert_s": round(insert_s, 3),
        "recall_at_10": round(recall, 4),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "embedding_model": embedder.model_name,
        "machine": _machine(),
    }
    for name in ("m", "ef_construction", "ef_search"):
        if hasattr(index, name):
            result[name] = getattr(index, name)
    if ef_sweep and hasattr(index, "set_ef_search"):
        exact = ExactIndex(skus, vectors)
        truth = [{hit.sku for hit in exact.search(vector, TOP_K)} for vector in query_vectors]
        sweep = []
        for ef in ef_sweep:
            index.set_ef_search(ef)
            times, overlaps = [], []
            for vector, expected in zip(query_vectors, truth):
                started = time.perf_counter()
                hits = index.search(vector, TOP_K)
                times.append((time.perf_counter() - started) * 1000.0)
                overlaps.append(len(expected & {hit.sku for hit in hits}) / TOP_K)
            sweep.append(
                {
                    "ef_search": ef,
                    "recall_at_10": round(float(np.mean(overlaps)), 4),
                    "search_only_p50_ms": round(_percentile(times, 50), 3),
                    "search_only_p95_ms": round(_percentile(times, 95), 3),
                }
            )
        result["ef_sweep"] = sweep
    return result


def default_embedder(
    torch_threads: Optional[int], environ: Mapping[str, str] = os.environ
) -> MiniLMEmbedder:
    """Return the MiniLM embedder the benchmark times (the model loads on first use).

    Args:
        torch_threads: ``--torch-threads``; None for the action server's
            setting ``ASSISTANT_TORCH_THREADS``.
        environ: Where that setting is read.

    Raises:
        ValueError: If the setting in ``environ`` is invalid.
    """
    threads = torch_threads or Settings.from_env(environ).torch_threads
    return MiniLMEmbedder(torch_threads=threads)


def main(
    argv: Optional[Sequence[str]] = None,
    *,
    embedder: Optional[Embedder] = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    if args.out.exists() and args.out.is_dir():
        print(f"error: --out {args.out} is a directory", file=err)
        return EXIT_USAGE
    if embedder is None:
        try:
            embedder = default_embedder(args.torch_threads)
        except ValueError as exc:
            print(f"error: {exc}", file=err)
            return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="recommender-bench-") as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        database = Database(Settings(database_url=url, seed_sample_data=False), seeders=[])
        try:
            result = run_benchmark(
                database,
                embedder,
                products=args.products,
                queries=args.queries,
                kind=args.index,
                seed=args.seed,
                ef_sweep=args.ef_sweep,
            )
        except Exception as exc:  # noqa: BLE001 - reported, not raised, at the CLI
            print(f"error: {type(exc).__name__}: {exc}", file=err)
            return EXIT_ERROR
        finally:
            database.dispose()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2), file=out)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
