import csv
import json
from pathlib import Path
from typing import List, Tuple

import pytest

from nlu_models.benchmark import intents
from nlu_models.benchmark.__main__ import main
from tests.nlu_models.conftest import TINY_DATA

METRICS = {"accuracy", "macro_f1", "p50_ms", "p95_ms", "throughput_per_s", "train_s"}


def _write_csv(path: Path, rows: List[Tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["utterance", "intent"])
        writer.writerows(rows)
    return path


@pytest.fixture
def split(tmp_path: Path) -> Tuple[Path, Path]:
    train, test = [], []
    for label, examples in TINY_DATA.items():
        train += [(t, label) for t in examples[:6]]
        test += [(t, label) for t in examples[6:]]
    test.append(("what's the weather in vienna", "oos"))
    train += [
        ("tell me a joke", "oos"),
        ("who won the match", "oos"),
        ("sing a song", "oos"),
        ("what is the capital of peru", "oos"),
        ("recipe for pancakes", "oos"),
    ]
    return _write_csv(tmp_path / "train.csv", train), _write_csv(tmp_path / "test.csv", test)


def _overrides(checkpoint: Path) -> dict:
    return {"checkpoint": str(checkpoint), "epochs": 2, "min_steps": 0, "batch_size": 4}


def test_report_has_every_metric_and_oos_scores(
    split: Tuple[Path, Path], tiny_checkpoint: Path
) -> None:
    report = intents.run(
        *split,
        text_column="utterance",
        label_column="intent",
        oos_label="oos",
        latency_samples=5,
        model_overrides=_overrides(tiny_checkpoint),
    )
    model = report["model"]
    assert METRICS <= set(model)
    assert 0.0 <= model["accuracy"] <= 1.0 and model["p50_ms"] <= model["p95_ms"]
    assert model["latency_samples"] == 5
    assert set(model["per_intent"]) == {"greet", "order_status", "return_refund", "oos"}
    assert model["fallback_threshold"] == intents.bot_fallback_threshold()
    assert 0.0 <= model["in_scope_accuracy"] <= 1.0 and 0.0 <= model["oos_recall"] <= 1.0
    assert report["train_examples"] == 23 and report["test_examples"] == 7
    assert report["model_config"]["checkpoint"] == str(tiny_checkpoint)
    assert "baseline" not in report


def test_oos_rule_counts_low_confidence_as_out_of_scope() -> None:
    scores = intents._oos_scores(
        gold=["a", "a", "oos", "oos"],
        predicted=["a", "a", "a", "oos"],
        confidence=[0.9, 0.2, 0.3, 0.9],
        oos_label="oos",
        threshold=0.5,
    )
    assert scores["in_scope_accuracy"] == 0.5
    assert scores["oos_recall"] == 1.0


def test_cli_rejects_missing_files_and_columns(tmp_path: Path, split: Tuple[Path, Path]) -> None:
    out = tmp_path / "out.json"
    assert (
        main(
            [
                "intents",
                "--train",
                str(tmp_path / "nope.csv"),
                "--test",
                str(split[1]),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "intents",
                "--train",
                str(split[0]),
                "--test",
                str(split[1]),
                "--out",
                str(out),
                "--text-column",
                "text",
            ]
        )
        == 2
    )
    assert not out.exists()


def test_bot_component_config_reads_config_yml() -> None:
    assert intents.COMPONENT_NAME.endswith("BertIntentClassifier")
    assert isinstance(intents.bot_component_config(), dict)


@pytest.mark.slow
def test_diet_baseline_and_plot(
    split: Tuple[Path, Path], tiny_checkpoint: Path, tmp_path: Path
) -> None:
    report = intents.run(
        *split,
        text_column="utterance",
        label_column="intent",
        baseline="diet",
        baseline_epochs=2,
        latency_samples=3,
        model_overrides=_overrides(tiny_checkpoint),
    )
    assert METRICS <= set(report["baseline"])
    assert report["baseline"]["name"] == "diet (epochs=2)"
    intents.plot_errors(report, tmp_path / "errors.png")
    assert (tmp_path / "errors.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(report)


def test_quantized_measures_the_same_model_at_the_other_precision(
    split: Tuple[Path, Path], tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlu_models.text_classifier import TransformerTextClassifier

    quantized: List[int] = []
    original = TransformerTextClassifier.quantize

    def counting_quantize(self: TransformerTextClassifier) -> None:
        quantized.append(1)
        original(self)

    monkeypatch.setattr(TransformerTextClassifier, "quantize", counting_quantize)
    report = intents.run(
        *split,
        text_column="utterance",
        label_column="intent",
        latency_samples=3,
        model_overrides=_overrides(tiny_checkpoint),
        quantized=True,
    )
    # config.yml decides the model's precision; the variant is the other one.
    configured = report["model_config"].get("quantize", False)
    variant = report["model"]["variants"]["fp32" if configured else "int8"]
    assert variant["load_options"] == {"quantize": not configured}
    assert METRICS - {"train_s"} <= set(variant)
    assert quantized == [1]  # exactly one of the two loads is quantised
    assert intents._precision_variant({"quantize": True}) == {"fp32": {"quantize": False}}
    assert intents._precision_variant({}) == {"int8": {"quantize": True}}
