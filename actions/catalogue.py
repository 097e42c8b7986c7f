"""The product catalogue: public interface and command line.

The pieces live in submodules; import them from here:

* :mod:`actions.catalogue_store`: the ``products`` table, :class:`ProductRecord`,
  :class:`ProductFilter` and :class:`CatalogueRepository`;
* :mod:`actions.catalogue_validation`: the checks every imported row passes;
* :mod:`actions.catalogue_files`: CSV / JSON Lines reading and writing, and the
  seeder that fills an empty catalogue from ``actions/data/catalogue.jsonl``;
* :mod:`actions.catalogue_vocabulary`: categories, features and brand names as
  customers write them.

Command line::

    python -m actions.catalogue import FILE [--skip-invalid]
    python -m actions.catalogue export FILE

The extension picks the format: ``.csv`` or ``.jsonl``. An import checks every
row first; if any is invalid nothing is imported, unless ``--skip-invalid`` is
given, in which case the valid rows are. Products are matched by SKU, so
importing the same file again changes nothing. The database is the one of
``ASSISTANT_DATABASE_URL``; the command migrates it but never seeds it.

Exit status: 0 done; 1 invalid rows and no ``--skip-invalid`` (nothing
imported); 2 the file cannot be read or written, or the database is unavailable
or refused the rows (another process inserted the same new SKU meanwhile).
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence, TextIO, Tuple

from sqlalchemy.exc import IntegrityError

from actions.catalogue_files import (
    SEED_FILE,
    CatalogueFileError,
    FileFormat,
    ParsedFile,
    load_seed_catalogue,
    parse_catalogue,
    read_catalogue,
    seed_catalogue,
    write_catalogue,
)
from actions.catalogue_store import (
    CatalogueRepository,
    Product,
    ProductFilter,
    ProductOrder,
    ProductRecord,
    UpsertResult,
    get_catalogue_repository,
    upsert_products,
)
from actions.catalogue_validation import FIELDS, RowError, validate_row
from actions.db import Database, DatabaseUnavailable
from actions.settings import get_settings

if TYPE_CHECKING:
    from actions.recommender.embeddings import Embedder

__all__ = [
    "FIELDS",
    "SEED_FILE",
    "CatalogueFileError",
    "CatalogueRepository",
    "FileFormat",
    "ImportOutcome",
    "ParsedFile",
    "Product",
    "ProductFilter",
    "ProductOrder",
    "ProductRecord",
    "RowError",
    "UpsertResult",
    "export_catalogue",
    "get_catalogue_repository",
    "import_catalogue",
    "load_seed_catalogue",
    "main",
    "parse_catalogue",
    "read_catalogue",
    "seed_catalogue",
    "upsert_products",
    "validate_row",
    "write_catalogue",
]

EXIT_OK = 0
EXIT_INVALID_ROWS = 1
EXIT_UNREADABLE = 2
_MAX_LISTED_ERRORS = 100


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did.

    Attributes:
        rows: Data rows in the file.
        errors: The invalid rows, in file order.
        stored: What storing the valid rows did; None if nothing was stored
            (there were invalid rows and skipping them was not allowed).
    """

    rows: int
    errors: Tuple[RowError, ...]
    stored: Optional[UpsertResult]

    @property
    def imported(self) -> bool:
        """Whether the valid rows were stored."""
        return self.stored is not None


def import_catalogue(
    repository: CatalogueRepository, path: Path, *, skip_invalid: bool = False
) -> ImportOutcome:
    """Check a catalogue file and store its products, all or nothing.

    Args:
        repository: Where to store the products.
        path: A ``.csv`` or ``.jsonl`` file.
        skip_invalid: Store the valid rows even if some are invalid.

    Returns:
        The rows read, the invalid ones and what storing did.

    Raises:
        CatalogueFileError: If the file cannot be read as a catalogue.
        DatabaseUnavailable: If the database cannot be reached.
    """
    parsed = read_catalogue(path)
    if parsed.errors and not skip_invalid:
        return ImportOutcome(rows=parsed.rows, errors=parsed.errors, stored=None)
    stored = repository.upsert_many(parsed.records)
    return ImportOutcome(rows=parsed.rows, errors=parsed.errors, stored=stored)


