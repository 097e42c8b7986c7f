"""Intent benchmark: the bot's BERT component against Rasa's stock DIET pipeline."""

import csv
import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from nlu_models.benchmark import metrics
from nlu_models.benchmark.rasa_pipeline import RasaPipeline, Step, training_data

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMPONENT_NAME = "nlu_models.bert_intent_classifier.BertIntentClassifier"
LATENCY_WARMUP = 20


def read_csv(path: Path, text_column: str, label_column: str) -> Tuple[List[str], List[str]]:
    """Reads texts and labels from a CSV file with a header row.

    Raises:
        ValueError: If a column is missing or the file has no rows.

    """
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {text_column, label_column} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {sorted(missing)}; found {reader.fieldnames}."
            )
        rows = [(r[text_column] or "", r[label_column] or "") for r in reader]
    rows = [(t.strip(), label.strip()) for t, label in rows if t.strip() and label.strip()]
    if not rows:
        raise ValueError(f"{path}: no labelled rows.")
    return [t for t, _ in rows], [label for _, label in rows]


def bot_component_config(config_path: Path = PROJECT_ROOT / "config.yml") -> Dict[str, Any]:
    """The options the bot's ``config.yml`` gives the BERT intent classifier."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for step in config.get("pipeline", []):
        if step.get("name") == COMPONENT_NAME:
            return {k: v for k, v in step.items() if k != "name"}
    raise ValueError(f"{config_path} has no {COMPONENT_NAME} step.")


def bot_fallback_threshold(config_path: Path = PROJECT_ROOT / "config.yml") -> float:
    """The ``FallbackClassifier`` threshold of the bot's ``config.yml``."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for step in config.get("pipeline", []):
        if step.get("name") == "FallbackClassifier":
            return float(step.get("threshold", 0.3))
    return 0.3


def model_steps(overrides: Optional[Dict[str, Any]] = None) -> List[Step]:
    """The bot's intent classifier as configured in ``config.yml`` (on the CPU)."""
    from nlu_models.bert_intent_classifier import BertIntentClassifier

    config = {**bot_component_config(), **(overrides or {})}
    return [(BertIntentClassifier, config)]


def diet_steps(epochs: Optional[int]) -> List[Step]:
    """Rasa's stock pipeline: whitespace tokens, word and char_wb 1-4 counts, DIET."""
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer

    diet: Dict[str, Any] = {} if epochs is None else {"epochs": epochs}
    return [
        (WhitespaceTokenizer, {}),
        (CountVectorsFeaturizer, {}),
        (CountVectorsFeaturizer, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}),
        (DIETClassifier, diet),
    ]


def _predictions(messages: Sequence[Any]) -> Tuple[List[str], List[float]]:
    names, confidences = [], []
    for message in messages:
        intent = message.get("intent") or {}
        names.append(str(intent.get("name")))
        confidences.append(float(intent.get("confidence") or 0.0))
    return names, confidences


