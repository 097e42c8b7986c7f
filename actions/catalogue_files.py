"""Reading and writing catalogue files (CSV, JSON Lines) and seeding from one.

The format follows the file name: ``.csv`` is CSV with a header row,
``.jsonl`` or ``.ndjson`` is one JSON object per line. Both hold the fields of
:data:`actions.catalogue_validation.FIELDS`.

Two kinds of problems are told apart:

* A bad row (a missing field, a negative price, a line of JSON Lines that is
  not JSON, a CSV row with too many cells, a duplicate SKU) is reported with
  its line number in :attr:`ParsedFile.errors`; the other rows are still read.
* A file that cannot be read as a catalogue at all (missing, not UTF-8, an
  unsupported extension, a CSV header without the required columns, broken
  CSV quoting) raises :class:`CatalogueFileError`.
"""

import csv
import io
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from sqlalchemy.orm import Session

from actions.catalogue_store import ProductRecord, catalogue_is_empty, upsert_products
from actions.catalogue_validation import (
    FIELDS,
    REQUIRED_FIELDS,
    RowError,
    record_to_row,
    validate_row,
)

logger = logging.getLogger(__name__)

SEED_FILE = Path(__file__).resolve().parent / "data" / "catalogue.jsonl"
"""The catalogue an empty database is seeded with."""

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
MAX_LINE_CHARS = 20_000


class CatalogueFileError(Exception):
    """The file cannot be read as a catalogue at all (not just a bad row)."""


class FileFormat(str, Enum):
    """Catalogue file formats."""

    CSV = "csv"
    JSONL = "jsonl"

    @classmethod
    def for_path(cls, path: Path) -> "FileFormat":
        """Return the format a file name's extension names.

        Raises:
            CatalogueFileError: If the extension is not .csv, .jsonl or .ndjson.
        """
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return cls.CSV
        if suffix in (".jsonl", ".ndjson"):
            return cls.JSONL
        raise CatalogueFileError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r}; use .csv or .jsonl"
        )


@dataclass(frozen=True)
class ParsedFile:
    """The rows of a catalogue file, checked.

    Attributes:
        records: The valid products, in file order.
        errors: The rejected rows, in file order.
    """

    records: Tuple[ProductRecord, ...]
    errors: Tuple[RowError, ...]

    @property
    def rows(self) -> int:
        """The number of data rows in the file (blank lines not counted)."""
        return len(self.records) + len(self.errors)


_Row = Tuple[int, Union[Dict[str, Any], RowError]]


