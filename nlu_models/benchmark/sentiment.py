"""Sentiment benchmark: the fine-tuned MiniLM (alone and fused with VADER) against VADER.

Systems in the report: ``model``, the fine-tuned MiniLM alone; ``fused``, MiniLM
with its fusion layer, when the model folder has one (what
:func:`nlu_models.sentiment.load_sentiment_model` then returns); ``baseline``,
VADER, on request. For each precision of the linear weights in ``weights``
other than fp32 (``fp16``, ``int8``), also ``model_<precision>`` and
``fused_<precision>``: the same models with those weights, with the share of
texts they label as the fp32 model does (``labels_as_fp32``).
"""

import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from nlu_models.benchmark import metrics
from nlu_models.sentiment import (
    FusedSentimentModel,
    SentimentModel,
    TransformerSentimentModel,
    VaderSentimentModel,
)
from nlu_models.sentiment_data import LABELS
from nlu_models.sentiment_fusion import FUSION_FILE

logger = logging.getLogger(__name__)
LATENCY_WARMUP = 20


def read_split(text_path: Path, labels_path: Path) -> Tuple[List[str], List[str]]:
    """Reads TweetEval-style files: one text per line, one label id (0-2) per line.

    Raises:
        ValueError: If the files differ in length or a label id is not 0, 1 or 2.
    """
    texts = text_path.read_text(encoding="utf-8").splitlines()
    ids = [line.strip() for line in labels_path.read_text(encoding="utf-8").splitlines()]
    if len(texts) != len(ids):
        raise ValueError(f"{text_path} has {len(texts)} lines but {labels_path} has {len(ids)}.")
    if not texts:
        raise ValueError(f"{text_path} is empty.")
    bad = [i + 1 for i, label in enumerate(ids) if label not in {"0", "1", "2"}]
    if bad:
        raise ValueError(f"{labels_path}: label ids must be 0, 1 or 2 (lines {bad[:5]}).")
    return texts, [LABELS[int(label)] for label in ids]


def evaluate_model(
    model: SentimentModel,
    texts: Sequence[str],
    gold: Sequence[str],
    latency_samples: int,
    batch_size: int = 64,
) -> Dict[str, Any]:
    """Scores every text, then times single texts; returns the metrics."""
    start = time.perf_counter()
    predicted: List[str] = []
    for offset in range(0, len(texts), batch_size):
        predicted.extend(s.label for s in model.score(texts[offset : offset + batch_size]))
    throughput = len(texts) / (time.perf_counter() - start)
    sample = list(texts[:latency_samples])
    metrics.latencies_ms(sample[:LATENCY_WARMUP], lambda t: model.score([t]))
    timings = metrics.latencies_ms(sample, lambda t: model.score([t]))
    return {
        "predicted": predicted,
        "macro_recall": metrics.macro_recall(gold, predicted),
        "accuracy": metrics.accuracy(gold, predicted),
        "macro_f1": metrics.macro_f1(gold, predicted),
        "p50_ms": metrics.percentile(timings, 50),
        "p95_ms": metrics.percentile(timings, 95),
        "throughput_per_s": throughput,
        "latency_samples": len(timings),
        "per_label": metrics.per_label_scores(gold, predicted),
    }


def run(
    test_text: Path,
    test_labels: Path,
    model_dir: Path,
    baseline: Optional[str] = None,
    latency_samples: int = 1000,
    quantized: bool = False,
    weights: Sequence[str] = ("fp32",),
) -> Dict[str, Any]:
    """Runs the sentiment benchmark and returns the report.

    Args:
        test_text: One text per line.
        test_labels: One label id per line.
        model_dir: The trained model.
        baseline: ``vader`` to score VADER too.
        latency_samples: Texts timed one at a time.
        quantized: Also measure int8 weights (the same as adding ``int8`` to ``weights``).
        weights: Precisions of the linear weights to measure; fp32 is always measured.

    Raises:
        ValueError: If the split is malformed or no trained model is in ``model_dir``.
    """
    texts, gold = read_split(test_text, test_labels)
    if not (model_dir / "classifier.json").is_file():
        raise ValueError(f"No trained sentiment model in {model_dir}; run 'make train-sentiment'.")
    report: Dict[str, Any] = {
        "task": "sentiment",
        "test_text": str(test_text),
        "test_examples": len(texts),
        "machine": metrics.machine_description(),
        "model_dir": str(model_dir),
    }
    training_report = model_dir / "training_report.json"
    if training_report.is_file():
        import json

        report["training"] = json.loads(training_report.read_text())
    logger.info("Scoring %d texts with the fine-tuned model.", len(texts))
    fused = (model_dir / FUSION_FILE).is_file()
    precisions = ["fp32", *(w for w in weights if w != "fp32")]
    if quantized and "int8" not in precisions:
        precisions.append("int8")
    fp32_labels: Dict[str, List[str]] = {}
    for precision in precisions:
        suffix = "" if precision == "fp32" else f"_{precision}"
        models: List[Tuple[str, SentimentModel]] = [
            ("model", TransformerSentimentModel.load(model_dir, weights=precision))
        ]
        if fused:
            models.append(("fused", FusedSentimentModel.load(model_dir, weights=precision)))
        for key, model in models:
            logger.info("Scoring with %s%s.", model.name, suffix)
            result = evaluate_model(model, texts, gold, latency_samples)
            predicted = result.pop("predicted")
            if precision == "fp32":
                fp32_labels[key] = predicted
            else:
                same = sum(a == b for a, b in zip(predicted, fp32_labels[key]))
                result["labels_as_fp32"] = same / len(predicted)
            report[key + suffix] = {**result, "name": model.name + suffix}
    if baseline == "vader":
        logger.info("Scoring with VADER.")
        report["baseline"] = evaluate_model(VaderSentimentModel(), texts, gold, latency_samples)
        report["baseline"].pop("predicted")
        report["baseline"]["name"] = "vader"
    return report