def export_catalogue(repository: CatalogueRepository, path: Path) -> int:
    """Write every product, ordered by SKU, to a ``.csv`` or ``.jsonl`` file.

    Returns:
        The number of products written.

    Raises:
        CatalogueFileError: If the file cannot be written.
        DatabaseUnavailable: If the database cannot be reached.
    """
    FileFormat.for_path(path)  # fail on a bad extension before querying
    return write_catalogue(path, repository.list_products(order=ProductOrder.SKU))


def _print_errors(errors: Sequence[RowError], out: TextIO) -> None:
    for error in errors[:_MAX_LISTED_ERRORS]:
        print(f"  {error}", file=out)
    if len(errors) > _MAX_LISTED_ERRORS:
        print(f"  ... and {len(errors) - _MAX_LISTED_ERRORS} more", file=out)


def _run(
    args: argparse.Namespace,
    database: Database,
    embedder: Optional["Embedder"],
) -> int:
    repository = CatalogueRepository(database)
    path = Path(args.file)
    if args.command == "export":
        written = export_catalogue(repository, path)
        print(f"Exported {written} products to {path}.")
        return EXIT_OK
    outcome = import_catalogue(repository, path, skip_invalid=args.skip_invalid)
    if outcome.stored is None:
        print(
            f"error: {len(outcome.errors)} of {outcome.rows} rows in {path} are invalid; "
            "nothing was imported (use --skip-invalid to import the valid rows):",
            file=sys.stderr,
        )
        _print_errors(outcome.errors, sys.stderr)
        return EXIT_INVALID_ROWS
    stored = outcome.stored
    print(
        f"Imported {stored.total} products from {path}: {stored.inserted} new, "
        f"{stored.updated} updated, {stored.unchanged} unchanged."
    )
    if outcome.errors:
        print(f"Skipped {len(outcome.errors)} invalid rows:", file=sys.stderr)
        _print_errors(outcome.errors, sys.stderr)
    if not args.no_embed and stored.inserted + stored.updated:
        _refresh_embeddings(database, embedder)
    return EXIT_OK


def _refresh_embeddings(database: Database, embedder: Optional["Embedder"]) -> None:
    # Imported here: the recommender loads torch, which the import itself never needs.
    from actions.recommender.embedding_store import refresh_embeddings
    from actions.recommender.embeddings import get_embedder

    count = refresh_embeddings(database, embedder or get_embedder())
    print(f"Computed embeddings for {count} products.")


def main(
    argv: Optional[Sequence[str]] = None,
    *,
    database: Optional[Database] = None,
    embedder: Optional["Embedder"] = None,
) -> int:
    """Run the ``python -m actions.catalogue`` command line.

    After an import that added or changed products, their recommender
    embeddings are computed and stored (unless ``--no-embed``), so every
    action server finds them in the database.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` by default.
        database: The database to use; by default one for :func:`get_settings`
            that is migrated but never seeded.
        embedder: The sentence embedder; by default the local MiniLM model.

    Returns:
        The process exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m actions.catalogue", description="Import or export the product catalogue."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="check a .csv/.jsonl file and store its products")
    importer.add_argument("file")
    importer.add_argument(
        "--skip-invalid", action="store_true", help="import the valid rows even if some are invalid"
    )
    importer.add_argument(
        "--no-embed",
        action="store_true",
        help="skip computing recommender embeddings (the action server computes missing ones)",
    )
    exporter = commands.add_parser("export", help="write every product to a .csv/.jsonl file")
    exporter.add_argument("file")
    args = parser.parse_args(argv)

    owned = database is None
    # The file you import is the catalogue: a fresh database is not seeded first.
    database = database or Database(get_settings(), seeders=[])
    try:
        return _run(args, database, embedder)
    except (CatalogueFileError, DatabaseUnavailable, IntegrityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        if owned:
            database.dispose()


if __name__ == "__main__":
    sys.exit(main())