def evaluate_system(
    steps: List[Step],
    train: Tuple[List[str], List[str]],
    test: Tuple[List[str], List[str]],
    oos_label: Optional[str],
    threshold: float,
    latency_samples: int,
    batch_size: int,
    load_variants: Optional[Dict[str, Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """Trains a pipeline, loads it back and measures quality and speed.

    Args:
        steps: The pipeline's components and their configs.
        train: Training texts and labels.
        test: Test texts and labels.
        oos_label: The out-of-scope label, if the split has one.
        threshold: The fallback threshold that turns low confidence into out of scope.
        latency_samples: Test messages timed one at a time.
        batch_size: Messages per batch for the throughput run.
        load_variants: Further ways to load the same trained pipeline, by name
            (e.g. ``{"int8": {"quantize": True}}``), each measured the same way
            and reported under ``variants``.

    Returns:
        ``accuracy``, ``macro_f1``, ``p50_ms``, ``p95_ms``, ``throughput_per_s``,
        ``train_s``, per-intent scores and, with ``oos_label``,
        ``in_scope_accuracy`` and ``oos_recall`` under ``threshold``.

    """
    pipeline = RasaPipeline(steps)
    try:
        start = time.perf_counter()
        pipeline.train(training_data(*train))
        train_s = time.perf_counter() - start
        pipeline.load()
        result = _measure(pipeline, test, oos_label, threshold, latency_samples, batch_size)
        result["train_s"] = train_s
        for name, options in (load_variants or {}).items():
            pipeline.load(options)
            variant = _measure(pipeline, test, oos_label, threshold, latency_samples, batch_size)
            result.setdefault("variants", {})[name] = {"load_options": options, **variant}
    finally:
        pipeline.close()
    return result


def _measure(
    pipeline: RasaPipeline,
    test: Tuple[List[str], List[str]],
    oos_label: Optional[str],
    threshold: float,
    latency_samples: int,
    batch_size: int,
) -> Dict[str, Any]:
    texts, gold = test
    start = time.perf_counter()
    messages: List[Any] = []
    for offset in range(0, len(texts), batch_size):
        messages.extend(pipeline.process(texts[offset : offset + batch_size]))
    throughput = len(texts) / (time.perf_counter() - start)
    predicted, confidence = _predictions(messages)

    sample = texts[:latency_samples]
    metrics.latencies_ms(sample[:LATENCY_WARMUP], lambda t: pipeline.process([t]))
    timings = metrics.latencies_ms(sample, lambda t: pipeline.process([t]))
    result: Dict[str, Any] = {
        "accuracy": metrics.accuracy(gold, predicted),
        "macro_f1": metrics.macro_f1(gold, predicted),
        "p50_ms": metrics.percentile(timings, 50),
        "p95_ms": metrics.percentile(timings, 95),
        "throughput_per_s": throughput,
        "latency_samples": len(timings),
        "per_intent": metrics.per_label_scores(gold, predicted),
    }
    if oos_label is not None:
        result.update(_oos_scores(gold, predicted, confidence, oos_label, threshold))
    return result


def _oos_scores(
    gold: Sequence[str],
    predicted: Sequence[str],
    confidence: Sequence[float],
    oos_label: str,
    threshold: float,
) -> Dict[str, Any]:
    """Scores with the fallback rule: low confidence counts as out of scope."""
    final = [oos_label if c < threshold else p for p, c in zip(predicted, confidence)]
    in_scope = [(g, f) for g, f in zip(gold, final) if g != oos_label]
    oos = [f for g, f in zip(gold, final) if g == oos_label]
    return {
        "fallback_threshold": threshold,
        "in_scope_accuracy": metrics.accuracy([g for g, _ in in_scope], [f for _, f in in_scope]),
        "oos_recall": (sum(f == oos_label for f in oos) / len(oos)) if oos else None,
    }


def run(
    train_csv: Path,
    test_csv: Path,
    text_column: str = "text",
    label_column: str = "label",
    baseline: Optional[str] = None,
    baseline_epochs: Optional[int] = None,
    oos_label: Optional[str] = None,
    latency_samples: int = 1000,
    batch_size: int = 64,
    model_overrides: Optional[Dict[str, Any]] = None,
    quantized: bool = False,
) -> Dict[str, Any]:
    """Runs the intent benchmark and returns the report as a dictionary.

    With ``quantized``, the same trained classifier is also measured at the
    other precision than configured: loaded with ``quantize: true`` (dynamic
    int8) as ``model.variants.int8``, or, when ``config.yml`` quantises, without
    as ``model.variants.fp32``.
    """
    train = read_csv(train_csv, text_column, label_column)
    test = read_csv(test_csv, text_column, label_column)
    unseen = sorted(set(test[1]) - set(train[1]))
    if unseen:
        raise ValueError(f"Test labels never seen in training: {unseen[:10]}")
    threshold = bot_fallback_threshold()
    overrides = {"device": "cpu", "show_progress": False, **(model_overrides or {})}
    report: Dict[str, Any] = {
        "task": "intents",
        "train_csv": str(train_csv),
        "test_csv": str(test_csv),
        "train_examples": len(train[0]),
        "test_examples": len(test[0]),
        "labels": len(set(train[1])),
        "machine": metrics.machine_description(),
        "model_config": {**bot_component_config(), **overrides},
    }
    logger.info("Training the bot's BERT intent classifier on %d examples.", len(train[0]))
    report["model"] = evaluate_system(
        model_steps(overrides),
        train,
        test,
        oos_label,
        threshold,
        latency_samples,
        batch_size,
        _precision_variant(report["model_config"]) if quantized else None,
    )
    if baseline == "diet":
        logger.info("Training Rasa's stock DIET pipeline (epochs=%s).", baseline_epochs or 100)
        report["baseline"] = evaluate_system(
            diet_steps(baseline_epochs),
            train,
            test,
            oos_label,
            threshold,
            latency_samples,
            batch_size,
        )
        report["baseline"]["name"] = f"diet (epochs={baseline_epochs or 100})"
    return report


def _precision_variant(config: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    if config.get("quantize", False):
        return {"fp32": {"quantize": False}}
    return {"int8": {"quantize": True}}


def plot_errors(report: Dict[str, Any], path: Path) -> None:
    """Writes a PNG of the per-intent error rate of each system, worst first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = report["model"]["per_intent"]
    labels = sorted(model, key=lambda name: model[name]["recall"])
    systems = [("fine-tuned MiniLM", model)]
    if "baseline" in report:
        systems.append((report["baseline"]["name"], report["baseline"]["per_intent"]))
    fig, ax = plt.subplots(figsize=(10, max(6, len(labels) * 0.22)))
    height = 0.8 / len(systems)
    for offset, (name, scores) in enumerate(systems):
        errors = [1.0 - scores[label]["recall"] for label in labels]
        ax.barh([i + offset * height for i in range(len(labels))], errors, height, label=name)
    ax.set_yticks([i + height * (len(systems) - 1) / 2 for i in range(len(labels))])
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("error rate on the test split (1 - recall)")
    ax.set_title("Per-intent errors")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
