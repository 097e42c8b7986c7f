"""Sentiment of customer messages for the action server.

One model per process, loaded on first use (never at import time) from
``ASSISTANT_SENTIMENT_MODEL_DIR``: the fine-tuned MiniLM classifier when one has
been trained there, VADER otherwise (see
:func:`nlu_models.sentiment.load_sentiment_model`). Loading and inference run in
one worker thread, so the event loop never waits on the model. Messages that
arrive while the model is busy are scored together in one batch when it is
free: nothing waits for a batch to fill, and under load one forward pass
serves several customers.
"""

import asyncio
import functools
import logging
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from actions.settings import get_settings
from nlu_models.sentiment import SentimentModel, SentimentScore, load_sentiment_model

logger = logging.getLogger(__name__)

MAX_SCORED_CHARS = 2000
"""Only this much of a message is scored; the classifier reads far less anyway."""

MAX_BATCH = 16
"""Most messages scored in one forward pass."""

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
        self._waiting: queue.SimpleQueue[Tuple[str, Future]] = queue.SimpleQueue()
        # Created on first use, so that a scorer made at import time starts no
        # thread; its own lock, as the model's is held while the model loads.
        self._worker: Optional[ThreadPoolExecutor] = None
        self._worker_lock = threading.Lock()

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

    async def score(self, text: str) -> SentimentScore:
        """Score one text in the worker thread, with the texts waiting beside it.

        Args:
            text: The text; only its first ``MAX_SCORED_CHARS`` characters count.

        Returns:
            Its sentiment.

        Raises:
            Exception: What loading the model or scoring raised.
        """
        result: Future = Future()
        self._waiting.put((text[:MAX_SCORED_CHARS], result))
        self._worker_pool().submit(self._score_waiting)
        return await asyncio.wrap_future(result)

    def _worker_pool(self) -> ThreadPoolExecutor:
        with self._worker_lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, thread_name_prefix="sentiment")
            return self._worker

    def _score_waiting(self) -> None:
        """Scores up to ``MAX_BATCH`` waiting texts (none if an earlier call took them)."""
        batch: List[Tuple[str, Future]] = []
        while len(batch) < MAX_BATCH:
            try:
                text, result = self._waiting.get_nowait()
            except queue.Empty:
                break
            if result.set_running_or_notify_cancel():  # False: its caller gave up
                batch.append((text, result))
        if not batch:
            return
        try:
            scores = self.model().score([text for text, _ in batch])
        except Exception as exc:
            for _, result in batch:
                result.set_exception(exc)
            return
        for (_, result), score in zip(batch, scores):
            result.set_result(score)


_default_scorer: Optional[SentimentScorer] = None
_default_scorer_lock = threading.Lock()


def get_sentiment_scorer() -> SentimentScorer:
    """Return the process-wide scorer for :func:`actions.settings.get_settings`."""
    global _default_scorer
    with _default_scorer_lock:
        if _default_scorer is None:
            settings = get_settings()
            loader = functools.partial(load_sentiment_model, weights=settings.sentiment_weights)
            _default_scorer = SentimentScorer(settings.sentiment_model_dir, loader=loader)
        return _default_scorer
