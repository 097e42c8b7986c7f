"""The load benchmark's aggregation: samples file, percentiles, the report's objects."""

import json
from pathlib import Path

import pytest

from bot.loadtest.__main__ import goals, parse_env
from bot.loadtest.results import (
    Sample,
    error_kinds,
    percentile,
    read_samples,
    summarize_paced,
    summarize_saturated,
)


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1 .. 100
    assert percentile(values, 50) == 50.5
    assert percentile(values, 90) == 90.1
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([30.0, 10.0, 20.0], 50) == 20.0


def test_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_read_samples_parses_the_locust_files_lines(tmp_path: Path) -> None:
    path = tmp_path / "paced.jsonl"
    rows = [
        {"flow": "return", "step": 0, "start": 100.0, "ms": 80.5, "error": ""},
        {"flow": "return", "step": 1, "start": 102.0, "ms": 91.25, "error": "HTTP 503"},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n")
    assert read_samples(path) == [
        Sample("return", 0, 100.0, 80.5, ""),
        Sample("return", 1, 102.0, 91.25, "HTTP 503"),
    ]


def test_read_samples_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"flow": "x", "step": 0, "start": 1, "ms": 2}\n{"flow": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not a sample"):
        read_samples(path)


def test_paced_summary_counts_failed_messages_with_their_time() -> None:
    samples = [Sample("f", 0, 0.0, float(ms)) for ms in range(10, 100, 10)]  # 10 .. 90
    samples.append(Sample("f", 1, 0.0, 1000.0, "no reply"))
    summary = summarize_paced(samples)
    assert summary.to_json() == {"p50_ms": 55.0, "p95_ms": 590.5, "p99_ms": 918.1, "errors": 1}
    assert summary.messages == 10


def test_saturated_summary_counts_answered_messages_over_the_whole_window() -> None:
    # First sent at t=100, last reply at t=110.5: 10.5 s; 20 answered, 1 failed.
    samples = [Sample("f", 0, 100.0 + n * 0.5, 100.0) for n in range(20)]
    samples.append(Sample("f", 1, 110.0, 500.0, "HTTP 503"))
    summary = summarize_saturated(samples)
    assert summary.to_json() == {"throughput_per_s": 1.9, "p95_ms": 100.0, "errors": 1}
    assert (summary.messages, summary.seconds) == (21, 10.5)


def test_saturated_summary_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no samples"):
        summarize_saturated([])


def test_error_kinds_counts_by_problem() -> None:
    samples = [
        Sample("f", 0, 0.0, 1.0, "HTTP 503"),
        Sample("f", 0, 0.0, 1.0, ""),
        Sample("f", 1, 0.0, 1.0, "no reply"),
        Sample("f", 2, 0.0, 1.0, "HTTP 503"),
    ]
    assert error_kinds(samples) == {"HTTP 503": 2, "no reply": 1}


def test_goals_compare_the_measured_figures() -> None:
    report = {
        "project": {
            "paced": {"p50_ms": 90.0, "p95_ms": 300.0, "p99_ms": 400.0, "errors": 0},
            "saturated": {"throughput_per_s": 25.0, "p95_ms": 900.0, "errors": 0},
        },
        "stock": {
            "paced": {"p50_ms": 60.0, "p95_ms": 120.0, "p99_ms": 200.0, "errors": 0},
            "saturated": {"throughput_per_s": 26.0, "p95_ms": 933.0, "errors": 0},
        },
    }
    assert goals(report) == {
        "paced_p95_at_most_300_ms_without_errors": True,
        "saturated_throughput_at_least_stock": False,
    }
    report["project"]["paced"]["errors"] = 1
    assert goals({"project": report["project"]}) == {
        "paced_p95_at_most_300_ms_without_errors": False
    }


def test_project_env_assignments_are_parsed_and_bad_ones_refused() -> None:
    assert parse_env(["OMP_NUM_THREADS=1", " A =x=y", "EMPTY="]) == {
        "OMP_NUM_THREADS": "1",
        "A": "x=y",
        "EMPTY": "",
    }
    with pytest.raises(ValueError, match="NAME=VALUE, got 'OMP_NUM_THREADS'"):
        parse_env(["OMP_NUM_THREADS"])
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_env(["=1"])
