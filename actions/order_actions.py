"""Rasa actions for orders: status, return eligibility, and the two forms' validators.

Both forms (``order_status_form`` and ``return_form``) collect only the slot
``order_id``. Their validators normalise what the customer typed and check that
the order exists; after three failed attempts in a row they stop asking, offer a
person, and end the form. The attempt counter lives in the slot
``order_id_attempts`` (float, custom mapping, does not influence the dialogue).

Every action takes its collaborators as optional constructor arguments; rasa-sdk
constructs them without any, and they then use the process-wide repository and
settings, created on first use.
"""

import asyncio
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Callable, Dict, List, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import order_messages as messages
from actions.db import DatabaseUnavailable, utc_now
from actions.order_policy import decide_return
from actions.orders import OrderLookup, OrderStatus, get_order_repository, parse_order_id
from actions.settings import Settings, get_settings

logger = logging.getLogger(__name__)

ORDER_ID_SLOT = "order_id"
ATTEMPTS_SLOT = "order_id_attempts"
REQUESTED_SLOT = "requested_slot"
MAX_ATTEMPTS = 3
"""Failed order numbers in a row after which a form stops asking."""


class LookupOutcome(str, Enum):
    """What became of an attempt to find the order a slot value names."""

    FOUND = "found"
    MISSING = "missing"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class OrderLookupResult:
    """The result of looking up an order from a slot value.

    Attributes:
        outcome: What happened.
        order_id: The canonical number, when the value held a well-formed one.
        order: The order, when it was found.
    """

    outcome: LookupOutcome
    order_id: Optional[str] = None
    order: Optional[OrderStatus] = None


def order_id_text(value: Any) -> str:
    """Turn a slot value into text to parse (entities may arrive as lists or numbers).

    Args:
        value: The slot value.

    Returns:
        The text, or "" when there is none.
    """
    if isinstance(value, (list, tuple)):
        value = next((item for item in value if item not in (None, "")), None)
    return "" if value is None else str(value).strip()


def problem_message(result: OrderLookupResult) -> str:
    """Return the reply for a lookup that found no order.

    Args:
        result: A result whose outcome is not ``FOUND``.

    Returns:
        The reply.
    """
    if result.outcome is LookupOutcome.UNKNOWN and result.order_id is not None:
        return messages.unknown_order(result.order_id)
    if result.outcome is LookupOutcome.UNAVAILABLE:
        return messages.ORDER_SYSTEM_UNAVAILABLE
    if result.outcome is LookupOutcome.MISSING:
        return messages.MISSING_ORDER_ID
    return messages.MALFORMED_ORDER_ID


