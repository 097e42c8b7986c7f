"""Rasa actions of the product recommender.

* ``action_recommend_products`` reads the latest message and the slots
  ``product_category``, ``budget`` and ``brand``, ranks the catalogue and sends
  the top three (title, price, reasons), rendered for the channel of the
  latest message (:mod:`actions.recommender.rendering`: a carousel, buttons or
  plain text) with thumbs up/down per product and the follow-ups "cheaper",
  "more like ..." and "other brands"; or, when nothing matches, what to relax.
  It keeps the request in the slot ``product_need`` (JSON text) and the
  products shown in ``recommended_skus`` (list), so that follow-ups refine them.
* ``action_recommendation_feedback`` records a thumbs up or down (entities
  ``sku`` or ``position``, and ``vote``: ``up``/``down``); later rankings in the
  conversation drop disliked products and favour ones like the liked ones.

The database and the model are used in a worker thread, never on the event
loop, and only from the first run on (rasa-sdk imports this module at start-up).
"""

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.db import DatabaseUnavailable
from actions.recommender import messages
from actions.recommender.dialogue import (
    BRAND_SLOT,
    BUDGET_SLOT,
    CATEGORY_SLOT,
    NEED_SLOT,
    SKUS_SLOT,
    Reply,
    Turn,
    entities_of,
    respond,
)
from actions.recommender.payloads import SearchRequest, Vote
from actions.recommender.rendering import render_recommendations
from actions.recommender.service import Recommender, get_recommender

logger = logging.getLogger(__name__)

_INPUT_SLOTS = (CATEGORY_SLOT, BUDGET_SLOT, BRAND_SLOT)


def slots_set_since_user_spoke(tracker: Tracker) -> frozenset:
    """Return the names of slots set after the latest user message."""
    names = set()
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "slot":
            names.add(event.get("name"))
    return frozenset(names)


def bot_asked_for_needs(tracker: Tracker) -> bool:
    """Return whether the bot's last message before the latest user message asked for needs."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return False
            seen_user = True
        elif kind == "bot" and seen_user:
            metadata = event.get("metadata") or {}
            return metadata.get("utter_action") == messages.ASK_FOR_NEEDS_RESPONSE
    return False


def turn_from_tracker(tracker: Tracker) -> Turn:
    """Collect what the recommender needs from the conversation."""
    message = tracker.latest_message or {}
    shown = tracker.get_slot(SKUS_SLOT) or []
    return Turn(
        conversation_id=tracker.sender_id,
        text=(message.get("text") or "").strip(),
        entities=entities_of(message),
        slots={name: tracker.get_slot(name) for name in _INPUT_SLOTS},
        slots_set_this_turn=slots_set_since_user_spoke(tracker) & set(_INPUT_SLOTS),
        previous=SearchRequest.from_json(tracker.get_slot(NEED_SLOT)),
        shown_skus=tuple(str(sku) for sku in shown if sku) if isinstance(shown, list) else (),
        asked_for_needs=bot_asked_for_needs(tracker),
    )


class _RecommenderAction(Action, ABC):
    """Holds the recommender (a seam for tests).

    Args:
        recommender: The recommender; the process-wide one when None.
    """

    def __init__(self, recommender: Optional[Recommender] = None) -> None:
        self._recommender = recommender

    @property
    def recommender(self) -> Recommender:
        """The recommender in use, created on first use."""
        return self._recommender if self._recommender is not None else get_recommender()

    @abstractmethod
    def name(self) -> str:
        """Return the action's name."""


class ActionRecommendProducts(_RecommenderAction):
    """Recommends products for the customer's stated need."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_recommend_products"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Send recommendations, or what to relax, or ask what the customer needs.

        Returns:
            ``SlotSet`` events for ``recommended_skus`` and ``product_need``
            after a search; none after asking or an outage.
        """
        turn = turn_from_tracker(tracker)
        try:
            reply: Reply = await asyncio.to_thread(respond, turn, self.recommender)
        except DatabaseUnavailable:
            logger.exception("Recommending products failed: the catalogue is unreachable.")
            dispatcher.utter_message(text=messages.CATALOGUE_UNAVAILABLE)
            return []
        if reply.response:
            dispatcher.utter_message(response=reply.response)
        elif reply.recommendations:
            rendered = render_recommendations(
                reply.recommendations, tracker.get_latest_input_channel()
            )
            for message in rendered.messages:
                dispatcher.utter_message(**message.utter_kwargs())
        else:
            dispatcher.utter_message(text=reply.text)
        return [SlotSet(name, value) for name, value in reply.slots.items()]


def _entity(message: Dict[str, Any], name: str) -> Optional[str]:
    for entity in message.get("entities") or []:
        if entity.get("entity") == name and entity.get("value") not in (None, ""):
            return str(entity["value"]).strip()
    return None


class ActionRecommendationFeedback(_RecommenderAction):
    """Records a thumbs up or down on a recommended product."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_recommendation_feedback"

    def _sku(self, tracker: Tracker, message: Dict[str, Any]) -> Optional[str]:
        sku = _entity(message, "sku")
        if sku:
            return sku
        shown = tracker.get_slot(SKUS_SLOT) or []
        position = _entity(message, "position")
        if position and position.isdigit() and 1 <= int(position) <= len(shown):
            return str(shown[int(position) - 1])
        return None

    def _record(self, conversation_id: str, sku: str, vote: Vote, need: Optional[str]) -> str:
        found = self.recommender.products([sku])
        if not found:
            return messages.UNKNOWN_PRODUCT
        self.recommender.feedback.record_vote(conversation_id, sku, vote, need)
        return messages.feedback_thanks(found[0].title, vote)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Store the vote and acknowledge it.

        Returns:
            No events.
        """
        message = tracker.latest_message or {}
        sku = self._sku(tracker, message)
        raw_vote = (_entity(message, "vote") or "").lower()
        if sku is None or raw_vote not in {vote.value for vote in Vote}:
            dispatcher.utter_message(text=messages.FEEDBACK_UNCLEAR)
            return []
        request = SearchRequest.from_json(tracker.get_slot(NEED_SLOT))
        need_text = request.need.text if request else None
        try:
            text = await asyncio.to_thread(
                self._record, tracker.sender_id, sku, Vote(raw_vote), need_text
            )
        except DatabaseUnavailable:
            logger.exception("Recording feedback failed: the database is unreachable.")
            text = messages.CATALOGUE_UNAVAILABLE
        dispatcher.utter_message(text=text)
        return []
