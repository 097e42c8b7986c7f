"""Rasa's TED policy with an exact cache of its predictions.

TED's prediction is a pure function of the dialogue states it reads: the last
``max_history`` turns of intent, entity names, featurized slots, active loop and
previous action, featurized the same way every time for a given model. A
support conversation visits few distinct state sequences, yet TED runs its
TensorFlow model for every one of the two or three predictions of each message,
and most of that time is TensorFlow's per-call dispatch, not arithmetic
(docs/benchmarks.md, "Load"). This policy keeps the last ``prediction_cache_size``
predictions keyed by the exact states and returns a stored prediction when the
same states come again, so the answer is the one TED would have given.

The cache is bypassed, so TED runs as usual, when a prediction can depend on
more than the states: a model trained end to end (user text as input, where the
prediction also reads the text's features) or a prediction that carries
entities. Nothing of the cache is persisted; the model is the same as TED's.

Configuration (``config.yml``)::

    policies:
      - name: bot.policies.cached_ted_policy.CachedTEDPolicy
        max_history: 5
        prediction_cache_size: 10000   # default; 0 turns the cache off
        # ... every other option of TEDPolicy
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from rasa.core.policies.policy import PolicyPrediction, SupportedData
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

logger = logging.getLogger(__name__)

PREDICTION_CACHE_SIZE = "prediction_cache_size"
DEFAULT_PREDICTION_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class CacheInfo:
    """How the prediction cache has fared since the policy was loaded."""

    hits: int
    misses: int
    size: int
    max_size: int


@dataclass(frozen=True)
class _CachedPrediction:
    probabilities: Tuple[float, ...]
    diagnostic_data: Optional[Dict[str, Any]]


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.POLICY_WITH_END_TO_END_SUPPORT], is_trainable=True
)
class CachedTEDPolicy(TEDPolicy):
    """TED, answering repeated dialogue states from a bounded LRU cache."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Return TED's defaults plus ``prediction_cache_size``."""
        return {
            **TEDPolicy.get_default_config(),
            PREDICTION_CACHE_SIZE: DEFAULT_PREDICTION_CACHE_SIZE,
        }

    def __init__(self, config: Dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """Create the policy as TED does; see :class:`TEDPolicy` for the arguments."""
        super().__init__(config, *args, **kwargs)
        self._cache_size = max(0, int(config.get(PREDICTION_CACHE_SIZE, 0)))
        self._cache: OrderedDict[str, _CachedPrediction] = OrderedDict()
        # Rasa predicts on its event loop, but the lock keeps the cache sound
        # for any caller that predicts from threads.
        self._cache_lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def cache_info(self) -> CacheInfo:
        """Return the cache's hits, misses and size."""
        with self._cache_lock:
            return CacheInfo(self._hits, self._misses, len(self._cache), self._cache_size)

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        precomputations: Optional[Any] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predict as TED, from the cache when these exact states were predicted before.

        Returns:
            TED's prediction for the tracker.
        """
        key = self._cache_key(tracker, domain, rule_only_data)
        if key is not None:
            cached = self._lookup(key)
            if cached is not None:
                return self._prediction(
                    list(cached.probabilities), diagnostic_data=cached.diagnostic_data
                )
        prediction = super().predict_action_probabilities(
            tracker, domain, rule_only_data, precomputations, **kwargs
        )
        if key is not None and self._is_state_only(prediction):
            self._store(key, prediction)
        return prediction

    def _cache_key(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]],
    ) -> Optional[str]:
        """The states TED featurizes for this prediction, as text; None if uncacheable."""
        if self._cache_size == 0 or self.model is None or not self._reads_states_only():
            return None
        ml_data_only = self.supported_data() == SupportedData.ML_DATA
        # The same arguments as Policy._featurize_for_prediction passes, with
        # intents (never text) for the last user message, as TED does unless
        # trained end to end.
        states = self.featurizer.prediction_states(
            [tracker],
            domain,
            use_text_for_last_user_input=False,
            ignore_rule_only_turns=ml_data_only,
            rule_only_data=rule_only_data,
            ignore_action_unlikely_intent=ml_data_only,
        )[0]
        return json.dumps(states, sort_keys=True)

    def _reads_states_only(self) -> bool:
        """Whether the model reads no user text (trained without end-to-end stories)."""
        return not self.only_e2e and TEXT not in (self.fake_features or {})

    @staticmethod
    def _is_state_only(prediction: PolicyPrediction) -> bool:
        return not prediction.is_end_to_end_prediction and not prediction.optional_events

    def _lookup(self, key: str) -> Optional[_CachedPrediction]:
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is None:
                self._misses += 1
                return None
            self._cache.move_to_end(key)
            self._hits += 1
            return cached

    def _store(self, key: str, prediction: PolicyPrediction) -> None:
        entry = _CachedPrediction(tuple(prediction.probabilities), prediction.diagnostic_data)
        with self._cache_lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
