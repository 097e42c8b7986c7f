import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from actions.db import Database
from actions.recommender.cli import main
from actions.settings import PROJECT_ROOT
from tests.actions.recommender.support import FakeEmbedder

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/shop?connect_timeout=2"


def run(
    argv: List[str], database: Optional[Database], embedder: Optional[FakeEmbedder] = None
) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, database=database, embedder=embedder or FakeEmbedder(), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_search_prints_json(catalogue_database: Database) -> None:
    status, out, err = run(
        ["search", "noise cancelling headphones", "--budget-max", "400", "--top", "2", "--json"],
        catalogue_database,
    )

    assert (status, err) == (0, "")
    products = json.loads(out)
    assert [p["sku"] for p in products] == ["HP-1", "HP-4"]
    first = products[0]
    assert list(first) == [
        "sku", "title", "category", "brand", "price", "currency", "score", "reasons"
    ]  # fmt: skip
    assert first["title"] == "Sony WH-1000XM5 Noise Cancelling Headphones"
    assert (first["category"], first["price"], first["currency"]) == ("headphones", 329.0, "EUR")
    assert first["reasons"] == [
        "€329, €71 under your €400 budget",
        "noise cancelling",
        "rated 4.5/5 from 58 reviews",
    ]
    assert first["score"] > products[1]["score"]


def test_options_override_the_text(catalogue_database: Database) -> None:
    status, out, _ = run(
        ["search", "something under 100 euros", "--category", "Laptop", "--budget-max", "1300",
         "--budget-min", "1000", "--json"],
        catalogue_database,
    )  # fmt: skip

    assert status == 0
    assert [(p["sku"], p["reasons"][0]) for p in json.loads(out)] == [
        ("LT-1", "€1,299, €1 under your €1,300 budget")
    ]


def test_search_prints_a_table_by_default(catalogue_database: Database) -> None:
    status, out, _ = run(
        ["search", "noise cancelling headphones", "--budget-max", "400", "--top", "2"],
        catalogue_database,
    )

    assert status == 0
    header, first, second = out.splitlines()
    assert header.split() == ["#", "SKU", "Title", "Category", "Price", "Score", "Why"]
    assert first.split("  ")[:5] == [
        "1", "HP-1", "Sony WH-1000XM5 Noise Cancelling Headphones", "headphones", "€329"
    ]  # fmt: skip
    assert first.endswith(
        "  €329, €71 under your €400 budget; noise cancelling; rated 4.5/5 from 58 reviews"
    )
    assert second.startswith("2  HP-4  Sennheiser Momentum 4 Wireless Headphones    headphones")


def test_nothing_found_says_what_to_relax(catalogue_database: Database) -> None:
    status, out, err = run(["search", "headphones under 40 euros", "--json"], catalogue_database)

    assert (status, out) == (1, "[]\n")
    assert err == (
        "Sorry, I couldn't find any headphones up to €40. You could raise the budget to €59.\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "   ", "--json"], "error: the need text is empty; say what you are looking"),
        (["search", "tv", "--budget-max", "-5"], "error: --budget-max must not be negative"),
        (["search", "tv", "--budget-max", "lots"], "error: --budget-max must be a number, got"),
        (["search", "tv", "--budget-min", "nan"], "error: --budget-min must be a number, got"),
        (
            ["search", "tv", "--budget-min", "500", "--budget-max", "100"],
            "error: --budget-min must not be above --budget-max",
        ),
        (["search", "tv", "--top", "0"], "error: --top must be between 1 and 100, got 0"),
        (["search", "tv", "--category", "boats"], "error: unknown category 'boats'; use one of: "),
    ],
)
def test_bad_input_is_refused_before_touching_anything(argv: List[str], message: str) -> None:
    embedder = FakeEmbedder()

    status, out, err = run(argv, database=None, embedder=embedder)

    assert (status, out) == (2, "")
    assert err.startswith(message)
    assert embedder.calls == []


def test_an_unavailable_database_is_a_clear_error() -> None:
    status, out, err = run(["search", "headphones", "--database-url", UNREACHABLE], database=None)

    assert (status, out) == (2, "")
    assert err.startswith("error: the database is unavailable: ")
    assert "Connection refused" in err or "could not connect" in err


def test_a_bad_database_url_is_a_clear_error() -> None:
    status, _, err = run(["search", "headphones", "--database-url", "nonsense://"], database=None)

    assert status == 2
    assert err.startswith("error: cannot use the database URL: ")


def test_embed_stores_missing_embeddings(catalogue_database: Database) -> None:
    embedder = FakeEmbedder()

    first = run(["embed"], catalogue_database, embedder)
    second = run(["embed"], catalogue_database, embedder)

    assert first == (0, "Stored embeddings for 10 products.\n", "")
    assert second == (0, "Stored embeddings for 0 products.\n", "")


def test_python_dash_m_runs_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"}

    process = subprocess.run(
        [sys.executable, "-m", "actions.recommender", "search", "", "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert process.returncode == 2
    assert process.stdout == ""
    assert "error: the need text is empty" in process.stderr
    assert not (tmp_path / "never.db").exists()
