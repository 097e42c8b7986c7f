"""Properties of the catalogue importer (CSV and JSON Lines), with Hypothesis.

* Any text at all is read without crashing: rows or a :class:`CatalogueFileError`.
* Every row is accounted for: a record or an error, each error on its line.
* Rows made invalid on purpose are reported exactly, with their line numbers,
  among valid rows, blank lines and multi-line CSV cells.
* Valid records survive export and import (both formats, and through files).
"""

import csv
import io
import json
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, Dict, List, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.catalogue_files import (
    CatalogueFileError,
    FileFormat,
    format_catalogue,
    parse_catalogue,
    read_catalogue,
    write_catalogue,
)
from actions.catalogue_store import ProductRecord
from actions.catalogue_validation import FIELDS, RowError, record_to_row

PROPERTIES = settings(
    max_examples=100,
    deadline=None,  # the machine is shared; a slow example is not a failure
    database=None,  # leave no .hypothesis folder in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FORMATS = st.sampled_from([FileFormat.CSV, FileFormat.JSONL])

# --- valid records --------------------------------------------------------------------

# Printable characters only: no controls, surrogates, private use, format characters
# (zero-width and direction marks) or line separators; these the validator refuses.
_PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cf", "Zl", "Zp"))


def _canonical(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


def texts(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return (
        st.text(_PRINTABLE, min_size=min_size, max_size=max_size)
        .map(_canonical)
        .filter(lambda text: len(text) >= min_size and _canonical(text) == text)
    )


levels = texts(1, 20).filter(lambda level: ">" not in level)
attribute_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False),
    st.text(_PRINTABLE, max_size=30),
)
records = st.builds(
    ProductRecord,
    sku=st.from_regex(r"[A-Z0-9]{3,8}(-[A-Z0-9]{1,6}){0,2}", fullmatch=True),
    title=texts(1, 60),
    description=texts(0, 80),
    category=st.lists(levels, min_size=1, max_size=6).map(" > ".join),
    category_key=st.from_regex(r"[a-z][a-z0-9_]{1,20}", fullmatch=True),
    brand=texts(1, 30),
    price_cents=st.integers(min_value=0, max_value=100_000_000),
    currency=st.from_regex(r"[A-Z]{3}", fullmatch=True),
    rating=st.one_of(st.none(), st.integers(min_value=0, max_value=500).map(lambda r: r / 100)),
    review_count=st.integers(min_value=0, max_value=100_000_000),
    stock=st.integers(min_value=0, max_value=1_000_000),
    attributes=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True),
        st.one_of(attribute_values, st.lists(attribute_values, max_size=4)),
        max_size=5,
    ),
)
catalogues = st.lists(records, max_size=8, unique_by=lambda record: record.sku)


@PROPERTIES
@given(catalogues, FORMATS)
def test_valid_records_round_trip_through_export_and_import(
    catalogue: List[ProductRecord], file_format: FileFormat
) -> None:
    parsed = parse_catalogue(format_catalogue(catalogue, file_format), file_format)
    assert parsed.errors == ()
    assert list(parsed.records) == catalogue
    assert [dict(r.attributes) for r in parsed.records] == [dict(r.attributes) for r in catalogue]


@PROPERTIES
@given(catalogues, st.sampled_from([".csv", ".jsonl", ".ndjson"]))
def test_valid_records_round_trip_through_files(
    catalogue: List[ProductRecord], suffix: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"catalogue{suffix}"
        assert write_catalogue(path, catalogue) == len(catalogue)
        parsed = read_catalogue(path)
    assert (list(parsed.records), parsed.errors) == (catalogue, ())


# --- anything at all ------------------------------------------------------------------


HEADER = ",".join(FIELDS) + "\n"
any_files = st.one_of(
    st.tuples(st.text(max_size=2000), FORMATS),
    # Past a valid header, so that CSV rows are read too.
    st.tuples(st.text(max_size=2000).map(lambda body: HEADER + body), st.just(FileFormat.CSV)),
)


@PROPERTIES
@given(any_files)
def test_any_text_is_read_without_crashing_and_every_row_is_accounted_for(
    case: Tuple[str, FileFormat],
) -> None:
    text, file_format = case
    try:
        parsed = parse_catalogue(text, file_format)
    except CatalogueFileError as exc:
        assert file_format is FileFormat.CSV  # JSON Lines only fails row by row
        assert str(exc).startswith("line ")
        return
    if file_format is FileFormat.CSV:
        # The CSV reader, like an editor, also ends a line at a lone "\r"
        # (old Mac files), and reports line numbers counted that way.
        lines = re.split(r"\r\n|\r|\n", text)
    else:
        lines = [line.rstrip("\r") for line in text.split("\n")]
    error_lines = [error.line for error in parsed.errors]
    assert error_lines == sorted(set(error_lines))
    assert all(1 <= line <= len(lines) for line in error_lines)
    assert all(error.reasons for error in parsed.errors)
    if file_format is FileFormat.JSONL:
        data_lines = [n for n, line in enumerate(lines, start=1) if line.strip()]
        assert parsed.rows == len(data_lines)
        assert set(error_lines) <= set(data_lines)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
raw_rows = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)), json_values, max_size=14
)


