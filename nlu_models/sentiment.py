"""Three-class sentiment models: the fine-tuned MiniLM and the VADER lexicon.

:func:`load_sentiment_model` returns the fine-tuned model when one has been
trained (``make train-sentiment``) and VADER otherwise, so callers always get a
working :class:`SentimentModel`. Both return one :class:`SentimentScore` per text.

Command line::

    python -m nlu_models.sentiment train [--out models/sentiment] [--epochs N]
    python -m nlu_models.sentiment score "TEXT" [--model-dir DIR]
"""

import argparse
import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional, Protocol, Sequence

from nlu_models.checkpoints import resolve_checkpoint
from nlu_models.sentiment_data import LABELS, load_training_corpus, normalize_tweet
from nlu_models.text_classifier import TrainingOptions, TransformerTextClassifier

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

    def score(self, texts: Sequence[str]) -> List[SentimentScore]:
        """Scores texts with VADER's compound score and its standard cut-offs."""
        results = []
        for text in texts:
            scores = self._analyzer.polarity_scores(text or "")
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
    def load(cls, directory: Path, device: str = "cpu") -> "TransformerSentimentModel":
        """Loads a model written by :func:`train`."""
        return cls(TransformerTextClassifier.load(directory, device))

    def score(self, texts: Sequence[str]) -> List[SentimentScore]:
        """Scores texts in batches."""
        probabilities = self._classifier.predict_proba([normalize_tweet(t) for t in texts])
        results = []
        for row in probabilities[:, self._columns]:
            negative, neutral, positive = (float(p) for p in row)
            label = LABELS[int(row.argmax())]
            results.append(
                SentimentScore(label, negative, neutral, positive, positive - negative, self.name)
            )
        return results


def load_sentiment_model(directory: Optional[Path] = None) -> SentimentModel:
    """Returns the fine-tuned model in ``directory`` if there is one, else VADER.

    Args:
        directory: Where :func:`train` saved the model; ``models/sentiment`` by default.
    """
    directory = Path(directory or DEFAULT_MODEL_DIR)
    if (directory / "classifier.json").is_file():
        return TransformerSentimentModel.load(directory)
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

    Returns:
        A summary: the cleaning report and the training report.
    """
    texts, labels, cleaning = load_training_corpus(corpus)
    logger.info("Training on %d cleaned tweets: %s", len(texts), cleaning)
    classifier, report = TransformerTextClassifier.train(
        resolve_checkpoint(checkpoint), texts, labels, options
    )
    classifier.save(out)
    summary = {"cleaning": asdict(cleaning), "training": asdict(report)}
    (Path(out) / "training_report.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs ``python -m nlu_models.sentiment``."""
    parser = argparse.ArgumentParser(prog="python -m nlu_models.sentiment")
    commands = parser.add_subparsers(dest="command", required=True)
    trainer = commands.add_parser("train", help="fine-tune MiniLM on the cleaned tweet corpus")
    trainer.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    trainer.add_argument("--epochs", type=int, default=SENTIMENT_TRAINING.epochs)
    trainer.add_argument("--checkpoint", default="default")
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
        print(json.dumps(summary["training"], indent=2))
        return 0
    result = load_sentiment_model(args.model_dir).score([args.text])[0]
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