def _json_object(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate key {duplicates[0]!r}")
    return dict(pairs)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _jsonl_rows(text: str) -> Iterator[_Row]:
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if len(line) > MAX_LINE_CHARS:
            yield number, RowError(number, (f"line is longer than {MAX_LINE_CHARS} characters",))
            continue
        try:
            value = json.loads(
                line, object_pairs_hook=_json_object, parse_constant=_reject_constant
            )
        except json.JSONDecodeError as exc:
            yield number, RowError(number, (f"not valid JSON at column {exc.colno}: {exc.msg}",))
            continue
        except (ValueError, RecursionError) as exc:
            yield number, RowError(number, (f"not valid JSON: {exc}",))
            continue
        if not isinstance(value, dict):
            yield number, RowError(number, (f"expected a JSON object, got {type(value).__name__}",))
            continue
        yield number, value


def _csv_rows(text: str) -> Iterator[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise CatalogueFileError("line 1: the CSV file has no header row")
        columns = [cell.strip().lower() for cell in header]
        _check_header(columns, reader.line_num)
        previous_end = reader.line_num
        for cells in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                reason = f"expected {len(columns)} cells as in the header, got {len(cells)}"
                yield start, RowError(start, (reason,))
                continue
            if any(len(cell) > MAX_LINE_CHARS for cell in cells):
                yield (
                    start,
                    RowError(start, (f"a cell is longer than {MAX_LINE_CHARS} characters",)),
                )
                continue
            yield start, {column: cell for column, cell in zip(columns, cells) if cell.strip()}
    except csv.Error as exc:
        raise CatalogueFileError(f"line {reader.line_num}: malformed CSV: {exc}") from exc


def _check_header(columns: List[str], line: int) -> None:
    duplicates = sorted({column for column in columns if columns.count(column) > 1})
    unknown = [column for column in columns if column not in FIELDS]
    missing = [field for field in FIELDS if field in REQUIRED_FIELDS and field not in columns]
    problems = []
    if duplicates:
        problems.append("duplicate columns " + ", ".join(duplicates))
    if unknown:
        problems.append("unknown columns " + ", ".join(repr(column) for column in unknown))
    if missing:
        problems.append("missing required columns " + ", ".join(missing))
    if problems:
        raise CatalogueFileError(f"line {line}: bad CSV header: {'; '.join(problems)}")


def parse_catalogue(text: str, file_format: FileFormat) -> ParsedFile:
    """Check every row of a catalogue file's text.

    Args:
        text: The whole file, decoded.
        file_format: How the text is laid out.

    Returns:
        The valid records and the rejected rows. A SKU that occurs again is
        rejected on each later line; the first occurrence counts.

    Raises:
        CatalogueFileError: If the text cannot be read as that format at all,
            or holds more than :data:`MAX_ROWS` rows.
    """
    rows = _csv_rows(text) if file_format is FileFormat.CSV else _jsonl_rows(text)
    textual = file_format is FileFormat.CSV
    records: List[ProductRecord] = []
    errors: List[RowError] = []
    first_line: Dict[str, int] = {}
    for count, (line, row) in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise CatalogueFileError(f"line {line}: more than {MAX_ROWS} rows")
        if isinstance(row, RowError):
            errors.append(row)
            continue
        checked = validate_row(row, textual=textual)
        sku = row.get("sku") if isinstance(row.get("sku"), str) else None
        sku = sku.strip() if sku else None
        if isinstance(checked, ProductRecord):
            if checked.sku in first_line:
                reason = f"duplicate sku {checked.sku} (first on line {first_line[checked.sku]})"
                errors.append(RowError(line, (reason,), sku))
                continue
            first_line[checked.sku] = line
            records.append(checked)
        else:
            errors.append(RowError(line, checked, sku or None))
    return ParsedFile(records=tuple(records), errors=tuple(errors))


def read_catalogue(path: Path) -> ParsedFile:
    """Read and check a catalogue file; the extension picks the format.

    Raises:
        CatalogueFileError: If the file is missing, unreadable, too large, not
            UTF-8, of an unknown type or malformed as a whole.
    """
    file_format = FileFormat.for_path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CatalogueFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise CatalogueFileError(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CatalogueFileError(f"line {line}: the file is not UTF-8 text") from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise CatalogueFileError(f"line {line}: the file contains NUL bytes (binary data?)")
    return parse_catalogue(text, file_format)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def format_catalogue(records: Iterable[ProductRecord], file_format: FileFormat) -> str:
    """Return records as the text of a catalogue file that reads back the same."""
    rows = [record_to_row(record) for record in records]
    if file_format is FileFormat.JSONL:
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELDS)
    for row in rows:
        writer.writerow([_csv_cell(row[field]) for field in FIELDS])
    return buffer.getvalue()


def write_catalogue(path: Path, records: Iterable[ProductRecord]) -> int:
    """Write records to a catalogue file, replacing it atomically.

    Args:
        path: Where to write; the extension picks the format.
        records: The products, written in the order given.

    Returns:
        The number of products written.

    Raises:
        CatalogueFileError: If the extension is unknown or the file cannot be written.
    """
    file_format = FileFormat.for_path(path)
    batch = list(records)
    text = format_catalogue(batch, file_format)
    temporary: Optional[str] = None
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.resolve().parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
        temporary = None
    except OSError as exc:
        raise CatalogueFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    return len(batch)


def load_seed_catalogue(path: Path = SEED_FILE) -> Tuple[ProductRecord, ...]:
    """Read the seed catalogue, checked like any imported file.

    Raises:
        CatalogueFileError: If the file is unreadable or has any invalid row.
    """
    parsed = read_catalogue(path)
    if parsed.errors:
        listed = "; ".join(str(error) for error in parsed.errors[:5])
        raise CatalogueFileError(f"{path.name} has {len(parsed.errors)} invalid rows: {listed}")
    return parsed.records


def seed_catalogue(session: Session, now: datetime, path: Path = SEED_FILE) -> int:
    """Fill an empty catalogue from a file (a :data:`actions.db.Seeder`).

    The caller commits; :meth:`actions.db.Database.seed` does, under the lock
    that keeps a second process from seeding at the same time.

    Args:
        session: An open session inside a transaction.
        now: The moment of seeding, stored as the products' creation time.
        path: The catalogue file; :data:`SEED_FILE` by default.

    Returns:
        The number of products added: 0 if the catalogue had products already,
        or if the seed file is missing or invalid (logged as an error, so that
        orders and the rest keep working; the next process tries again).
    """
    if not catalogue_is_empty(session):
        return 0
    try:
        records = load_seed_catalogue(path)
    except CatalogueFileError as exc:
        logger.error("The catalogue was not seeded: %s", exc)
        return 0
    return upsert_products(session, records, now).inserted
