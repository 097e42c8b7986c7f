import json
from pathlib import Path

import numpy as np
import pytest

from nlu_models.benchmark import sentiment as bench
from nlu_models.benchmark.__main__ import main
from nlu_models.sentiment import (
    TransformerSentimentModel,
    VaderSentimentModel,
    load_sentiment_model,
    train,
)
from nlu_models.text_classifier import TrainingOptions, TransformerTextClassifier

CORPUS = [
    ("negative", "terrible service, never flying with you again"),
    ("negative", "my bag is lost and nobody answers, awful"),
    ("negative", "worst delay ever, so angry"),
    ("negative", "the seat was broken and the staff rude"),
    ("negative", "I hate this airline"),
    ("neutral", "flight 123 departs at 9am"),
    ("neutral", "is there wifi on board?"),
    ("neutral", "we land in Boston tomorrow"),
    ("neutral", "what is the baggage allowance"),
    ("neutral", "checking in online now"),
    ("positive", "great crew, thank you so much"),
    ("positive", "loved the flight, amazing service"),
    ("positive", "best airline ever"),
    ("positive", "thanks for the upgrade, fantastic"),
    ("positive", "smooth landing, happy customer"),
]
FAST = TrainingOptions(
    epochs=2,
    batch_size=4,
    learning_rate=5e-4,
    validation_fraction=0.0,
    show_progress=False,
    device="cpu",
    balance_classes=True,
)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Path:
    folder = tmp_path_factory.mktemp("sentiment")
    corpus = folder / "corpus.csv"
    lines = ["sentiment,confidence,text"] + [f'{label},0.9,"{text}"' for label, text in CORPUS]
    corpus.write_text("\n".join(lines), encoding="utf-8")
    summary = train(folder / "model", FAST, str(tiny_checkpoint), corpus)
    assert summary["cleaning"]["kept"] == len(CORPUS)
    return folder / "model"


def test_vader_labels_with_its_standard_cut_offs() -> None:
    model = VaderSentimentModel()
    scores = model.score(["I love this, thank you!", "This is terrible, I hate it", "It is a box"])
    assert [s.label for s in scores] == ["positive", "negative", "neutral"]
    assert scores[0].score > 0.05 and scores[1].score < -0.05 and scores[2].score == 0.0
    assert {s.model for s in scores} == {"vader"}


def test_missing_model_falls_back_to_vader(tmp_path: Path) -> None:
    assert isinstance(load_sentiment_model(tmp_path / "none"), VaderSentimentModel)


def test_trained_model_loads_and_scores(trained_dir: Path) -> None:
    model = load_sentiment_model(trained_dir)
    assert isinstance(model, TransformerSentimentModel)
    assert model._classifier.compiled  # the TorchScript graph, on the CPU
    scores = model.score(["thanks, great flight", "", "lost my bag again"])
    assert len(scores) == 3
    for s in scores:
        assert s.label in {"negative", "neutral", "positive"}
        assert s.negative + s.neutral + s.positive == pytest.approx(1.0, abs=1e-5)
        assert s.score == pytest.approx(s.positive - s.negative)
        assert (
            s.label
            == ["negative", "neutral", "positive"][
                int(np.argmax([s.negative, s.neutral, s.positive]))
            ]
        )
    report = json.loads((trained_dir / "training_report.json").read_text())
    assert report["training"]["epochs_run"] == 2


def test_a_non_sentiment_classifier_is_refused(tiny_checkpoint: Path) -> None:
    options = TrainingOptions(**{**FAST.__dict__, "epochs": 1})
    classifier, _ = TransformerTextClassifier.train(
        tiny_checkpoint, ["a", "b", "c", "d"], ["x", "y", "x", "y"], options
    )
    with pytest.raises(ValueError, match="Not a sentiment model"):
        TransformerSentimentModel(classifier)


def _split(tmp_path: Path, labels: str) -> tuple:
    text = tmp_path / "text.txt"
    text.write_text("so happy today\nworst day\nthe bus is at 5\n", encoding="utf-8")
    ids = tmp_path / "labels.txt"
    ids.write_text(labels, encoding="utf-8")
    return text, ids


def test_benchmark_reports_both_systems(trained_dir: Path, tmp_path: Path) -> None:
    report = bench.run(*_split(tmp_path, "2\n0\n1\n"), trained_dir, "vader", latency_samples=3)
    for name in ("model", "baseline"):
        keys = {"macro_recall", "accuracy", "macro_f1", "p50_ms", "p95_ms"}
        assert keys <= set(report[name])
    assert report["baseline"]["accuracy"] == 1.0  # VADER gets these three right
    assert report["test_examples"] == 3


def test_benchmark_rejects_bad_input(tmp_path: Path, trained_dir: Path) -> None:
    with pytest.raises(ValueError, match="label ids must be 0, 1 or 2"):
        bench.read_split(*_split(tmp_path, "2\n0\n7\n"))
    with pytest.raises(ValueError, match="3 lines but"):
        bench.read_split(*_split(tmp_path, "2\n0\n"))
    text, ids = _split(tmp_path, "2\n0\n1\n")
    out = tmp_path / "out.json"
    args = ["sentiment", "--test-text", str(text), "--test-labels", str(ids), "--out", str(out)]
    assert main([*args, "--model-dir", str(tmp_path / "none")]) == 2
    assert not out.exists()
    assert main([*args, "--model-dir", str(trained_dir), "--latency-samples", "2"]) == 0
    assert json.loads(out.read_text())["model"]["latency_samples"] == 2
