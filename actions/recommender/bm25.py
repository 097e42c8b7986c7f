"""A small Okapi BM25 ranker: the keyword baseline of the recommender evaluation.

Pure Python, no dependency. Documents and queries are tokenised the same way
(lower case, runs of letters and digits, a plural "s" dropped from words
longer than three letters), and a document's score for a query is

    sum over query terms t of  idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))

with ``idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))`` (the non-negative
variant used by Lucene). A query term counts once per occurrence in the query.
"""

import math
import re
from collections import Counter
from typing import Dict, List, Sequence, Tuple

_TOKEN = re.compile(r"[^\W_]+")


def tokenize(text: str) -> List[str]:
    """Return the lower-case word tokens of a text, plural "s" dropped (len > 3)."""
    tokens = []
    for word in _TOKEN.findall(text.lower()):
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        tokens.append(word)
    return tokens


def idf(documents: int, containing: int) -> float:
    """Return the (non-negative, Lucene) inverse document frequency of a term.

    Args:
        documents: How many documents the corpus has.
        containing: How many of them contain the term.
    """
    return math.log(1.0 + (documents - containing + 0.5) / (containing + 0.5))


def term_weight(
    frequency: int, length: int, average_length: float, *, k1: float, b: float
) -> float:
    """Return a term's BM25 weight in a document, before the IDF factor.

    ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average_length))``;
    it approaches ``k1 + 1`` as the term frequency grows.
    """
    norm = 1.0 - b
    if average_length:
        norm += b * length / average_length
    return frequency * (k1 + 1.0) / (frequency + k1 * norm)


class BM25:
    """Okapi BM25 over a fixed list of documents.

    Args:
        documents: The document texts; their positions are the ids scores refer to.
        k1: Term-frequency saturation.
        b: Length normalisation (0 none, 1 full).
    """

    def __init__(self, documents: Sequence[str], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._docs = [Counter(tokenize(text)) for text in documents]
        self._lengths = [sum(doc.values()) for doc in self._docs]
        count = len(self._docs)
        self._avg_length = (sum(self._lengths) / count) if count else 0.0
        frequency: Counter = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        self.idf: Dict[str, float] = {term: idf(count, df) for term, df in frequency.items()}

    def __len__(self) -> int:
        return len(self._docs)

    def score(self, query: str, position: int) -> float:
        """Return the BM25 score of one document for a query."""
        doc = self._docs[position]
        length = self._lengths[position]
        total = 0.0
        for term in tokenize(query):
            tf = doc.get(term, 0)
            if tf:
                weight = term_weight(tf, length, self._avg_length, k1=self.k1, b=self.b)
                total += self.idf[term] * weight
        return total

    def scores(self, query: str) -> List[float]:
        """Return the score of every document, in document order."""
        return [self.score(query, position) for position in range(len(self._docs))]

    def rank(self, query: str, positions: Sequence[int], k: int) -> List[Tuple[int, float]]:
        """Return the best ``k`` of ``positions`` as (position, score), best first.

        Ties (including all-zero scores) keep the order of ``positions``.
        """
        scored = [(position, self.score(query, position)) for position in positions]
        order = sorted(range(len(scored)), key=lambda i: (-scored[i][1], i))
        return [scored[i] for i in order[:k]]
