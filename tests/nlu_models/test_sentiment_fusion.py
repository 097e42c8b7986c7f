import json
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest
import torch

from nlu_models import sentiment_fusion
from nlu_models.benchmark import sentiment as bench
from nlu_models.sentiment import (
    FusedSentimentModel,
    TransformerSentimentModel,
    fuse,
    load_sentiment_model,
    train,
)
from nlu_models.sentiment_data import LABELS
from nlu_models.sentiment_fusion import FUSION_FILE, FusionHead
from nlu_models.text_classifier import TrainingOptions, split_indices

NEG = {"neg": 0.6, "neu": 0.4, "pos": 0.0, "compound": -0.7}
NEU = {"neg": 0.0, "neu": 1.0, "pos": 0.0, "compound": 0.0}
POS = {"neg": 0.0, "neu": 0.4, "pos": 0.6, "compound": 0.7}


def _rows(n: int, seed: int = 0) -> Tuple[np.ndarray, List[dict], List[int]]:
    """MiniLM that is always unsure (uniform) and a lexicon that is always right."""
    rng = np.random.default_rng(seed)
    y = [i % 3 for i in range(n)]
    minilm = np.full((n, 3), 1 / 3) + rng.normal(0, 0.01, (n, 3))
    minilm = np.clip(minilm, 0.01, 1) / np.clip(minilm, 0.01, 1).sum(axis=1, keepdims=True)
    vader = [[NEG, NEU, POS][label] for label in y]
    return minilm, vader, y


def test_features_are_log_probabilities_then_vader() -> None:
    x = sentiment_fusion.features(np.array([[0.5, 0.25, 0.25]]), [NEG])
    assert x.shape == (1, len(sentiment_fusion.FEATURES))
    assert x[0, :3] == pytest.approx(np.log([0.5, 0.25, 0.25]))
    assert x[0, 3:].tolist() == [0.6, 0.4, 0.0, -0.7]
    with pytest.raises(ValueError, match="One MiniLM row"):
        sentiment_fusion.features(np.array([[1.0, 0.0, 0.0]]), [NEG, NEU])


def test_fusion_learns_from_the_better_input_and_cross_validation_says_so() -> None:
    minilm, vader, y = _rows(90)
    head, report = sentiment_fusion.fit_fusion(minilm, vader, [LABELS[i] for i in y])
    assert report["rows"] == 90
    assert report["cross_validation"]["fusion"] == 1.0
    assert report["cross_validation"]["minilm"] < 0.6
    assert report["keep"] is True
    probabilities = head.predict_proba(sentiment_fusion.features(minilm, vader))
    assert probabilities.argmax(axis=1).tolist() == y
    assert probabilities.sum(axis=1) == pytest.approx(np.ones(90))


def test_fusion_is_not_kept_when_it_does_not_help() -> None:
    # MiniLM is right, the lexicon is noise: fusion cannot beat MiniLM alone.
    n = 90
    y = [i % 3 for i in range(n)]
    minilm = np.full((n, 3), 0.05)
    minilm[np.arange(n), y] = 0.9
    rng = np.random.default_rng(1)
    vader = [[NEG, NEU, POS][int(rng.integers(3))] for _ in range(n)]
    _, report = sentiment_fusion.fit_fusion(minilm, vader, [LABELS[i] for i in y])
    assert report["cross_validation"]["minilm"] == 1.0
    assert report["keep"] is (report["cross_validation"]["fusion"] >= 1.0)


def test_head_round_trips_and_refuses_other_formats(tmp_path: Path) -> None:
    minilm, vader, y = _rows(60)
    head = sentiment_fusion.fit_head(sentiment_fusion.features(minilm, vader), y)
    head.save(tmp_path, {"rows": 60})
    assert FusionHead.load(tmp_path) == head
    data = json.loads((tmp_path / FUSION_FILE).read_text())
    assert data["report"] == {"rows": 60} and data["labels"] == list(LABELS)
    data["features"] = data["features"][:-1]
    (tmp_path / FUSION_FILE).write_text(json.dumps(data))
    with pytest.raises(ValueError, match="Unsupported fusion layer"):
        FusionHead.load(tmp_path)
    with pytest.raises(ValueError, match="one per label"):
        FusionHead(head.coefficients[:2], head.intercepts)


def test_split_indices_reproduces_a_stratified_validation_split() -> None:
    labels = ["negative"] * 40 + ["neutral"] * 40 + ["positive"] * 20
    options = TrainingOptions(validation_fraction=0.1, seed=7)
    train_idx, held_out = split_indices(labels, options)
    assert split_indices(labels, options) == (train_idx, held_out)
    assert sorted(train_idx + held_out) == list(range(100))
    assert [labels[i] for i in held_out].count("positive") == 2
    assert split_indices(labels, TrainingOptions(validation_fraction=0.1, seed=8)) != (
        train_idx,
        held_out,
    )


