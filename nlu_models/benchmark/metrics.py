"""Classification and timing metrics shared by the benchmarks."""

import os
import platform
import time
from typing import Callable, Dict, List, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Fraction of predictions equal to the gold label."""
    if not gold:
        return 0.0
    return float(np.mean([g == p for g, p in zip(gold, predicted)]))


def per_label_scores(gold: Sequence[str], predicted: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Precision, recall, F1 and support per gold label."""
    scores: Dict[str, Dict[str, float]] = {}
    for label in sorted(set(gold)):
        tp = sum(1 for g, p in zip(gold, predicted) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted) if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": float(tp + fn),
        }
    return scores


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean of the per-label F1 over the gold labels."""
    scores = per_label_scores(gold, predicted)
    return float(np.mean([s["f1"] for s in scores.values()])) if scores else 0.0


def macro_recall(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean of the per-label recall over the gold labels."""
    scores = per_label_scores(gold, predicted)
    return float(np.mean([s["recall"] for s in scores.values()])) if scores else 0.0


def latencies_ms(items: Sequence[T], run_one: Callable[[T], object]) -> List[float]:
    """Runs ``run_one`` on each item in turn and returns the wall time of each."""
    timings = []
    for item in items:
        start = time.perf_counter()
        run_one(item)
        timings.append((time.perf_counter() - start) * 1000.0)
    return timings


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of ``values``."""
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def machine_description() -> Dict[str, object]:
    """Where a benchmark ran, for the report."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
