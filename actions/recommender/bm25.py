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
        self.idf: Dict[str, float] = {
            term: math.log(1.0 + (count - df + 0.5) / (df + 0.5)) for term, df in frequency.items()
        }

    def __len__(self) -> int:
        return len(self._docs)

    def score(self, query: str, position: int) -> float:
        """Return the BM25 score of one document for a query."""
        doc = self._docs[position]
        norm = 1.0 - self.b
        if self._avg_length:
            norm += self.b * self._lengths[position] / self._avg_length
        total = 0.0
        for term in tokenize(query):
            tf = doc.get(term, 0)
            if tf:
                total += self.idf[term] * tf * (self.k1 + 1.0) / (tf + self.k1 * norm)
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
