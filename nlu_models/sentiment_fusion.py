"""A small logistic-regression layer over the fine-tuned MiniLM and VADER.

The fine-tuned model knows the corpus it was trained on (customer-service
tweets, mostly to airlines) well; VADER's lexicon knows sentiment words from
every topic. :class:`FusionHead` combines the two: a multinomial logistic
regression whose inputs are MiniLM's calibrated log-probabilities and VADER's
``neg``, ``neu``, ``pos`` and ``compound`` scores.

It is fitted by :func:`fit_fusion` on the *validation split* of the sentiment
training run only (rows the encoder never trained on; the split is reproduced
with :func:`nlu_models.text_classifier.split_indices`), with class-balanced
weights. Before it is saved, :func:`fit_fusion` cross-validates it on that
split against MiniLM alone and keeps it only when it is at least as good on
macro recall; otherwise no ``fusion.json`` is written and the plain model is used.
"""

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from nlu_models.benchmark.metrics import macro_recall
from nlu_models.sentiment_data import LABELS

logger = logging.getLogger(__name__)

FUSION_FILE = "fusion.json"
FEATURES = (
    "minilm_log_negative",
    "minilm_log_neutral",
    "minilm_log_positive",
    "vader_neg",
    "vader_neu",
    "vader_pos",
    "vader_compound",
)
_FORMAT_VERSION = 1
_LOG_FLOOR = 1e-6


@dataclass(frozen=True)
class FusionHead:
    """Weights of the fusion layer (rows: ``LABELS``; columns: ``FEATURES``)."""

    coefficients: Tuple[Tuple[float, ...], ...]
    intercepts: Tuple[float, ...]

    def __post_init__(self) -> None:
        """Checks the shapes."""
        if len(self.coefficients) != len(LABELS) or len(self.intercepts) != len(LABELS):
            raise ValueError(f"A fusion head has {len(LABELS)} rows, one per label.")
        if any(len(row) != len(FEATURES) for row in self.coefficients):
            raise ValueError(f"A fusion head has {len(FEATURES)} coefficients per label.")

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (columns in ``LABELS`` order) for rows of ``FEATURES``."""
        logits = features @ np.asarray(self.coefficients).T + np.asarray(self.intercepts)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, directory: Path, report: Dict[str, Any]) -> None:
        """Writes ``fusion.json`` (weights and the fitting report) into ``directory``."""
        data = {"format_version": _FORMAT_VERSION, "labels": list(LABELS)}
        data.update(features=list(FEATURES), **asdict(self), report=report)
        (Path(directory) / FUSION_FILE).write_text(json.dumps(data, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "FusionHead":
        """Reads ``fusion.json`` from ``directory``.

        Raises:
            ValueError: If the file is from another format, labels or features.
        """
        data = json.loads((Path(directory) / FUSION_FILE).read_text(encoding="utf-8"))
        if (
            data.get("format_version") != _FORMAT_VERSION
            or data.get("labels") != list(LABELS)
            or data.get("features") != list(FEATURES)
        ):
            raise ValueError(f"Unsupported fusion layer in '{directory}'.")
        return cls(
            tuple(tuple(float(c) for c in row) for row in data["coefficients"]),
            tuple(float(b) for b in data["intercepts"]),
        )


def features(minilm: np.ndarray, vader: Sequence[Dict[str, float]]) -> np.ndarray:
    """The fusion layer's inputs.

    Args:
        minilm: MiniLM's calibrated probabilities, columns in ``LABELS`` order.
        vader: VADER's ``polarity_scores`` for the same texts.

    Returns:
        An array of shape ``(len(vader), len(FEATURES))``.
    """
    if len(minilm) != len(vader):
        raise ValueError("One MiniLM row and one VADER score per text.")
    logs = np.log(np.clip(np.asarray(minilm, dtype=np.float64), _LOG_FLOOR, 1.0))
    lexicon = np.array(
        [[s["neg"], s["neu"], s["pos"], s["compound"]] for s in vader], dtype=np.float64
    ).reshape(len(vader), 4)
    return np.hstack([logs.reshape(len(vader), 3), lexicon])


def fit_head(x: np.ndarray, y: Sequence[int], regularisation: float = 1.0) -> FusionHead:
    """Fits a class-balanced multinomial logistic regression.

    Args:
        x: Rows of ``FEATURES``.
        y: Label indices into ``LABELS``.
        regularisation: Inverse L2 strength (scikit-learn's ``C``).
    """
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=regularisation, class_weight="balanced", max_iter=2000)
    model.fit(x, np.asarray(y))
    if list(model.classes_) != list(range(len(LABELS))):
        raise ValueError("The validation split must hold every sentiment label.")
    return FusionHead(
        tuple(tuple(float(c) for c in row) for row in model.coef_),
        tuple(float(b) for b in model.intercept_),
    )


def cross_validate(
    x: np.ndarray, y: Sequence[int], folds: int = 5, seed: int = 0
) -> Dict[str, Any]:
    """Macro recall of MiniLM alone and of the fusion layer, by stratified k-fold.

    Returns:
        ``minilm`` and ``fusion`` (mean macro recall over the folds) and ``folds``.
    """
    from sklearn.model_selection import StratifiedKFold

    y_arr = np.asarray(y)
    fused = np.empty_like(y_arr)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, held_rows in splitter.split(x, y_arr):
        head = fit_head(x[fit_rows], y_arr[fit_rows])
        fused[held_rows] = head.predict_proba(x[held_rows]).argmax(axis=1)
    alone = x[:, :3].argmax(axis=1)
    return {
        "folds": folds,
        "minilm": macro_recall(y_arr, alone),
        "fusion": macro_recall(y_arr, fused),
    }


def fit_fusion(
    minilm: np.ndarray, vader: List[Dict[str, float]], labels: Sequence[str]
) -> Tuple[FusionHead, Dict[str, Any]]:
    """Fits the fusion layer on held-out rows and reports its cross-validation.

    Args:
        minilm: MiniLM's probabilities on the validation split.
        vader: VADER's scores on the same rows.
        labels: Their gold labels (``LABELS`` names).

    Returns:
        The head fitted on all rows, and a report with ``rows``,
        ``cross_validation`` and ``keep`` (whether fusion is at least as good).
    """
    y = [LABELS.index(label) for label in labels]
    x = features(minilm, vader)
    cv = cross_validate(x, y)
    report = {"rows": len(y), "cross_validation": cv, "keep": cv["fusion"] >= cv["minilm"]}
    logger.info("Fusion on %d held-out rows: %s", len(y), report)
    return fit_head(x, y), report
