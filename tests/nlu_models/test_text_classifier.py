from pathlib import Path

import numpy as np
import pytest
import torch

from nlu_models.text_classifier import (
    TrainingOptions,
    TransformerTextClassifier,
    _bucketed_batches,
    _epoch_count,
    _fit_temperature,
    _stratified_split,
)

FAST = dict(epochs=3, batch_size=4, learning_rate=5e-4, show_progress=False, device="cpu")


def test_stratified_split_keeps_every_label_in_training() -> None:
    labels = [0] * 10 + [1] * 3 + [2] * 1
    train, validation = _stratified_split(labels, 0.5, np.random.default_rng(0))
    assert sorted(train + validation) == list(range(len(labels)))
    assert {labels[i] for i in train} == {0, 1, 2}
    assert sum(labels[i] == 0 for i in validation) == 5
    assert sum(labels[i] == 2 for i in validation) == 0


def test_bucketed_batches_cover_each_index_once() -> None:
    lengths = [5, 3, 9, 1, 7, 2, 8, 4, 6, 10, 11]
    batches = _bucketed_batches(lengths, 3, np.random.default_rng(1))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(b) <= 3 for b in batches)


def test_fit_temperature_recovers_the_temperature_of_the_data() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 5, generator=generator) * 4
    target = torch.multinomial(torch.softmax(logits / 2.0, dim=-1), 1, generator=generator)
    temperature = _fit_temperature(logits, target.squeeze(1))
    assert temperature == pytest.approx(2.0, rel=0.1)


def test_training_is_deterministic_for_a_seed(
    tiny_checkpoint: Path, tiny_texts_labels: tuple
) -> None:
    texts, labels = tiny_texts_labels
    options = TrainingOptions(**FAST, validation_fraction=0.25)
    first, _ = TransformerTextClassifier.train(tiny_checkpoint, texts, labels, options)
    second, _ = TransformerTextClassifier.train(tiny_checkpoint, texts, labels, options)
    np.testing.assert_array_equal(first.predict_proba(texts), second.predict_proba(texts))


def test_report_and_calibration(tiny_checkpoint: Path, tiny_texts_labels: tuple) -> None:
    texts, labels = tiny_texts_labels
    options = TrainingOptions(**FAST, validation_fraction=0.25, early_stopping_patience=5)
    classifier, report = TransformerTextClassifier.train(tiny_checkpoint, texts, labels, options)
    assert report.train_examples == 18 and report.validation_examples == 6
    assert report.epochs_run == 3 and 1 <= report.best_epoch <= 3
    assert report.validation_accuracy is not None
    assert classifier.temperature == report.temperature > 0
    probabilities = classifier.predict_proba(["where is my parcel", ""])
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_save_and_load_round_trip(
    tiny_checkpoint: Path, tiny_texts_labels: tuple, tmp_path: Path
) -> None:
    texts, labels = tiny_texts_labels
    options = TrainingOptions(**FAST, validation_fraction=0.0)
    classifier, report = TransformerTextClassifier.train(tiny_checkpoint, texts, labels, options)
    assert report.validation_accuracy is None and classifier.temperature == 1.0
    classifier.save(tmp_path / "model")
    loaded = TransformerTextClassifier.load(tmp_path / "model", device="cpu")
    assert loaded.labels == ["greet", "order_status", "return_refund"]
    np.testing.assert_allclose(
        loaded.predict_proba(texts), classifier.predict_proba(texts), atol=1e-6
    )


def test_empty_input_gives_an_empty_matrix(tiny_checkpoint: Path, tiny_texts_labels: tuple) -> None:
    texts, labels = tiny_texts_labels
    classifier, _ = TransformerTextClassifier.train(
        tiny_checkpoint, texts, labels, TrainingOptions(**{**FAST, "epochs": 1})
    )
    assert classifier.predict_proba([]).shape == (0, 3)


@pytest.mark.parametrize(
    "epochs, min_steps, examples, expected",
    [(6, 0, 9000, 6), (6, 400, 9000, 6), (6, 400, 640, 20), (3, 10, 8, 10)],
)
def test_epoch_count_honours_min_steps(
    epochs: int, min_steps: int, examples: int, expected: int
) -> None:
    options = TrainingOptions(epochs=epochs, min_steps=min_steps, batch_size=32)
    assert _epoch_count(options, examples) == expected


def test_class_weights_are_inverse_frequencies() -> None:
    from nlu_models.text_classifier import _class_weights

    weights = _class_weights([0, 0, 0, 1], 3)
    assert weights.tolist() == pytest.approx([4 / 9, 4 / 3, 0.0])
