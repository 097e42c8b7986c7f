"""The ``python -m actions.db`` command line: migrate, or migrate and seed.

Usage::

    python -m actions.db upgrade [REVISION]   # migrate (default: head)
    python -m actions.db seed                 # migrate, then seed if empty
"""

import argparse
import logging
import sys
from typing import Optional, Sequence

from actions.db import DatabaseUnavailable, get_database, unavailable_on_error


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``python -m actions.db`` command line.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns:
        The process exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m actions.db")
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser("upgrade", help="migrate the schema")
    upgrade.add_argument("revision", nargs="?", default="head")
    commands.add_parser(
        "seed",
        help="migrate, then add sample data to empty tables "
        "(runs even if ASSISTANT_SEED_SAMPLE_DATA is false: you asked for it)",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    database = get_database()
    try:
        if args.command == "upgrade":
            with unavailable_on_error("migrating"), database.exclusive():
                database.migrate(args.revision)
            print(f"Database migrated to {args.revision}.")
        else:
            with unavailable_on_error("seeding"):
                inserted = database.prepare(seed=True)
            if inserted:
                print(f"Seeded {inserted} sample rows.")
            else:
                print("The database already has data; nothing was seeded.")
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    return 0