class _OrderActionBase:
    """Holds the collaborators of the order actions (a seam for tests).

    Args:
        repository: Where orders are looked up; the process-wide repository
            when None.
        settings: The return window and database settings; the process-wide
            settings when None.
        clock: Source of the current time (timezone-aware).
    """

    def __init__(
        self,
        repository: Optional[OrderLookup] = None,
        settings: Optional[Settings] = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._repository = repository
        self._settings = settings
        self._clock = clock

    @property
    def repository(self) -> OrderLookup:
        """The order store, created on first use."""
        return self._repository if self._repository is not None else get_order_repository()

    @property
    def settings(self) -> Settings:
        """The settings in effect."""
        return self._settings if self._settings is not None else get_settings()

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return self._clock().astimezone(timezone.utc)

    async def lookup(self, value: Any) -> OrderLookupResult:
        """Find the order a slot value names, without blocking the event loop.

        Args:
            value: The slot value (what the customer typed, or a canonical id).

        Returns:
            The outcome; database failures are logged and reported as
            ``UNAVAILABLE`` rather than raised.
        """
        text = order_id_text(value)
        if not text:
            return OrderLookupResult(LookupOutcome.MISSING)
        order_id = parse_order_id(text)
        if order_id is None:
            return OrderLookupResult(LookupOutcome.MALFORMED)
        try:
            order = await asyncio.to_thread(self.repository.get, order_id)
        except DatabaseUnavailable:
            logger.exception(
                "Order lookup for %s failed: the order database is unreachable.", order_id
            )
            return OrderLookupResult(LookupOutcome.UNAVAILABLE, order_id)
        if order is None:
            return OrderLookupResult(LookupOutcome.UNKNOWN, order_id)
        return OrderLookupResult(LookupOutcome.FOUND, order_id, order)


def _gave_up_this_turn(tracker: Tracker) -> bool:
    """Tell whether a form validator gave up on the order number since the user spoke."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if (
            event.get("event") == "slot"
            and event.get("name") == ATTEMPTS_SLOT
            and (event.get("value") or 0) >= MAX_ATTEMPTS
        ):
            return True
    return False


class _OrderSubmitAction(_OrderActionBase, Action, ABC):
    """Looks up the order in ``order_id`` and replies about it."""

    @abstractmethod
    def name(self) -> str:
        """Return the action's name."""

    @abstractmethod
    def reply(self, order: OrderStatus) -> str:
        """Return what to tell the customer about a found order."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Reply about the order, or explain why there is nothing to say.

        Returns:
            ``[]`` after a reply about the order or an outage (the number is
            kept for a retry); ``[SlotSet("order_id", None)]`` when the number
            is malformed or unknown; ``[SlotSet("order_id_attempts", 0.0)]``
            right after a form gave up (its validator has already replied).
        """
        if _gave_up_this_turn(tracker):
            return [SlotSet(ATTEMPTS_SLOT, 0.0)]
        result = await self.lookup(tracker.get_slot(ORDER_ID_SLOT))
        if result.order is not None:
            dispatcher.utter_message(text=self.reply(result.order))
            return []
        dispatcher.utter_message(text=problem_message(result))
        if result.outcome in (LookupOutcome.MALFORMED, LookupOutcome.UNKNOWN):
            return [SlotSet(ORDER_ID_SLOT, None)]
        return []


class ActionOrderStatus(_OrderSubmitAction):
    """Tells the customer where their order is."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_order_status"

    def reply(self, order: OrderStatus) -> str:
        """Describe the order's status."""
        return messages.status_message(order, self.now().date())


class ActionCheckReturnEligibility(_OrderSubmitAction):
    """Tells the customer whether, until when and how their order can be returned."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_check_return_eligibility"

    def reply(self, order: OrderStatus) -> str:
        """Apply the return policy and explain the decision."""
        now = self.now()
        decision = decide_return(order, window_days=self.settings.return_window_days, now=now)
        return messages.return_message(decision, now.date())


def previous_attempts(tracker: Tracker, form_name: str) -> int:
    """Count the failed order numbers so far in the current run of a form.

    A count left over from an earlier run (the customer walked away from the
    form) does not carry over: only a counter set after the form's latest
    activation counts, and a validator called while the form is being
    activated starts from zero.

    Args:
        tracker: The conversation.
        form_name: The form being validated.

    Returns:
        The number of failed attempts before this one.
    """
    if tracker.active_loop.get("name") != form_name:
        return 0
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") == form_name:
            return 0
        if event.get("event") == "slot" and event.get("name") == ATTEMPTS_SLOT:
            return int(tracker.get_slot(ATTEMPTS_SLOT) or 0)
    return 0


class _OrderIdFormValidation(_OrderActionBase, FormValidationAction, ABC):
    """Validates ``order_id`` for a form that needs an existing order."""

    @abstractmethod
    def name(self) -> str:
        """Return the action's name."""

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Treat a reply to "what's your order number?" as an attempt at one.

        The entity extractors only recognise well-formed numbers, so without
        this a mistyped one ("ORD-10423") would go unnoticed and the form would
        simply ask again, never counting the failures. Only replies that look
        like an answer count: intent ``inform`` without other entities, or any
        text with a digit in it. Anything else (a question about shipping, a
        request for a person) is left for the rules to handle.

        Returns:
            ``{"order_id": <the message text>}`` or ``{}``.
        """
        if (
            tracker.active_loop.get("name") != self.form_name()
            or tracker.get_slot(REQUESTED_SLOT) != ORDER_ID_SLOT
        ):
            return {}
        message = tracker.latest_message or {}
        text = (message.get("text") or "").strip()
        if not text or text.startswith("/"):
            return {}
        entities = [entity.get("entity") for entity in message.get("entities") or []]
        if ORDER_ID_SLOT in entities:
            return {}  # Rasa has set the slot from the entity already.
        intent = (message.get("intent") or {}).get("name")
        if any(char.isdigit() for char in text) or (intent == "inform" and not entities):
            return {ORDER_ID_SLOT: text}
        return {}

    async def validate_order_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[str, Any]:
        """Normalise the order number and check that the order exists.

        Args:
            slot_value: What was extracted for ``order_id``.
            dispatcher: Sends replies to the customer.
            tracker: The conversation.
            domain: The bot's domain.

        Returns:
            The canonical number and a reset counter when the order exists
            (or when the database cannot say: the form's submit action then
            reports the outage); otherwise ``order_id`` None and the new
            count, plus ``requested_slot`` None to end the form after
            ``MAX_ATTEMPTS`` failures.
        """
        result = await self.lookup(slot_value)
        if result.outcome in (LookupOutcome.FOUND, LookupOutcome.UNAVAILABLE):
            return {ORDER_ID_SLOT: result.order_id, ATTEMPTS_SLOT: 0.0}
        attempts = previous_attempts(tracker, self.form_name()) + 1
        if attempts >= MAX_ATTEMPTS:
            dispatcher.utter_message(text=messages.GIVE_UP_ASKING)
            return {ORDER_ID_SLOT: None, REQUESTED_SLOT: None, ATTEMPTS_SLOT: float(attempts)}
        dispatcher.utter_message(text=problem_message(result))
        return {ORDER_ID_SLOT: None, ATTEMPTS_SLOT: float(attempts)}


class ValidateOrderStatusForm(_OrderIdFormValidation):
    """Validates the order number of ``order_status_form``."""

    def name(self) -> str:
        """Return the action's name."""
        return "validate_order_status_form"


class ValidateReturnForm(_OrderIdFormValidation):
    """Validates the order number of ``return_form``."""

    def name(self) -> str:
        """Return the action's name."""
        return "validate_return_form"