@PROPERTIES
@given(st.lists(raw_rows, max_size=6))
def test_arbitrary_json_rows_become_records_or_errors_on_their_lines(
    rows: List[Dict[str, Any]],
) -> None:
    text = "".join(json.dumps(row) + "\n" for row in rows)
    parsed = parse_catalogue(text, FileFormat.JSONL)
    assert parsed.rows == len(rows)
    for error in parsed.errors:
        assert 1 <= error.line <= len(rows)
        assert error.reasons and all(isinstance(reason, str) for reason in error.reasons)


# --- invalid rows among valid ones ----------------------------------------------------

# (how to spoil a row, the reason reported); a spoilt row is written as JSON.
SPOILERS: List[Tuple[str, Any, str]] = [
    ("price_cents", -1, "price_cents must be between 0 and 100,000,000, got -1"),
    ("title", "", "title is required"),
    ("currency", "euro", "currency must be three upper-case letters such as EUR, got 'euro'"),
    ("stock", "7", "stock must be a whole number, got text '7'"),
    ("color", "red", "unknown field color"),
]


def json_error(line: str) -> str:
    """How the importer words the JSON error of ``line``."""
    try:
        json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not valid JSON at column {exc.colno}: {exc.msg}"
    raise AssertionError(f"{line!r} is valid JSON")


@st.composite
def jsonl_with_mistakes(draw: st.DrawFn) -> Tuple[str, List[ProductRecord], List[RowError]]:
    """A JSON Lines file of valid rows, spoilt rows, broken lines and blank lines."""
    catalogue = draw(st.lists(records, min_size=1, max_size=6, unique_by=lambda r: r.sku))
    lines: List[str] = []
    valid: List[ProductRecord] = []
    errors: List[RowError] = []
    first_line: Dict[str, int] = {}
    for record in catalogue:
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            lines.append(draw(st.sampled_from(["", "   ", "\r"])))
        row = record_to_row(record)
        kind = draw(st.sampled_from(["valid", "spoilt", "broken", "duplicate"]))
        number = len(lines) + 1
        if kind == "spoilt":
            field, value, reason = draw(st.sampled_from(SPOILERS))
            lines.append(json.dumps({**row, field: value}))
            errors.append(RowError(number, (reason,), record.sku))
        elif kind == "broken":
            broken = json.dumps(row)[:-1]  # the closing brace lost
            lines.append(broken)
            errors.append(RowError(number, (json_error(broken),)))
        elif kind == "duplicate" and valid:
            twin = valid[0]
            lines.append(json.dumps({**row, "sku": twin.sku}))
            reason = f"duplicate sku {twin.sku} (first on line {first_line[twin.sku]})"
            errors.append(RowError(number, (reason,), twin.sku))
        else:
            lines.append(json.dumps(row))
            valid.append(record)
            first_line[record.sku] = number
    return "\n".join(lines) + "\n", valid, errors


@PROPERTIES
@given(jsonl_with_mistakes())
def test_every_invalid_json_row_is_reported_with_its_line_number(
    case: Tuple[str, List[ProductRecord], List[RowError]],
) -> None:
    text, valid, errors = case
    parsed = parse_catalogue(text, FileFormat.JSONL)
    assert list(parsed.records) == valid
    assert list(parsed.errors) == errors


@st.composite
def csv_with_mistakes(draw: st.DrawFn) -> Tuple[str, List[ProductRecord], List[RowError]]:
    """A CSV file of valid rows, rows of the wrong width and rows whose cells span lines."""
    catalogue = draw(st.lists(records, min_size=1, max_size=6, unique_by=lambda r: r.sku))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELDS)
    valid: List[ProductRecord] = []
    errors: List[RowError] = []
    line = 2
    for record in catalogue:
        exported = format_catalogue([record], FileFormat.CSV).split("\n", 1)[1]
        cells = next(csv.reader(io.StringIO(exported, newline="")))
        kind = draw(st.sampled_from(["valid", "short", "multiline"]))
        if kind == "short":
            writer.writerow(cells[:-1])
            reason = f"expected {len(FIELDS)} cells as in the header, got {len(FIELDS) - 1}"
            errors.append(RowError(line, (reason,)))
            line += 1
        elif kind == "multiline":
            breaks = draw(st.integers(min_value=1, max_value=3))
            cells[FIELDS.index("description")] = "first" + "\n" * breaks + "last"
            writer.writerow(cells)
            reason = "description contains a control or invisible character U+000A at position 6"
            errors.append(RowError(line, (reason,), record.sku))
            line += 1 + breaks
        else:
            writer.writerow(cells)
            valid.append(record)
            line += 1
    return buffer.getvalue(), valid, errors


@PROPERTIES
@given(csv_with_mistakes())
def test_every_invalid_csv_row_is_reported_at_the_line_it_starts_on(
    case: Tuple[str, List[ProductRecord], List[RowError]],
) -> None:
    text, valid, errors = case
    parsed = parse_catalogue(text, FileFormat.CSV)
    assert list(parsed.records) == valid
    assert list(parsed.errors) == errors
