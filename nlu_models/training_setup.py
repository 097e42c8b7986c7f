"""Options, reports and training helpers of :mod:`nlu_models.text_classifier`.

Splitting, batching, class weights and temperature scaling live here so that
the classifier module holds only the model, its training loop and persistence,
and so that other trainers (weight-space ensembling in
:mod:`nlu_models.weight_ensembling`, the sentiment fusion layer) reuse exactly
the split and calibration that training used.
"""

import math
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class TrainingOptions:
    """Hyperparameters of a fine-tuning run (see the Rasa component for defaults)."""

    epochs: int = 6
    min_steps: int = 0
    learning_rate: float = 1e-4
    batch_size: int = 32
    max_length: int = 64
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    # Weight the loss by inverse class frequency (for macro-averaged metrics).
    balance_classes: bool = False
    dropout: float = 0.1
    freeze_embeddings: bool = True
    seed: int = 42
    validation_fraction: float = 0.1
    early_stopping_patience: int = 2
    device: str = "auto"
    show_progress: bool = True


@dataclass
class TrainingReport:
    """What happened during training, for logs and benchmarks."""

    epochs_run: int = 0
    best_epoch: int = 0
    validation_accuracy: Optional[float] = None
    temperature: float = 1.0
    train_examples: int = 0
    validation_examples: int = 0
    train_seconds: float = 0.0
    history: List[Dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seeds Python's, NumPy's and torch's generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def epoch_count(options: TrainingOptions, num_examples: int) -> int:
    """Epochs to run: ``epochs``, or more when that gives fewer than ``min_steps`` updates."""
    steps_per_epoch = max(math.ceil(num_examples / options.batch_size), 1)
    return max(options.epochs, math.ceil(options.min_steps / steps_per_epoch))


def class_weights(label_ids: Sequence[int], num_labels: int) -> torch.Tensor:
    """Inverse-frequency weights that average to one over the labels present."""
    counts = torch.bincount(torch.tensor(label_ids), minlength=num_labels).float()
    weights = torch.where(counts > 0, counts.sum() / (num_labels * counts.clamp(min=1)), 0.0)
    return weights


def stratified_split(
    label_ids: Sequence[int], fraction: float, rng: np.random.Generator
) -> Tuple[List[int], List[int]]:
    """Splits indices so that every label keeps at least one training example."""
    by_label: Dict[int, List[int]] = {}
    for index, label in enumerate(label_ids):
        by_label.setdefault(label, []).append(index)
    train, validation = [], []
    for label in sorted(by_label):
        indices = list(by_label[label])
        rng.shuffle(indices)
        count = min(int(round(len(indices) * fraction)), len(indices) - 1)
        validation.extend(indices[:count])
        train.extend(indices[count:])
    return sorted(train), sorted(validation)


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator
) -> List[List[int]]:
    """Shuffled batches of similar length, so dynamic padding wastes little."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches: List[List[int]] = []
    for start in range(0, len(order), chunk):
        block = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(
            [int(i) for i in block[b : b + batch_size]] for b in range(0, len(block), batch_size)
        )
    rng.shuffle(batches)
    return batches


def split_indices(labels: Sequence[str], options: TrainingOptions) -> Tuple[List[int], List[int]]:
    """The training and validation indices that :meth:`TransformerTextClassifier.train` uses.

    Args:
        labels: The labels passed to ``train``, in the same order.
        options: The options passed to ``train`` (``seed`` and ``validation_fraction``).

    Returns:
        Training and validation indices into ``labels``, each sorted.
    """
    label_index = {name: i for i, name in enumerate(sorted(set(labels)))}
    rng = np.random.default_rng(options.seed)
    return stratified_split(
        [label_index[name] for name in labels], options.validation_fraction, rng
    )


def fit_temperature(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Temperature that minimises the validation negative log-likelihood."""
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), target)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_t.detach().exp())
    return min(max(temperature, 0.05), 20.0)
