"""Ranking products for a stated need.

:func:`rank` works in four steps:

1. **Hard filters** (:mod:`actions.recommender.constraints`): category,
   budget, stock, excluded brands, wanted brands when only those will do,
   thumbs-down products. If nothing passes, the result is a
   :class:`~actions.recommender.payloads.NoMatch` that says what to relax.
2. **Relevance**: cosine between the query vector (the need's text, or a
   product for "more like this") and each product's vector, plus a keyword
   score (BM25 over the candidates, :mod:`actions.recommender.keywords`)
   that the caller computes for the need's words.
3. **Priors**: the share of requested features the product has, a Bayesian
   average rating (the rating shrunk towards the candidates' mean rating by
   ``prior_reviews`` virtual reviews, so 5.0 from 2 reviews does not beat 4.6
   from 800), and a boost for a wanted brand.
4. **Feedback** from this conversation: products close to a thumbs-up
   product rise, products close to a thumbs-down product sink (a thumbs-down
   product itself is gone in step 1).

The function is pure: no database, no model. The caller supplies the
candidates, the index of product vectors, the query vector and the keyword
scores.
"""

from dataclasses import dataclass
from typing import AbstractSet, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from actions.catalogue_record import ProductRecord
from actions.recommender.constraints import failed_constraints, no_match
from actions.recommender.embeddings import IMAGE_ATTRIBUTE
from actions.recommender.feedback import latest_votes
from actions.recommender.index import Index
from actions.recommender.payloads import (
    FeedbackEvent,
    RankingResult,
    Recommendation,
    Recommendations,
    SearchRequest,
    Vote,
)
from actions.recommender.reasons import FeatureJudge, liked_reason, reasons_for

MAX_IMAGE_URL = 2000
"""Longer picture addresses are ignored."""

DEFAULT_PRIOR_MEAN = 4.0
"""Rating assumed for unrated products when no product of the pool is rated."""


@dataclass(frozen=True)
class Weights:
    """How much each signal adds to a product's score.

    Attributes:
        similarity: Times the cosine similarity to the query (-1 to 1).
        keyword: Times the keyword score of the need's words (0 to 1).
        features: Times the share of requested features the product has (0 to 1).
        rating: Times the Bayesian average rating divided by 5 (0 to 1).
        brand: Added for a brand the customer asked for.
        liked: Times the closeness to the nearest thumbs-up product (0 to 1).
        disliked: Subtracted, times the closeness to the nearest thumbs-down product.
        feedback_floor: Similarity to a voted product below which it has no
            effect; closeness is the similarity above it, scaled to 0-1
            (products of one category are all somewhat similar).
        prior_reviews: Virtual reviews at the mean rating in the Bayesian average.
        liked_reason_at: Closeness to a liked product from which "similar to
            the ... you liked" is given as a reason.
    """

    similarity: float = 1.0
    keyword: float = 1.5
    features: float = 0.3
    rating: float = 0.3
    brand: float = 0.15
    liked: float = 0.3
    disliked: float = 0.3
    feedback_floor: float = 0.5
    prior_reviews: float = 25.0
    liked_reason_at: float = 0.5

    def closeness(self, similarity: float) -> float:
        """Scale a similarity to a voted product to 0-1 above :attr:`feedback_floor`."""
        if similarity <= self.feedback_floor:
            return 0.0
        return min(1.0, (similarity - self.feedback_floor) / (1.0 - self.feedback_floor))


DEFAULT_WEIGHTS = Weights()


def bayesian_rating(
    rating: Optional[float], reviews: int, prior_mean: float, prior_reviews: float
) -> float:
    """Return the rating shrunk towards ``prior_mean``.

    ``(prior_reviews * prior_mean + reviews * rating) / (prior_reviews + reviews)``;
    an unrated product gets ``prior_mean``.
    """
    if rating is None or reviews <= 0:
        return prior_mean
    return (prior_reviews * prior_mean + reviews * rating) / (prior_reviews + reviews)


def image_url(product: ProductRecord) -> Optional[str]:
    """Return the product's picture address: attribute ``image_url`` if it is an https URL."""
    value = product.attributes.get(IMAGE_ATTRIBUTE)
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value.lower().startswith("https://") or len(value) > MAX_IMAGE_URL:
        return None
    if any(char.isspace() or ord(char) < 32 for char in value):
        return None
    return value


def _prior_mean(products: Sequence[ProductRecord]) -> float:
    ratings = [p.rating for p in products if p.rating is not None and p.review_count > 0]
    return sum(ratings) / len(ratings) if ratings else DEFAULT_PRIOR_MEAN


