"""Aggregation of the load benchmark's samples into the report's figures."""

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence


@dataclass(frozen=True)
class Sample:
    """One customer message as the Locust file recorded it.

    Attributes:
        flow: The flow's name (bot/loadtest/flows.py).
        step: The message's position in the flow, from 0.
        start: When it was sent (seconds since the epoch).
        ms: How long the reply took, in milliseconds.
        error: Empty when the reply was correct, else what was wrong.
    """

    flow: str
    step: int
    start: float
    ms: float
    error: str = ""


@dataclass(frozen=True)
class PacedSummary:
    """Latency of the paced run (think time between messages)."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    messages: int

    def to_json(self) -> Dict[str, Any]:
        """The report's ``paced`` object."""
        return {
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class SaturatedSummary:
    """Throughput of the saturated run (no think time)."""

    throughput_per_s: float
    p95_ms: float
    errors: int
    messages: int
    seconds: float

    def to_json(self) -> Dict[str, Any]:
        """The report's ``saturated`` object."""
        return {
            "throughput_per_s": self.throughput_per_s,
            "p95_ms": self.p95_ms,
            "errors": self.errors,
        }


def read_samples(path: Path) -> List[Sample]:
    """Read the JSON-lines file the Locust file wrote.

    Args:
        path: The file.

    Returns:
        The samples, in the order they were written.

    Raises:
        ValueError: If a line is not a sample.
    """
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            samples.append(
                Sample(
                    flow=str(row["flow"]),
                    step=int(row["step"]),
                    start=float(row["start"]),
                    ms=float(row["ms"]),
                    error=str(row.get("error", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a sample: {exc}") from exc
    return samples


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile by linear interpolation (numpy's default method).

    Args:
        values: The values; not empty.
        q: 0 to 100.

    Returns:
        The percentile, rounded to 0.1.

    Raises:
        ValueError: If ``values`` is empty.
    """
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 1)


def summarize_paced(samples: Sequence[Sample]) -> PacedSummary:
    """Latency percentiles over every message, failed ones included.

    A failed message counts with the time it took to fail, so that errors
    cannot make the percentiles look better.

    Args:
        samples: The paced run's samples; not empty.

    Returns:
        The summary.
    """
    times = [sample.ms for sample in samples]
    return PacedSummary(
        p50_ms=percentile(times, 50),
        p95_ms=percentile(times, 95),
        p99_ms=percentile(times, 99),
        errors=sum(1 for sample in samples if sample.error),
        messages=len(samples),
    )


def summarize_saturated(samples: Sequence[Sample]) -> SaturatedSummary:
    """Correctly answered messages per second, and the p95 latency.

    The window runs from the first message sent to the last reply received.

    Args:
        samples: The saturated run's samples; not empty.

    Returns:
        The summary.

    Raises:
        ValueError: If there are no samples.
    """
    if not samples:
        raise ValueError("no samples")
    begin = min(sample.start for sample in samples)
    end = max(sample.start + sample.ms / 1000 for sample in samples)
    seconds = max(end - begin, 1e-9)
    answered = sum(1 for sample in samples if not sample.error)
    return SaturatedSummary(
        throughput_per_s=round(answered / seconds, 2),
        p95_ms=percentile([sample.ms for sample in samples], 95),
        errors=len(samples) - answered,
        messages=len(samples),
        seconds=round(seconds, 1),
    )


def error_kinds(samples: Sequence[Sample]) -> Dict[str, int]:
    """Count the failed messages by what was wrong (``{"HTTP 503": 2}``)."""
    counts: Dict[str, int] = {}
    for sample in samples:
        if sample.error:
            counts[sample.error] = counts.get(sample.error, 0) + 1
    return dict(sorted(counts.items()))
