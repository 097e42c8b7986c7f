"""The index benchmark CLI, end to end on a tiny catalogue with the fake embedder."""

import io
import json
from pathlib import Path
from typing import Dict, Optional

import pytest

from actions.recommender.benchmark import (
    EXIT_OK,
    EXIT_USAGE,
    default_embedder,
    main,
    synthetic_vectors,
)
from tests.actions.recommender.support import FakeEmbedder

KEYS = {
    "p50_ms",
    "p95_ms",
    "build_s",
    "recall_at_10",
    "peak_rss_mb",
    "products",
    "queries",
    "index",
    "machine",
}


@pytest.mark.parametrize("kind", ["exact", "ann"])
def test_benchmark_runs_end_to_end(tmp_path: Path, kind: str) -> None:
    if kind == "ann":
        pytest.importorskip("hnswlib")
    out_file = tmp_path / "results" / "bench.json"
    embedder = FakeEmbedder()

    status = main(
        ["--products", "60", "--queries", "8", "--index", kind, "--out", str(out_file)],
        embedder=embedder,
        out=io.StringIO(),
    )

    assert status == EXIT_OK
    result = json.loads(out_file.read_text())
    assert KEYS <= set(result)
    assert result["products"] == 60 and result["queries"] == 8 and result["index"] == kind
    assert 0 < result["p50_ms"] <= result["p95_ms"]
    assert result["build_s"] >= 0 and result["peak_rss_mb"] > 0
    assert result["recall_at_10"] == (1.0 if kind == "exact" else pytest.approx(1.0, abs=0.05))
    assert result["machine"]["cpus"] >= 1
    # Every query text was embedded (plus the warm-up and the base product texts).
    assert sum(len(call) for call in embedder.calls) >= 8


def test_benchmark_uses_the_given_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'given.db'}"
    out_file = tmp_path / "bench.json"
    status = main(
        [
            "--products",
            "20",
            "--queries",
            "3",
            "--index",
            "exact",
            "--out",
            str(out_file),
            "--database-url",
            url,
        ],
        embedder=FakeEmbedder(),
        out=io.StringIO(),
    )
    assert status == EXIT_OK
    assert (tmp_path / "given.db").exists()
    assert json.loads(out_file.read_text())["products"] == 20


@pytest.mark.parametrize(
    "argv",
    [
        ["--products", "0", "--queries", "3"],
        ["--products", "ten", "--queries", "3"],
        ["--products", "10", "--queries", "-1"],
        ["--products", "10", "--queries", "3", "--index", "bogus"],
        ["--queries", "3"],
        ["--products", "10", "--queries", "3", "--out"],
        ["--products", "10", "--queries", "3", "--torch-threads", "0"],
    ],
)
def test_bad_arguments_are_rejected(tmp_path: Path, argv: list) -> None:
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "x.json")]
    assert main(argv, embedder=FakeEmbedder(), err=io.StringIO()) == EXIT_USAGE
    assert not (tmp_path / "x.json").exists()


def test_out_must_not_be_a_directory(tmp_path: Path) -> None:
    err = io.StringIO()
    status = main(
        ["--products", "5", "--queries", "1", "--out", str(tmp_path)],
        embedder=FakeEmbedder(),
        err=err,
    )
    assert status == EXIT_USAGE and "directory" in err.getvalue()


def test_synthetic_vectors_are_unit_length() -> None:
    import numpy as np

    base = FakeEmbedder().embed(["red phone", "blue laptop", "green speaker"])
    vectors = synthetic_vectors(100, base, np.random.default_rng(0))
    assert vectors.shape == (100, base.shape[1])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_ef_sweep_reports_recall_per_setting(tmp_path: Path) -> None:
    pytest.importorskip("hnswlib")
    out_file = tmp_path / "bench.json"
    argv = ["--products", "40", "--queries", "4", "--index", "ann", "--out", str(out_file)]
    status = main([*argv, "--ef-sweep", "16", "64"], embedder=FakeEmbedder(), out=io.StringIO())
    assert status == EXIT_OK
    sweep = json.loads(out_file.read_text())["ef_sweep"]
    assert [row["ef_search"] for row in sweep] == [16, 64]
    assert all(0.0 <= row["recall_at_10"] <= 1.0 for row in sweep)


@pytest.mark.parametrize(
    ("argument", "environ", "threads"),
    [
        (None, {}, 1),
        (None, {"ASSISTANT_TORCH_THREADS": "3"}, 3),
        (2, {"ASSISTANT_TORCH_THREADS": "3"}, 2),
    ],
)
def test_query_embedding_uses_the_servers_torch_threads_by_default(
    argument: Optional[int], environ: Dict[str, str], threads: int
) -> None:
    embedder = default_embedder(argument, environ)

    assert embedder.torch_threads == threads
    assert not embedder.loaded


def test_a_bad_torch_threads_setting_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_TORCH_THREADS", "0")
    err = io.StringIO()
    argv = ["--products", "5", "--queries", "1", "--out", str(tmp_path / "x.json")]

    assert main(argv, err=err) == EXIT_USAGE
    assert "ASSISTANT_TORCH_THREADS must be at least 1, got 0" in err.getvalue()