def _best_similarity(
    index: Index, skus: Sequence[str], others: Sequence[str]
) -> Tuple[np.ndarray, np.ndarray]:
    """Return, per product, the highest similarity to any of ``others`` and its position."""
    known = [sku for sku in others if sku in index]
    if not skus or not known:
        return np.zeros(len(skus), dtype=np.float32), np.full(len(skus), -1)
    similarities = index.vectors(skus) @ index.vectors(known).T
    return similarities.max(axis=1), similarities.argmax(axis=1)


def rank(
    request: SearchRequest,
    candidates: Sequence[ProductRecord],
    *,
    index: Index,
    query: Optional[np.ndarray],
    feedback: Sequence[FeedbackEvent] = (),
    top_k: int = 3,
    weights: Weights = DEFAULT_WEIGHTS,
    titles: Mapping[str, str] = {},  # noqa: B006 - read only
    keyword: Mapping[str, float] = {},  # noqa: B006 - read only
) -> RankingResult:
    """Rank products for a request.

    Args:
        request: What the customer wants.
        candidates: The products to consider (at least those of the category).
        index: Vectors of the products; products without one get similarity 0.
        query: The query vector, or None to rank without similarity.
        feedback: This conversation's votes, oldest first.
        top_k: How many products to return.
        weights: How the signals combine.
        titles: Titles of liked products that may not be among the candidates.
        keyword: Keyword score (0 to 1) per SKU; products missing score 0.

    Returns:
        The best ``top_k`` products with their reasons, or what to relax if
        no product passes the hard filters.

    Raises:
        ValueError: If ``top_k`` is not positive.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be positive, got {top_k}")
    votes = latest_votes(feedback)
    disliked = frozenset(sku for sku, vote in votes.items() if vote is Vote.DOWN)
    liked = [sku for sku, vote in votes.items() if vote is Vote.UP]
    failures = {p.sku: failed_constraints(p, request, disliked) for p in candidates}
    passing = [p for p in candidates if not failures[p.sku]]
    if not passing:
        return no_match(request, candidates, failures)

    similarity = _similarities(index, query, {p.sku for p in passing})
    indexed = [p.sku for p in passing if p.sku in index]
    liked_best, liked_at = _best_similarity(index, indexed, liked)
    disliked_best, _ = _best_similarity(index, indexed, sorted(disliked))
    liked_known = [sku for sku in liked if sku in index]
    row_of = {sku: row for row, sku in enumerate(indexed)}
    all_titles = {**titles, **{p.sku: p.title for p in candidates}}
    prior = _prior_mean(candidates)
    wanted = {brand.lower() for brand in request.need.brands_wanted}
    features_asked = len(request.need.features)
    judge = FeatureJudge(passing)

    scored: List[Tuple[float, str, Recommendation]] = []
    for product in passing:
        matches = judge.matches(request.need, product)
        score = weights.similarity * similarity.get(product.sku, 0.0)
        score += weights.keyword * keyword.get(product.sku, 0.0)
        if features_asked:
            score += weights.features * len(matches) / features_asked
        rating = bayesian_rating(product.rating, product.review_count, prior, weights.prior_reviews)
        score += weights.rating * rating / 5.0
        if product.brand.lower() in wanted:
            score += weights.brand
        liked_text = None
        row = row_of.get(product.sku)
        if row is not None:
            liked_closeness = weights.closeness(float(liked_best[row]))
            score += weights.liked * liked_closeness
            score -= weights.disliked * weights.closeness(float(disliked_best[row]))
            if liked_known and liked_closeness >= weights.liked_reason_at:
                source = liked_known[int(liked_at[row])]
                liked_text = liked_reason(all_titles.get(source, "product"), source == product.sku)
        reasons = reasons_for(product, request.need, matches, liked_text)
        recommendation = Recommendation(
            sku=product.sku,
            title=product.title,
            category=product.category_key,
            brand=product.brand,
            price_cents=product.price_cents,
            currency=product.currency,
            score=float(score),
            reasons=reasons,
            image_url=image_url(product),
        )
        scored.append((-score, product.sku, recommendation))
    scored.sort(key=lambda item: (item[0], item[1]))
    return Recommendations(request=request, items=tuple(item[2] for item in scored[:top_k]))


def _similarities(
    index: Index, query: Optional[np.ndarray], allowed: AbstractSet[str]
) -> Dict[str, float]:
    """Return the query's similarity to each allowed, indexed product."""
    if query is None or index.size == 0:
        return {}
    hits = index.search(query, k=len(allowed), allowed=allowed)
    return {hit.sku: hit.score for hit in hits}
