"""A dialogue policy that keeps the bot silent while a human agent owns the chat.

The action server sets the slot ``handoff_active`` when it hands a conversation
to an agent, and the handoff service clears it when the agent hands it back.
While it is set, this policy answers every customer message with
``action_listen`` (confidence 1.0): the message has already been passed on to
the agent's ticket by the action server, and the bot must not talk over the
agent. An active form is deactivated first, so the bot starts afresh (with its
slots intact) when the agent hands the conversation back. Otherwise the
policy abstains.

Its predictions are marked "no user prediction": Rasa's ensemble lets those
(the RulePolicy's predictions that continue an active form) overrule every
other prediction, so this is the only way to outrank a form. Among them the
higher priority wins; this policy's default priority is one above the
RulePolicy's.

``restart`` and ``session_start`` pass through, so Rasa's default actions for
them still run.

Configuration (``config.yml``)::

    policies:
      - name: bot.policies.handoff_policy.HandoffPolicy
        priority: 5            # default: the RulePolicy's (4) + 1
        slot: handoff_active   # default
        deactivate_loop: true  # default
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import rasa.shared.utils.io
from rasa.core.constants import POLICY_PRIORITY, RULE_POLICY_PRIORITY
from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import (
    ACTION_DEACTIVATE_LOOP_NAME,
    ACTION_LISTEN_NAME,
    USER_INTENT_RESTART,
    USER_INTENT_SESSION_START,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import FileIOException, InvalidConfigException

logger = logging.getLogger(__name__)

SLOT_KEY = "slot"
DEACTIVATE_LOOP_KEY = "deactivate_loop"
DEFAULT_SLOT = "handoff_active"
METADATA_FILE = "handoff_policy.json"
PASS_THROUGH_INTENTS = frozenset({USER_INTENT_RESTART, USER_INTENT_SESSION_START})
"""Intents whose default actions still run during a handoff."""


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True
)
class HandoffPolicy(Policy):
    """Predicts ``action_listen`` after each customer message during a handoff."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Return the default configuration (see the module docstring)."""
        return {
            POLICY_PRIORITY: RULE_POLICY_PRIORITY + 1,
            SLOT_KEY: DEFAULT_SLOT,
            DEACTIVATE_LOOP_KEY: True,
        }

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[TrackerFeaturizer] = None,
    ) -> None:
        """Create the policy from its configuration."""
        config = {**self.get_default_config(), **config}
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.slot: str = str(config[SLOT_KEY])
        self.deactivate_loop: bool = bool(config[DEACTIVATE_LOOP_KEY])

    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        """Check the domain and persist the configuration; nothing is learnt.

        Returns:
            The policy's resource.

        Raises:
            InvalidConfigException: If the domain lacks the handoff slot.
        """
        if self.slot not in {slot.name for slot in domain.slots}:
            raise InvalidConfigException(
                f"HandoffPolicy needs the slot '{self.slot}' in the domain "
                f"(a bool slot set while a human agent owns the conversation)."
            )
        self.persist()
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predict ``action_listen`` (or deactivating a form first) during a handoff.

        Returns:
            Confidence 1.0 for that action during a handoff; all zeros otherwise.
        """
        probabilities = self._default_predictions(domain)
        action = self.action_during_handoff(tracker)
        if action is None:
            return self._prediction(probabilities)
        logger.debug("A human agent owns the conversation: predicting '%s'.", action)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, is_no_user_prediction=True)

    def action_during_handoff(self, tracker: DialogueStateTracker) -> Optional[str]:
        """Return the action to run next while an agent owns the conversation.

        Args:
            tracker: The conversation.

        Returns:
            ``action_deactivate_loop`` right after a customer message while a
            form is active, ``action_listen`` right after a customer message
            or that deactivation; None when there is no handoff, nothing new
            from the customer, or a ``restart``/``session_start`` message.
        """
        if not self.is_handoff_active(tracker):
            return None
        latest_action = tracker.latest_action_name
        if latest_action == ACTION_LISTEN_NAME:
            intent = (tracker.latest_message.intent if tracker.latest_message else {}) or {}
            if intent.get("name") in PASS_THROUGH_INTENTS:
                return None
            if self.deactivate_loop and tracker.active_loop_name:
                return ACTION_DEACTIVATE_LOOP_NAME
            return ACTION_LISTEN_NAME
        if latest_action == ACTION_DEACTIVATE_LOOP_NAME:
            return ACTION_LISTEN_NAME
        return None

    def is_handoff_active(self, tracker: DialogueStateTracker) -> bool:
        """Return whether the handoff slot is set (false if the domain lacks it)."""
        slot = tracker.slots.get(self.slot)
        if slot is None:
            return False
        value = slot.value
        return value is True or (isinstance(value, str) and value.strip().lower() == "true")

    def _metadata(self) -> Dict[str, Any]:
        return {
            POLICY_PRIORITY: self.priority,
            SLOT_KEY: self.slot,
            DEACTIVATE_LOOP_KEY: self.deactivate_loop,
        }

    def persist(self) -> None:
        """Write the configuration to the model storage."""
        with self._model_storage.write_to(self._resource) as directory:
            rasa.shared.utils.io.dump_obj_as_json_to_file(
                directory / METADATA_FILE, self._metadata()
            )

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> HandoffPolicy:
        """Load the policy with the configuration it was trained with.

        Raises:
            InvalidConfigException: If the model holds no stored configuration.
        """
        try:
            with model_storage.read_from(resource) as directory:
                stored = rasa.shared.utils.io.read_json_file(directory / METADATA_FILE)
        except (ValueError, FileNotFoundError, FileIOException) as exc:
            raise InvalidConfigException(
                f"HandoffPolicy could not be loaded from the model: {exc}. Retrain the model."
            ) from exc
        return cls({**config, **stored}, model_storage, resource, execution_context)
