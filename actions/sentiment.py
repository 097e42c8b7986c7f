"""Sentiment of customer messages for the action server.

One model per process, loaded on first use (never at import time) from
``ASSISTANT_SENTIMENT_MODEL_DIR``: the fine-tuned MiniLM classifier when one has
been trained there, VADER otherwise (see
:func:`nlu_models.sentiment.load_sentiment_model`). Loading and inference run in
a worker thread, so the event loop never waits on the model.
"""

import asyncio
import functools
import logging
import threading
from pathlib import Path
from typing import Callable, Optional

from actions.settings import get_settings
from nlu_models.sentiment import SentimentModel, SentimentScore, load_sentiment_model

logger = logging.getLogger(__name__)

MAX_SCORED_CHARS = 2000
"""Only this much of a message is scored; the classifier reads far less anyway."""

ModelLoader = Callable[[Optional[Path]], SentimentModel]


class SentimentScorer:
    """Scores texts with a model that is loaded once, on first use.

    Args:
        model_dir: Where the fine-tuned model is; VADER is used without one.
        loader: Loads the model from ``model_dir`` (a seam for tests).
    """

    def __init__(self, model_dir: Path, *, loader: ModelLoader = load_sentiment_model) -> None:
        self.model_dir = Path(model_dir)
        self._loader = loader
        self._model: Optional[SentimentModel] = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded."""
        return self._model is not None

    def model(self) -> SentimentModel:
        """Return the model, loading it on the first call (blocking)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    model = self._loader(self.model_dir)
                    logger.info("Sentiment model %r loaded from %s.", model.name, self.model_dir)
                    self._model = model
        return self._model

    def score_sync(self, text: str) -> SentimentScore:
        """Score one text in the calling thread (loads the model if needed).

        Args:
            text: The text; only its first ``MAX_SCORED_CHARS`` characters count.

        Returns:
            Its sentiment.
        """
        return self.model().score([text[:MAX_SCORED_CHARS]])[0]

    async def score(self, text: str) -> SentimentScore:
        """Score one text in a worker thread.

        Args:
            text: The text; only its first ``MAX_SCORED_CHARS`` characters count.

        Returns:
            Its sentiment.
        """
        return await asyncio.to_thread(self.score_sync, text)


_default_scorer: Optional[SentimentScorer] = None
_default_scorer_lock = threading.Lock()


def get_sentiment_scorer() -> SentimentScorer:
    """Return the process-wide scorer for :func:`actions.settings.get_settings`."""
    global _default_scorer
    with _default_scorer_lock:
        if _default_scorer is None:
            settings = get_settings()
            loader = functools.partial(load_sentiment_model, quantize=settings.sentiment_quantize)
            _default_scorer = SentimentScorer(settings.sentiment_model_dir, loader=loader)
        return _default_scorer
