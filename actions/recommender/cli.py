"""Command line of the recommender (run as ``python -m actions.recommender``).

::

    python -m actions.recommender search "NEED TEXT" [--budget-max N] [--budget-min N]
        [--category C] [--top K] [--database-url URL] [--json]
    python -m actions.recommender embed [--database-url URL]

``search`` parses the need like the assistant does (budget, category, brands
and features in the text), lets the options override budget and category, and
prints the best products: with ``--json`` a JSON list of objects with ``sku``,
``title``, ``category``, ``brand``, ``price``, ``currency``, ``score`` and
``reasons``, otherwise a table. Budgets are in units of the need's currency
(euros unless the text names another), not cents. ``embed`` stores the
embeddings of products that lack one (run it after importing a catalogue).

The database is ``--database-url`` or ``ASSISTANT_DATABASE_URL``; it is
migrated, and seeded when empty if ``ASSISTANT_SEED_SAMPLE_DATA`` allows.

Exit status: 0 products found (or embeddings stored); 1 nothing matched (what
to relax is printed on stderr; ``--json`` still prints ``[]``); 2 bad input,
database unavailable, or the model could not be loaded.
"""

import argparse
import json
import math
import sys
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import List, Optional, Sequence, TextIO

from sqlalchemy.exc import ArgumentError

from actions.catalogue_vocabulary import CATEGORIES
from actions.db import Database, DatabaseUnavailable
from actions.needs import parse_need
from actions.recommender import messages
from actions.recommender.embeddings import Embedder, MiniLMEmbedder
from actions.recommender.payloads import NoMatch, Recommendation, SearchRequest
from actions.recommender.reasons import format_money
from actions.recommender.refinements import wants_only_brands
from actions.recommender.service import Recommender
from actions.settings import Settings, get_settings

EXIT_OK = 0
EXIT_NO_MATCH = 1
EXIT_ERROR = 2
MAX_TOP = 100
_TITLE_WIDTH = 44


class UsageError(Exception):
    """The command line is well-formed but its values are not acceptable."""


def category_key(value: str) -> str:
    """Resolve a ``--category`` value: a key ("running_shoes") or a name ("running shoes").

    Raises:
        UsageError: If no category has that key or name.
    """
    wanted = value.strip().lower()
    for category in CATEGORIES:
        names = {category.key, category.key.replace("_", " "), *category.synonyms}
        if wanted in names:
            return category.key
    known = ", ".join(category.key for category in CATEGORIES)
    raise UsageError(f"unknown category {value!r}; use one of: {known}")


def _cents(value: Optional[str], option: str) -> Optional[int]:
    if value is None:
        return None
    try:
        amount = Decimal(value.strip())
    except ArithmeticError:
        raise UsageError(f"{option} must be a number, got {value!r}") from None
    if not amount.is_finite() or not math.isfinite(float(amount)):
        raise UsageError(f"{option} must be a number, got {value!r}")
    if amount < 0:
        raise UsageError(f"{option} must not be negative, got {value}")
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m actions.recommender", description="Recommend products from the catalogue."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="recommend products for a need")
    search.add_argument("text", help='what the customer wants, e.g. "quiet dishwasher"')
    search.add_argument("--budget-max", help="highest price, in euros (or the text's currency)")
    search.add_argument("--budget-min", help="lowest price, in euros (or the text's currency)")
    search.add_argument("--category", help="category key or name, e.g. headphones")
    search.add_argument("--top", type=int, default=5, help="how many products (default 5)")
    search.add_argument("--database-url", help="SQLAlchemy URL; ASSISTANT_DATABASE_URL otherwise")
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    embed = commands.add_parser("embed", help="store embeddings for products without one")
    embed.add_argument("--database-url", help="SQLAlchemy URL; ASSISTANT_DATABASE_URL otherwise")
    return parser


