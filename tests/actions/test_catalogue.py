"""Catalogue files: row validation, the import/export command line, round trips."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from actions.catalogue import (
    CatalogueRepository,
    FileFormat,
    ProductRecord,
    main,
    parse_catalogue,
    read_catalogue,
    validate_row,
    write_catalogue,
)
from actions.catalogue_validation import FIELDS, record_to_row
from actions.db import Database
from actions.settings import Settings
from tests.actions.recommender.support import FakeEmbedder

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def row(**overrides: Any) -> Dict[str, Any]:
    """A valid JSON Lines row; keyword arguments replace (or, as None, remove) fields."""
    base: Dict[str, Any] = {
        "sku": "HPH-1001",
        "title": "Sony WH-1000XM5",
        "description": "Quiet, comfortable over-ears.",
        "category": "Electronics > Audio > Headphones",
        "category_key": "headphones",
        "brand": "Sony",
        "price_cents": 32900,
        "currency": "EUR",
        "rating": 4.7,
        "review_count": 1250,
        "stock": 14,
        "attributes": {"noise_cancelling": True, "battery_hours": 30, "colours": ["black"]},
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def jsonl(*rows: Any) -> str:
    return "".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows
    )


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(Settings(database_url=f"sqlite:///{tmp_path / 'catalogue.db'}"), seeders=[])
    yield db
    db.dispose()


@pytest.fixture
def repository(database: Database) -> CatalogueRepository:
    return CatalogueRepository(database)


def run(database: Database, *argv: str) -> int:
    return main(list(argv), database=database, embedder=FakeEmbedder())


# --- validation ---------------------------------------------------------------


def test_a_valid_json_row_becomes_a_record() -> None:
    record = validate_row(row(), textual=False)

    assert isinstance(record, ProductRecord)
    assert record.price_cents == 32900 and record.rating == 4.7
    assert record.attributes == {
        "noise_cancelling": True,
        "battery_hours": 30,
        "colours": ("black",),
    }
    assert record.in_stock


def test_a_csv_row_is_parsed_from_text_with_defaults() -> None:
    textual = {
        "sku": " HPH-1001 ",
        "title": "Sony WH-1000XM5",
        "category": "Electronics>Audio >Headphones",
        "category_key": "headphones",
        "brand": "Sony",
        "price_cents": "32900",
        "stock": "0",
        "attributes": '{"battery_hours": 30}',
    }

    record = validate_row(textual, textual=True)

    assert isinstance(record, ProductRecord)
    assert record.sku == "HPH-1001"
    assert record.category == "Electronics > Audio > Headphones"
    assert (record.currency, record.rating, record.review_count, record.description) == (
        "EUR",
        None,
        0,
        "",
    )
    assert not record.in_stock


INVALID = [
    (row(sku=None), True, "sku is required"),
    (row(sku="hph-1001"), False, "sku must be 3-32 upper-case letters or digits"),
    (row(sku="HPH--1"), False, "sku must be 3-32"),
    (row(sku="X" * 33), False, "sku must be 3-32"),
    (row(title=""), False, "title is required"),
    (row(title="T" * 201), False, "title is longer than 200 characters (201)"),
    (row(description="D" * 2001), False, "description is longer than 2000 characters"),
    (row(brand=42), False, "brand must be text, got a number"),
    (row(price_cents=-100), False, "price_cents must be between 0 and 100,000,000, got -100"),
    (row(price_cents=12.5), False, "price_cents must be a whole number, got a number 12.5"),
    (row(price_cents="32900"), False, "price_cents must be a whole number, got text '32900'"),
    (row(price_cents=True), False, "price_cents must be a whole number, got true/false True"),
    (row(price_cents=None), False, "price_cents is required"),
    (row(stock=-1), False, "stock must be between 0 and 1,000,000, got -1"),
    (row(review_count=1.5), False, "review_count must be a whole number"),
    (row(rating=5.5), False, "rating must be between 0 and 5, got 5.5"),
    (row(rating=-0.1), False, "rating must be between 0 and 5"),
    (row(rating="good"), False, "rating must be a number from 0 to 5, got text 'good'"),
    (
        row(currency="eur"),
        False,
        "currency must be three upper-case letters such as EUR, got 'eur'",
    ),
    (row(currency="EURO"), False, "currency must be three upper-case letters"),
    (row(category="Electronics > > Audio"), False, "category must be a path like"),
    (row(category_key="Head Phones"), False, "category_key must be 2-40 lower-case letters"),
    (row(attributes=["noise_cancelling"]), False, "attributes must be a JSON object, got a list"),
    (row(attributes={"Battery Hours": 30}), False, "attribute name 'Battery Hours' must be"),
    (row(attributes={"specs": {"a": 1}}), False, "attribute 'specs' must be text, a number"),
    (row(attributes={"k": "x" * 201}), False, "attribute 'k' is longer than 200 characters"),
    (row(attributes={f"a{i}": i for i in range(51)}), False, "attributes has more than 50 entries"),
    (row(title="Bad\u0007bell"), False, "title contains a control or invisible character U+0007"),
    (row(title="Tab\there"), False, "title contains a control or invisible character U+0009"),
    (row(brand="Sony\u202e"), False, "brand contains a control or invisible character U+202E"),
    (row(attributes={"note": "a\nb"}), False, "attribute 'note' contains a control"),
    (row(colour="black"), False, "unknown field colour"),
]


@pytest.mark.parametrize("raw, textual, reason", INVALID)
def test_invalid_rows_are_rejected_with_a_reason(
    raw: Dict[str, Any], textual: bool, reason: str
) -> None:
    result = validate_row(raw, textual=textual)

    assert not isinstance(result, ProductRecord)
    assert any(problem.startswith(reason) for problem in result), result


INVALID_CSV_CELLS = [
    ({"price_cents": "12.99"}, "price_cents must be a whole number, got '12.99'"),
    ({"price_cents": "1" * 5000}, "price_cents must be between 0 and 100,000,000, got 5000 digits"),
    ({"stock": "lots"}, "stock must be a whole number, got 'lots'"),
    ({"rating": "nan"}, "rating must be a number from 0 to 5, got 'nan'"),
    (
        {"attributes": "{not json"},
        "attributes is not valid JSON at character 2: Expecting property",
    ),
    ({"attributes": '{"a": NaN}'}, "attributes is not valid JSON: NaN is not a number JSON allows"),
    ({"attributes": "[1, 2]"}, "attributes must be a JSON object, got a list"),
]


@pytest.mark.parametrize("cells, reason", INVALID_CSV_CELLS)
def test_invalid_csv_cells(cells: Dict[str, str], reason: str) -> None:
    textual = {key: str(value) for key, value in row(attributes=None).items()}
    textual.update(cells)

    result = validate_row(textual, textual=True)

    assert not isinstance(result, ProductRecord)
    assert any(problem.startswith(reason) for problem in result), result


def test_every_problem_of_a_row_is_reported() -> None:
    result = validate_row(row(sku="x", price_cents=-1, rating=9, currency="E"), textual=False)

    assert not isinstance(result, ProductRecord)
    assert len(result) == 4


# --- importing ------------------------------------------------------------------


def bad_jsonl() -> str:
    return jsonl(
        row(sku="HPH-1001"),
        row(sku="HPH-1002", price_cents=-5),
        "",
        '{"sku": "HPH-1003", "title": ',
        row(sku="HPH-1001", title="Duplicate"),
        row(sku="HPH-1004", rating=7, currency="eu"),
        row(sku="HPH-1005"),
        "[1, 2, 3]",
        '{"sku": "HPH-1006", "sku": "HPH-1007"}',
    )


EXPECTED_BAD_JSONL = [
    "line 2 (sku HPH-1002): price_cents must be between 0 and 100,000,000, got -5",
    "line 4: not valid JSON at column 30: Expecting value",
    "line 5 (sku HPH-1001): duplicate sku HPH-1001 (first on line 1)",
    "line 6 (sku HPH-1004): currency must be three upper-case letters such as EUR, got 'eu'; "
    "rating must be between 0 and 5, got 7",
    "line 8: expected a JSON object, got list",
    "line 9: not valid JSON: duplicate key 'sku'",
]


def test_bad_rows_are_reported_with_line_numbers_and_reasons() -> None:
    parsed = parse_catalogue(bad_jsonl(), FileFormat.JSONL)

    assert [str(error) for error in parsed.errors] == EXPECTED_BAD_JSONL
    assert [record.sku for record in parsed.records] == ["HPH-1001", "HPH-1005"]
    assert parsed.rows == 8


def test_a_file_with_bad_rows_imports_nothing(
    tmp_path: Path,
    database: Database,
    repository: CatalogueRepository,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "products.jsonl"
    path.write_text(bad_jsonl(), encoding="utf-8")

    status = run(database, "import", str(path))

    captured = capsys.readouterr()
    assert status == 1
    assert "6 of 8 rows" in captured.err and "nothing was imported" in captured.err
    assert [line.strip() for line in captured.err.splitlines()[1:]] == EXPECTED_BAD_JSONL
    assert repository.count() == 0


def test_skip_invalid_imports_the_good_rows_and_lists_the_bad(
    tmp_path: Path,
    database: Database,
    repository: CatalogueRepository,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "products.jsonl"
    path.write_text(bad_jsonl(), encoding="utf-8")

    status = run(database, "import", str(path), "--skip-invalid")

    captured = capsys.readouterr()
    assert status == 0
    assert "Imported 2 products" in captured.out and "2 new" in captured.out
    assert "Skipped 6 invalid rows:" in captured.err
    assert [line.strip() for line in captured.err.splitlines()[1:]] == EXPECTED_BAD_JSONL
    assert [record.sku for record in repository.list_products()] == ["HPH-1001", "HPH-1005"]
    stored = repository.get("HPH-1001")
    assert stored is not None and stored.title == "Sony WH-1000XM5"  # not the duplicate


def test_reimporting_the_same_file_changes_nothing_and_updates_by_sku(
    tmp_path: Path,
    database: Database,
    repository: CatalogueRepository,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "products.jsonl"
    path.write_text(jsonl(row(sku="A-1"), row(sku="A-2"), row(sku="A-3")), encoding="utf-8")
    assert run(database, "import", str(path)) == 0
    first = {record.sku: record for record in repository.list_products()}
    capsys.readouterr()

    assert run(database, "import", str(path)) == 0
    assert "0 new, 0 updated, 3 unchanged" in capsys.readouterr().out
    again = {record.sku: record for record in repository.list_products()}
    assert again == first
    assert [again[sku].updated_at for sku in again] == [first[sku].updated_at for sku in first]

    path.write_text(jsonl(row(sku="A-1", price_cents=29900), row(sku="A-4")), encoding="utf-8")
    assert run(database, "import", str(path)) == 0
    assert "1 new, 1 updated, 0 unchanged" in capsys.readouterr().out
    assert repository.count() == 4
    updated = repository.get("A-1")
    assert updated is not None and updated.price_cents == 29900
    assert updated.created_at == first["A-1"].created_at
    assert updated.updated_at is not None and updated.updated_at >= first["A-1"].updated_at


def test_csv_import_with_quoting_and_multiline_cells(
    tmp_path: Path, database: Database, repository: CatalogueRepository
) -> None:
    header = ",".join(FIELDS)
    lines = [
        header,
        'TNT-1,"Tent, 2 person","A ""light"" tent.",Outdoor > Camping > Tents,tents,MSR,59995,'
        'EUR,4.5,12,3,"{""capacity"": 2}"',
        'TNT-2,Tent,"Two lines',
        'of description",Outdoor > Camping > Tents,tents,MSR,100,EUR,,0,1,',
        "TNT-3,Tent,,Outdoor > Camping > Tents,tents,MSR,-1,EUR,,0,1,",
        "TNT-4,Tent,,Outdoor > Camping > Tents,tents,MSR,100,EUR,,0,1",
        "",
        "TNT-5,Tent,,Outdoor > Camping > Tents,tents,MSR,100,,,,1,",
    ]
    path = tmp_path / "tents.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    parsed = read_catalogue(path)

    assert [str(error) for error in parsed.errors] == [
        "line 3 (sku TNT-2): description contains a control or invisible character U+000A "
        "at position 10",
        "line 5 (sku TNT-3): price_cents must be between 0 and 100,000,000, got -1",
        "line 6: expected 12 cells as in the header, got 11",
    ]
    assert [record.sku for record in parsed.records] == ["TNT-1", "TNT-5"]
    assert parsed.records[0].title == "Tent, 2 person"
    assert parsed.records[0].description == 'A "light" tent.'
    assert parsed.records[0].attributes == {"capacity": 2}
    assert run(database, "import", str(path), "--skip-invalid") == 0
    assert repository.count() == 2


MALFORMED = [
    (
        "products.csv",
        b'sku,title,category,category_key,brand,price_cents,stock\n"A-1,x\n',
        "line 2: malformed CSV: unexpected end of data",
    ),
    ("products.csv", b"title,brand\nx,y\n", "missing required columns sku, category"),
    ("products.csv", b"sku,title,colour\n", "unknown columns 'colour'"),
    ("products.csv", b"sku,sku,title\n", "duplicate columns sku"),
    ("products.csv", b"", "the CSV file has no header row"),
    ("products.jsonl", b'{"sku": "A-1"}\n{"title": "caf\xe9"}\n', "line 2: the file is not UTF-8"),
    ("products.jsonl", b"\x00\x01\x02binary", "line 1: the file contains NUL bytes"),
    ("products.json", b"[]", "unsupported file type '.json'"),
    ("products.xlsx", b"PK", "unsupported file type '.xlsx'"),
]


@pytest.mark.parametrize("name, content, message", MALFORMED)
def test_malformed_files_exit_with_status_2(
    tmp_path: Path,
    database: Database,
    repository: CatalogueRepository,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes,
    message: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    status = run(database, "import", str(path))

    assert status == 2
    assert message in capsys.readouterr().err
    assert repository.count() == 0


def test_a_missing_file_exits_with_status_2(
    tmp_path: Path, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(database, "import", str(tmp_path / "nope.csv")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_an_empty_jsonl_file_imports_nothing_and_succeeds(
    tmp_path: Path, database: Database, repository: CatalogueRepository
) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")

    assert run(database, "import", str(path)) == 0
    assert repository.count() == 0


# --- exporting ------------------------------------------------------------------


def sample_records() -> List[ProductRecord]:
    rows = [
        row(sku="B-2", title="Kånken 16 l", brand="Fjällräven", rating=None, review_count=0),
        row(sku="A-1", title='Tent "Air", 2p', description='Comma, quote " and é.', stock=0),
        row(sku="C-3", attributes={}, currency="GBP", price_cents=0),
    ]
    records = [validate_row(r, textual=False) for r in rows]
    assert all(isinstance(record, ProductRecord) for record in records)
    return records  # type: ignore[return-value]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_export_round_trip(
    tmp_path: Path,
    database: Database,
    repository: CatalogueRepository,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    repository.upsert_many(sample_records())
    path = tmp_path / f"export{suffix}"

    assert run(database, "export", str(path)) == 0
    assert "Exported 3 products" in capsys.readouterr().out

    parsed = read_catalogue(path)
    assert parsed.errors == ()
    assert list(parsed.records) == sorted(sample_records(), key=lambda record: record.sku)
    fresh = Database(Settings(database_url="sqlite://"), seeders=[])
    assert run(fresh, "import", str(path)) == 0
    assert CatalogueRepository(fresh).list_products() == repository.list_products()
    fresh.dispose()


def test_write_catalogue_rejects_unknown_extensions_and_leaves_no_temporary_file(
    tmp_path: Path, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(database, "export", str(tmp_path / "out.txt")) == 2
    assert "unsupported file type" in capsys.readouterr().err
    assert run(database, "export", str(tmp_path / "missing-dir" / "out.csv")) == 2
    assert [path.name for path in tmp_path.iterdir() if not path.name.endswith(".lock")] == [
        "catalogue.db"
    ]


def test_jsonl_export_is_one_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"

    assert write_catalogue(path, sample_records()) == 3

    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["sku"] for line in lines] == ["B-2", "A-1", "C-3"]
    assert json.loads(lines[0]) == record_to_row(sample_records()[0])
    assert "Fjällräven" in lines[0]  # readable, not \u-escaped


def test_the_command_runs_as_a_module(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(jsonl(row(sku="A-1"), row(sku="A-2")), encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(jsonl(row(sku="A-3"), row(sku="A-4", stock=-1)), encoding="utf-8")
    env = {**os.environ, "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}

    def cli(*args: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [sys.executable, "-m", "actions.catalogue", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    imported = cli("import", str(good), "--no-embed")
    rejected = cli("import", str(bad))
    exported = cli("export", str(tmp_path / "all.csv"))

    assert (imported.returncode, imported.stdout.strip()) == (
        0,
        f"Imported 2 products from {good}: 2 new, 0 updated, 0 unchanged.",
    )
    assert rejected.returncode == 1
    assert "line 2 (sku A-4): stock must be between 0 and 1,000,000, got -1" in rejected.stderr
    assert exported.returncode == 0, exported.stderr
    assert [record.sku for record in read_catalogue(tmp_path / "all.csv").records] == ["A-1", "A-2"]


def test_import_stores_recommender_embeddings_unless_told_not_to(
    database: Database, tmp_path: Path
) -> None:
    from actions.recommender.embedding_store import load_vectors

    path = tmp_path / "products.jsonl"
    path.write_text(json.dumps(row()) + "\n", encoding="utf-8")
    assert run(database, "import", str(path), "--no-embed") == 0
    assert len(load_vectors(database, FakeEmbedder().model_name)[0]) == 0
    changed = json.dumps({**row(), "title": row()["title"] + " (2025)"})
    path.write_text(changed + "\n", encoding="utf-8")
    assert run(database, "import", str(path)) == 0
    assert len(load_vectors(database, FakeEmbedder().model_name)[0]) == 1
