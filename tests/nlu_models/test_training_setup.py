import numpy as np
import pytest
import torch

from nlu_models.training_setup import (
    TrainingOptions,
    bucketed_batches,
    class_weights,
    epoch_count,
    fit_temperature,
    stratified_split,
)


def test_stratified_split_keeps_every_label_in_training() -> None:
    labels = [0] * 10 + [1] * 3 + [2] * 1
    train, validation = stratified_split(labels, 0.5, np.random.default_rng(0))
    assert sorted(train + validation) == list(range(len(labels)))
    assert {labels[i] for i in train} == {0, 1, 2}
    assert sum(labels[i] == 0 for i in validation) == 5
    assert sum(labels[i] == 2 for i in validation) == 0


def test_bucketed_batches_cover_each_index_once() -> None:
    lengths = [5, 3, 9, 1, 7, 2, 8, 4, 6, 10, 11]
    batches = bucketed_batches(lengths, 3, np.random.default_rng(1))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(b) <= 3 for b in batches)


def test_fit_temperature_recovers_the_temperature_of_the_data() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 5, generator=generator) * 4
    target = torch.multinomial(torch.softmax(logits / 2.0, dim=-1), 1, generator=generator)
    temperature = fit_temperature(logits, target.squeeze(1))
    assert temperature == pytest.approx(2.0, rel=0.1)


@pytest.mark.parametrize(
    "epochs, min_steps, examples, expected",
    [(6, 0, 9000, 6), (6, 400, 9000, 6), (6, 400, 640, 20), (3, 10, 8, 10)],
)
def test_epoch_count_honours_min_steps(
    epochs: int, min_steps: int, examples: int, expected: int
) -> None:
    options = TrainingOptions(epochs=epochs, min_steps=min_steps, batch_size=32)
    assert epoch_count(options, examples) == expected


def test_class_weights_are_inverse_frequencies() -> None:

    weights = class_weights([0, 0, 0, 1], 3)
    assert weights.tolist() == pytest.approx([4 / 9, 4 / 3, 0.0])