def _validate(args: argparse.Namespace) -> None:
    """Check the search options before anything is loaded.

    Raises:
        UsageError: If a value is not acceptable.
    """
    if not args.text.strip():
        raise UsageError("the need text is empty; say what you are looking for")
    if not 1 <= args.top <= MAX_TOP:
        raise UsageError(f"--top must be between 1 and {MAX_TOP}, got {args.top}")
    low = _cents(args.budget_min, "--budget-min")
    high = _cents(args.budget_max, "--budget-max")
    if low is not None and high is not None and low > high:
        raise UsageError("--budget-min must not be above --budget-max")
    if args.category is not None:
        args.category = category_key(args.category)
    args.budget_min, args.budget_max = low, high


def build_request(args: argparse.Namespace, brands: Sequence[str]) -> SearchRequest:
    """Turn validated search options into a request."""
    need = parse_need(args.text, brands=brands)
    if args.category is not None:
        need = replace(need, category_key=args.category)
    if args.budget_max is not None:
        need = replace(need, budget_max_cents=args.budget_max)
        if need.budget_min_cents is not None and need.budget_min_cents > args.budget_max:
            need = replace(need, budget_min_cents=None)
    if args.budget_min is not None:
        need = replace(need, budget_min_cents=args.budget_min)
    only = wants_only_brands(args.text, need.brands_wanted)
    return SearchRequest(need=need, brands_only=only)


def format_table(items: Sequence[Recommendation]) -> str:
    """Return recommendations as a plain-text table."""
    rows: List[List[str]] = [["#", "SKU", "Title", "Category", "Price", "Score", "Why"]]
    for number, item in enumerate(items, start=1):
        title = item.title
        if len(title) > _TITLE_WIDTH:
            title = title[: _TITLE_WIDTH - 1] + "…"
        rows.append(
            [
                str(number),
                item.sku,
                title,
                item.category,
                format_money(item.price_cents, item.currency),
                f"{item.score:.3f}",
                "; ".join(item.reasons),
            ]
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _search(args: argparse.Namespace, recommender: Recommender, out: TextIO, err: TextIO) -> int:
    request = build_request(args, recommender.brands())
    result = recommender.recommend(request, top_k=args.top)
    if isinstance(result, NoMatch):
        if args.json:
            print("[]", file=out)
        print(messages.no_match_text(result), file=err)
        return EXIT_NO_MATCH
    if args.json:
        payload = [item.to_dict() for item in result.items]
        print(json.dumps(payload, ensure_ascii=False, indent=2), file=out)
    else:
        print(format_table(result.items), file=out)
    return EXIT_OK


def main(
    argv: Optional[Sequence[str]] = None,
    *,
    database: Optional[Database] = None,
    embedder: Optional[Embedder] = None,
    out: Optional[TextIO] = None,
    err: Optional[TextIO] = None,
) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` by default.
        database: The database; by default one for the settings and ``--database-url``.
        embedder: The model; MiniLM by default.
        out: Where results go; stdout by default.
        err: Where errors go; stderr by default.

    Returns:
        The exit status.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    owned = database is None
    try:
        if args.command == "search":
            _validate(args)
        if database is None:
            database = _database(args.database_url)
        if embedder is None:
            embedder = MiniLMEmbedder(torch_threads=_settings().torch_threads)
        recommender = Recommender(database, embedder)
        if args.command == "embed":
            stored = recommender.refresh()
            print(f"Stored embeddings for {stored} products.", file=out)
            return EXIT_OK
        return _search(args, recommender, out, err)
    except UsageError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_ERROR
    except DatabaseUnavailable as exc:
        print(f"error: the database is unavailable: {exc}", file=err)
        return EXIT_ERROR
    except (ArgumentError, ImportError) as exc:
        print(f"error: cannot use the database URL: {exc}", file=err)
        return EXIT_ERROR
    except OSError as exc:
        print(f"error: cannot load the embedding model: {exc}", file=err)
        return EXIT_ERROR
    finally:
        if owned and database is not None:
            database.dispose()


def _settings() -> Settings:
    """Read the settings from the environment.

    Raises:
        UsageError: If the settings in the environment are invalid.
    """
    try:
        return get_settings()
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _database(url: Optional[str]) -> Database:
    """Open (lazily) the database of the settings, or of ``url``.

    Raises:
        UsageError: If the settings in the environment are invalid.
    """
    settings = _settings()
    if url:
        settings = replace(settings, database_url=url)
    return Database(settings)
