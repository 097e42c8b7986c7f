from pathlib import Path

import numpy as np
import torch

from nlu_models.text_classifier import (
    TrainingOptions,
    TransformerTextClassifier,
)

FAST = dict(epochs=3, batch_size=4, learning_rate=5e-4, show_progress=False, device="cpu")


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


def test_embed_gives_the_unit_sentence_vectors_the_head_reads(
    tiny_checkpoint: Path, tiny_texts_labels: tuple
) -> None:
    texts, labels = tiny_texts_labels
    classifier, _ = TransformerTextClassifier.train(
        tiny_checkpoint, texts, labels, TrainingOptions(**FAST, validation_fraction=0.0)
    )
    vectors = classifier.embed(texts[:4])
    assert vectors.shape == (4, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert classifier.embed([]).shape == (0, 32)
    # Temperature 1 (no validation split): the head over these vectors is the model.
    with torch.no_grad():
        logits = classifier.model.head(torch.from_numpy(vectors))
    np.testing.assert_allclose(
        torch.softmax(logits, dim=-1).numpy(), classifier.predict_proba(texts[:4]), atol=1e-5
    )


def test_compiled_graph_gives_the_eager_model_s_probabilities(
    tiny_checkpoint: Path, tiny_texts_labels: tuple
) -> None:
    texts, labels = tiny_texts_labels
    classifier, _ = TransformerTextClassifier.train(
        tiny_checkpoint, texts, labels, TrainingOptions(**FAST, max_length=24)
    )
    # Lengths the trace never saw: one word, a batch padded to its longest text,
    # and a text truncated at max_length; batches of 1, 3 and all texts.
    long_text = "my order " * 40
    cases = [["hi"], [long_text], ["hi", "where is my parcel please", long_text], texts]

    fp32 = [classifier.predict_proba(batch) for batch in cases]
    original = classifier.model
    for weights in ("fp32", "fp16", "int8"):
        classifier.model = original
        if weights != "fp32":
            classifier.quantize(weights)
            assert not classifier.compiled
        eager = [classifier.predict_proba(batch) for batch in cases]
        if weights == "fp16":  # half-precision weights, fp32 arithmetic: close to fp32
            # (the shipped sentiment model moves by at most 3e-4; this tiny random one more)
            for got, expected in zip(eager, fp32):
                np.testing.assert_allclose(got, expected, atol=1e-2)
        classifier.compile()
        assert classifier.compiled
        for batch, expected in zip(cases, eager):
            np.testing.assert_allclose(classifier.predict_proba(batch), expected, atol=1e-6)
        assert classifier.predict_proba([]).shape == (0, 3)
