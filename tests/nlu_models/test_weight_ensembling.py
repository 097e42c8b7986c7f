from pathlib import Path

import pytest
import torch

from nlu_models.text_classifier import TrainingOptions, TransformerTextClassifier
from nlu_models.weight_ensembling import fit_probe_head, interpolate, pretrained_weights

FAST = TrainingOptions(
    epochs=3,
    batch_size=4,
    learning_rate=5e-4,
    show_progress=False,
    device="cpu",
    validation_fraction=0.0,
)


@pytest.fixture()
def tuned(tiny_checkpoint: Path, tiny_texts_labels: tuple) -> TransformerTextClassifier:
    texts, labels = tiny_texts_labels
    classifier, _ = TransformerTextClassifier.train(tiny_checkpoint, texts, labels, FAST)
    return classifier


def _state(classifier: TransformerTextClassifier) -> dict:
    return {k: v.clone() for k, v in classifier.model.state_dict().items()}


def test_the_probe_is_fitted_on_pretrained_vectors_and_leaves_the_model_alone(
    tuned: TransformerTextClassifier, tiny_checkpoint: Path, tiny_texts_labels: tuple
) -> None:
    texts, labels = tiny_texts_labels
    before = _state(tuned)
    probe = fit_probe_head(tuned, pretrained_weights(tiny_checkpoint), texts, labels)
    assert probe["weight"].shape == (3, 32) and probe["bias"].shape == (3,)
    after = _state(tuned)
    assert all(torch.equal(before[k], after[k]) for k in before)
    # The probe reads the pretrained encoder: with its weights loaded, the
    # probe head alone reproduces a probe fitted from scratch on those vectors.
    tuned.model.encoder.load_state_dict(pretrained_weights(tiny_checkpoint))
    tuned.model.head.load_state_dict(probe)
    predicted = [tuned.labels[i] for i in tuned.predict_proba(texts).argmax(1)]
    assert sum(p == g for p, g in zip(predicted, labels)) >= 0.75 * len(labels)


def test_the_probe_needs_three_texts_per_label(
    tuned: TransformerTextClassifier, tiny_checkpoint: Path
) -> None:
    with pytest.raises(ValueError, match="at least 3 texts per label"):
        fit_probe_head(
            tuned,
            pretrained_weights(tiny_checkpoint),
            ["hi", "hello", "hey", "where is my order", "refund please"],
            ["greet", "greet", "greet", "order_status", "return_refund"],
        )


def test_interpolation_mixes_every_weight(
    tuned: TransformerTextClassifier, tiny_checkpoint: Path, tiny_texts_labels: tuple
) -> None:
    texts, labels = tiny_texts_labels
    pretrained = pretrained_weights(tiny_checkpoint)
    probe = fit_probe_head(tuned, pretrained, texts, labels)
    fine_tuned = _state(tuned)
    name = "encoder.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(fine_tuned[name], pretrained[name.removeprefix("encoder.")])

    interpolate(tuned, pretrained, probe, 1.0)
    assert all(torch.equal(fine_tuned[k], v) for k, v in tuned.model.state_dict().items())

    interpolate(tuned, pretrained, probe, 0.25)
    mixed = tuned.model.state_dict()
    expected = 0.25 * fine_tuned[name] + 0.75 * pretrained[name.removeprefix("encoder.")]
    torch.testing.assert_close(mixed[name], expected)
    torch.testing.assert_close(
        mixed["head.bias"], 0.25 * fine_tuned["head.bias"] + 0.75 * probe["bias"]
    )


def test_alpha_zero_is_the_pretrained_encoder_with_the_probe(
    tuned: TransformerTextClassifier, tiny_checkpoint: Path, tiny_texts_labels: tuple
) -> None:
    texts, labels = tiny_texts_labels
    pretrained = pretrained_weights(tiny_checkpoint)
    probe = fit_probe_head(tuned, pretrained, texts, labels)
    interpolate(tuned, pretrained, probe, 0.0)
    encoder = tuned.model.encoder.state_dict()
    assert all(torch.allclose(encoder[k].float(), v.float()) for k, v in pretrained.items())
    torch.testing.assert_close(tuned.model.head.weight.data, probe["weight"])


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_alpha_outside_zero_to_one_is_refused(
    tuned: TransformerTextClassifier, tiny_checkpoint: Path, alpha: float
) -> None:
    probe = {"weight": torch.zeros(3, 32), "bias": torch.zeros(3)}
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        interpolate(tuned, pretrained_weights(tiny_checkpoint), probe, alpha)


def test_weights_of_another_encoder_are_refused(tuned: TransformerTextClassifier) -> None:
    probe = {"weight": torch.zeros(3, 32), "bias": torch.zeros(3)}
    with pytest.raises(ValueError, match="do not match"):
        interpolate(tuned, {"some.weight": torch.zeros(2)}, probe, 0.5)
