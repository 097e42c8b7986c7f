"""Weight-space ensembling of a fine-tuned classifier with its starting point.

Fine-tuning all of an encoder's weights on one narrow corpus fits that corpus
well and forgets some of what made the pretrained encoder general. WiSE-FT
(Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022) keeps
both: every weight becomes ``alpha * fine_tuned + (1 - alpha) * pretrained``,
and the head ``alpha * fine_tuned_head + (1 - alpha) * probe_head``, where the
probe head is a linear classifier fitted on the frozen pretrained encoder's
sentence vectors. ``alpha = 1`` is the fine-tuned model and ``alpha = 0`` the
linear probe; values in between usually do better on text unlike the training
corpus for almost no loss on text like it. The result is an ordinary
:class:`TransformerTextClassifier`: same size, same speed.
"""

import copy
import logging
from pathlib import Path
from typing import Dict, Mapping, Sequence

import numpy as np
import torch

from nlu_models.text_classifier import TransformerTextClassifier

logger = logging.getLogger(__name__)

Weights = Dict[str, torch.Tensor]
PROBE_REGULARISATION = (1.0, 10.0, 100.0)
"""Inverse regularisation strengths the probe chooses from by cross-validation."""
PROBE_TEXTS = 12000
"""Texts the probe is fitted on at most (plenty for a few hundred weights per label)."""


def pretrained_weights(checkpoint: Path) -> Weights:
    """The encoder weights of a local checkpoint, as fine-tuning started from them."""
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(checkpoint), local_files_only=True)
    return {name: tensor.detach().clone() for name, tensor in encoder.state_dict().items()}


def fit_probe_head(
    classifier: TransformerTextClassifier,
    pretrained: Mapping[str, torch.Tensor],
    texts: Sequence[str],
    labels: Sequence[str],
    max_texts: int = PROBE_TEXTS,
    seed: int = 42,
) -> Weights:
    """Fits a class-balanced linear head on the pretrained encoder's sentence vectors.

    The classifier's own weights are restored afterwards.

    Args:
        classifier: The fine-tuned classifier (its tokenizer, pooling and labels are used).
        pretrained: The encoder weights fine-tuning started from.
        texts: Texts to fit on (the training split).
        labels: One label per text, all of them in ``classifier.labels``.
        max_texts: A seeded sample of at most this many texts is used.
        seed: Seed of the sample and of the cross-validation folds.

    Returns:
        ``weight`` and ``bias`` tensors shaped like the classifier's head.

    Raises:
        ValueError: If there are fewer than three texts per label or a label is unknown.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    chosen = sorted(np.random.default_rng(seed).permutation(len(texts))[:max_texts].tolist())
    texts, labels = [texts[i] for i in chosen], [labels[i] for i in chosen]
    y = np.array([classifier.labels.index(label) for label in labels])
    counts = np.bincount(y, minlength=len(classifier.labels))
    if counts.min() < 3:
        raise ValueError(f"The probe needs at least 3 texts per label; got {counts.tolist()}.")
    fine_tuned = copy.deepcopy(classifier.model.encoder.state_dict())
    try:
        classifier.model.encoder.load_state_dict(dict(pretrained))
        vectors = classifier.embed(texts)
    finally:
        classifier.model.encoder.load_state_dict(fine_tuned)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    scores = {
        c: cross_val_score(_probe(c), vectors, y, cv=folds, scoring="balanced_accuracy").mean()
        for c in PROBE_REGULARISATION
    }
    best = max(scores, key=lambda c: scores[c])
    logger.info("Linear probe: balanced accuracy by C %s; using C=%s.", scores, best)
    probe = _probe(best).fit(vectors, y)
    return {
        "weight": torch.tensor(probe.coef_, dtype=torch.float32),
        "bias": torch.tensor(probe.intercept_, dtype=torch.float32),
    }


def interpolate(
    classifier: TransformerTextClassifier,
    pretrained: Mapping[str, torch.Tensor],
    probe_head: Mapping[str, torch.Tensor],
    alpha: float,
) -> None:
    """Replaces the classifier's weights by their mix with the starting point, in place.

    Args:
        classifier: The fine-tuned classifier.
        pretrained: The encoder weights fine-tuning started from.
        probe_head: The head from :func:`fit_probe_head`.
        alpha: Share of the fine-tuned weights, from 0 to 1.

    Raises:
        ValueError: If ``alpha`` is outside [0, 1] or the weights do not match.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}.")
    encoder = classifier.model.encoder.state_dict()
    if set(encoder) != set(pretrained):
        raise ValueError("The pretrained weights do not match the classifier's encoder.")
    classifier.model.encoder.load_state_dict(_mix(encoder, pretrained, alpha))
    classifier.model.head.load_state_dict(
        _mix(classifier.model.head.state_dict(), probe_head, alpha)
    )


def _mix(
    tuned: Mapping[str, torch.Tensor], start: Mapping[str, torch.Tensor], alpha: float
) -> Weights:
    return {
        name: alpha * value + (1.0 - alpha) * start[name].to(value.device)
        for name, value in tuned.items()
    }


def _probe(regularisation: float) -> object:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=regularisation, class_weight="balanced", max_iter=3000)