PHRASES = {
    "negative": ["awful delay again", "rude staff, furious", "lost my bag, terrible"],
    "neutral": ["flight leaves at nine", "what is the wifi code", "landing in Boston"],
    "positive": ["great crew, thank you", "loved the upgrade", "amazing service today"],
}


@pytest.fixture(scope="module")
def fused_dir(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Path:
    folder = tmp_path_factory.mktemp("fused")
    lines = ["sentiment,confidence,text"]
    for label, phrases in PHRASES.items():
        lines += [f'{label},0.9,"{phrase} #{i}"' for phrase in phrases for i in range(40)]
    (folder / "corpus.csv").write_text("\n".join(lines), encoding="utf-8")
    options = TrainingOptions(
        epochs=1,
        batch_size=16,
        learning_rate=5e-4,
        validation_fraction=0.25,
        show_progress=False,
        device="cpu",
        balance_classes=True,
    )
    summary = train(folder / "model", options, str(tiny_checkpoint), folder / "corpus.csv")
    assert summary["fusion"]["rows"] == 90
    if not summary["fusion"]["keep"]:  # a random tiny encoder: force a layer to test loading
        report = fuse(folder / "model", options, folder / "corpus.csv")
        assert report["keep"] is False and not (folder / "model" / FUSION_FILE).exists()
        FusionHead(((0.0,) * 7,) * 3, (0.0, 0.0, 0.0)).save(folder / "model", report)
    return folder / "model"


def test_training_fits_the_fusion_layer_on_the_held_out_rows(fused_dir: Path) -> None:
    report = json.loads((fused_dir / FUSION_FILE).read_text())["report"]
    assert report["rows"] == 90
    model = load_sentiment_model(fused_dir)
    assert isinstance(model, FusedSentimentModel)
    scores = model.score(["thank you, great crew", "", "awful, lost my bag"])
    assert [s.model for s in scores] == ["minilm+vader"] * 3
    for s in scores:
        assert s.negative + s.neutral + s.positive == pytest.approx(1.0)
        assert s.label == LABELS[int(np.argmax([s.negative, s.neutral, s.positive]))]
    assert model.score([]) == []


def test_benchmark_reports_the_fused_system_too(fused_dir: Path, tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("so happy today\nworst day\nthe bus is at 5\n", encoding="utf-8")
    ids = tmp_path / "labels.txt"
    ids.write_text("2\n0\n1\n", encoding="utf-8")
    report = bench.run(text, ids, fused_dir, "vader", latency_samples=3)
    assert [report[k]["name"] for k in ("model", "fused", "baseline")] == [
        TransformerSentimentModel.name,
        "minilm+vader",
        "vader",
    ]
    assert {"macro_recall", "accuracy", "macro_f1", "p50_ms", "p95_ms"} <= set(report["fused"])


def test_benchmark_measures_other_weight_precisions_on_request(
    fused_dir: Path, tmp_path: Path
) -> None:
    text = tmp_path / "text.txt"
    text.write_text("so happy today\nworst day\n", encoding="utf-8")
    ids = tmp_path / "labels.txt"
    ids.write_text("2\n0\n", encoding="utf-8")
    report = bench.run(text, ids, fused_dir, latency_samples=2, quantized=True, weights=["fp16"])
    keys = ("model", "fused", "model_fp16", "fused_fp16", "model_int8", "fused_int8")
    assert {k: report[k]["name"] for k in keys} == {
        "model": "minilm",
        "fused": "minilm+vader",
        "model_fp16": "minilm_fp16",
        "fused_fp16": "minilm+vader_fp16",
        "model_int8": "minilm_int8",
        "fused_int8": "minilm+vader_int8",
    }
    assert "labels_as_fp32" not in report["model"]
    for key in keys[2:]:
        assert report[key]["labels_as_fp32"] in (0.0, 0.5, 1.0)
    assert report["model_fp16"]["labels_as_fp32"] == 1.0  # fp16 weights change no label here
    assert "baseline" not in report and "predicted" not in report["model"]


@pytest.mark.parametrize(("weights", "dtype"), [("int8", torch.qint8), ("fp16", torch.float16)])
def test_the_model_loads_with_the_requested_weights(
    fused_dir: Path, weights: str, dtype: torch.dtype
) -> None:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    model = load_sentiment_model(fused_dir, weights=weights)
    assert isinstance(model, FusedSentimentModel)
    layers = [m for m in model._minilm._classifier.model.modules() if isinstance(m, DynamicLinear)]
    assert layers and all(layer._packed_params.dtype == dtype for layer in layers)
    assert len(model.score(["great", "awful"])) == 2
    fp32 = load_sentiment_model(fused_dir)
    texts = ["great", "awful", "my parcel never arrived and nobody answers"]
    difference = np.abs(
        model._minilm.probabilities(texts) - fp32._minilm.probabilities(texts)
    ).max()
    assert difference < (1e-2 if weights == "fp16" else 0.3)
