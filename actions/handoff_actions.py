"""The turn monitor: sentiment on every customer message, handoff to a person.

Rasa runs this action after every customer message, whatever story or form is
active, as part of its default ``action_extract_slots``. It is registered under
the name ``action_validate_slot_mappings`` because that is the one custom action
``action_extract_slots`` calls whose bot messages Rasa keeps and sends (those of
an action named in a slot's custom mapping are dropped in Rasa 3.6); it returns
no validation events and leaves every extracted slot as it is.

Each run:

1. scores the message's sentiment (in a worker thread) and appends a point to
   the ``sentiment_trail`` slot (the latest ``MAX_TRAIL_POINTS``);
2. while an agent owns the conversation (``handoff_active``), stores the
   message on the open ticket and says nothing (the HandoffPolicy keeps the bot
   silent); if the ticket was closed meanwhile, clears the handoff slots and
   lets the bot answer;
3. otherwise asks the escalation policy (:mod:`actions.escalation`); on a
   trigger it opens a ticket with the transcript, the sentiment trail, the
   recent intents and the recommended products, tells the customer where they
   stand, and sets ``handoff_active`` and ``handoff_ticket_id``.

When the database is down it says so and sets no handoff; when anything else
fails it logs the error and returns nothing, so the bot answers as usual.
"""

import asyncio
import logging
from datetime import datetime
from typing import Callable, List, Optional, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import handoff_messages as messages
from actions.catalogue_store import CatalogueRepository
from actions.db import DatabaseUnavailable, get_database, utc_now
from actions.escalation import EscalationPolicy, EscalationReason, decide
from actions.handoff_turn import (
    ACTIVE_SLOT,
    TICKET_SLOT,
    TRAIL_SLOT,
    Turn,
    read_turn,
)
from actions.sentiment import SentimentScorer, get_sentiment_scorer
from actions.settings import get_settings
from bot.handoff.payloads import HandoffRequest, RecommendedProduct, SentimentPoint
from bot.handoff.store import HandoffStore, get_handoff_store
from bot.privacy import install_log_masking

logger = logging.getLogger(__name__)

MONITOR_ACTION_NAME = "action_validate_slot_mappings"
MAX_TRAIL_POINTS = 20
"""The ``sentiment_trail`` slot keeps this many points (more if the policy's window is larger)."""
MAX_RECOMMENDED = 5


class ActionMonitorTurn(Action):
    """Scores each customer message and hands upset customers to a person.

    Every collaborator is created on first use, never at import time; tests
    pass their own. Creating it masks personal data in the process's logs
    (:func:`bot.privacy.install_log_masking`).

    Args:
        scorer: The sentiment scorer; the process-wide one by default.
        store: The handoff tickets; over the project database by default.
        catalogue: Resolves recommended SKUs to titles; over the project
            database by default.
        policy: The escalation thresholds; from the settings by default.
        clock: Source of "now".
    """

    def __init__(
        self,
        *,
        scorer: Optional[SentimentScorer] = None,
        store: Optional[HandoffStore] = None,
        catalogue: Optional[CatalogueRepository] = None,
        policy: Optional[EscalationPolicy] = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._scorer = scorer
        self._store = store
        self._catalogue = catalogue
        self._policy = policy
        self._clock = clock
        # The action server's logs carry customers' texts and ids (this action's
        # and others'); rasa-sdk makes every action when it starts, this one included.
        install_log_masking()

    def name(self) -> str:
        """Return the action's name (see the module docstring for why this one)."""
        return MONITOR_ACTION_NAME

    @property
    def scorer(self) -> SentimentScorer:
        """The sentiment scorer."""
        if self._scorer is None:
            self._scorer = get_sentiment_scorer()
        return self._scorer

    @property
    def store(self) -> HandoffStore:
        """The handoff store, created on first use."""
        if self._store is None:
            self._store = get_handoff_store()
        return self._store

    @property
    def catalogue(self) -> CatalogueRepository:
        """The product catalogue, created on first use."""
        if self._catalogue is None:
            self._catalogue = CatalogueRepository(get_database())
        return self._catalogue

    @property
    def policy(self) -> EscalationPolicy:
        """The escalation thresholds."""
        if self._policy is None:
            self._policy = EscalationPolicy.from_settings(get_settings())
        return self._policy

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Monitor the latest customer message; never fails the turn.

        Returns:
            ``SlotSet`` events for ``sentiment_trail`` and, when a handoff
            starts or turns out to have ended, ``handoff_active`` and
            ``handoff_ticket_id``; nothing if the message needs no monitoring
            or monitoring failed.
        """
        try:
            events, reply = await self._monitor(tracker)
        except Exception:
            logger.exception(
                "Monitoring the turn of conversation %r failed; the bot answers as usual.",
                tracker.sender_id,
            )
            return []
        if reply:
            dispatcher.utter_message(text=reply)
        return events

    async def _monitor(self, tracker: Tracker) -> Tuple[List[EventType], Optional[str]]:
        turn = read_turn(tracker, self._clock)
        if turn is None or turn.already_handled:
            return [], None
        point = await self._score(turn)
        trail = [*turn.trail, point] if point is not None else list(turn.trail)
        trail = trail[-max(MAX_TRAIL_POINTS, self.policy.negative_window) :]
        events: List[EventType] = [SlotSet(TRAIL_SLOT, [p.to_dict() for p in trail])]
        earlier = turn.earlier_points
        fallbacks = turn.fallbacks_in_a_row

        if turn.handoff_active:
            try:
                ticket_id = await asyncio.to_thread(
                    self.store.add_customer_message, turn.conversation_id, turn.text, point
                )
            except DatabaseUnavailable:
                logger.exception("Could not store a customer message on the handoff ticket.")
                return events, messages.MESSAGE_NOT_PASSED_ON
            if ticket_id is not None:
                return events, None
            # The agent ended the handoff but the hand back has not reached Rasa
            # (yet): the bot takes over again, counting from this message.
            logger.info("Conversation %r has no open ticket any more.", turn.conversation_id)
            events += [SlotSet(ACTIVE_SLOT, False), SlotSet(TICKET_SLOT, None)]
            earlier = ()
            fallbacks = min(fallbacks, 1)

        reason = decide(
            self.policy,
            intent=turn.intent,
            latest=point,
            earlier=earlier,
            fallbacks_in_a_row=fallbacks,
        )
        if reason is None:
            return events, None
        return await self._escalate(turn, tuple(trail), reason, events)

    async def _score(self, turn: Turn) -> Optional[SentimentPoint]:
        if turn.scorable_text is None:
            return None
        try:
            score = await self.scorer.score(turn.scorable_text)
        except Exception:
            logger.exception("Scoring the sentiment of a message failed; it gets no score.")
            return None
        return SentimentPoint(label=score.label, score=score.score, text=turn.text, at=turn.at)

    async def _escalate(
        self,
        turn: Turn,
        trail: Tuple[SentimentPoint, ...],
        reason: EscalationReason,
        events: List[EventType],
    ) -> Tuple[List[EventType], Optional[str]]:
        recommended = await self._recommended(turn.recommended_skus)
        request = HandoffRequest(
            conversation_id=turn.conversation_id,
            channel=turn.channel,
            reason=reason.value,
            sentiment_trail=trail,
            recent_intents=turn.recent_intents,
            transcript=turn.transcript,
            recommended=recommended,
        )
        try:
            status = await asyncio.to_thread(self.store.open_ticket, request)
        except (DatabaseUnavailable, ValueError):
            logger.exception("Could not open a handoff ticket (%s).", reason.value)
            return events, messages.escalation_unavailable(reason)
        logger.info(
            "Conversation %r handed to a person (%s): ticket %d, %s.",
            turn.conversation_id,
            reason.value,
            status.ticket_id,
            status.status,
        )
        reply = messages.escalation_reply(reason, status, self.store.settings.office_hours)
        events += [SlotSet(ACTIVE_SLOT, True), SlotSet(TICKET_SLOT, float(status.ticket_id))]
        return events, reply

    async def _recommended(self, skus: Tuple[str, ...]) -> Tuple[RecommendedProduct, ...]:
        """Resolve the recommended SKUs; a failure leaves them out, it stops nothing."""
        if not skus:
            return ()
        wanted = list(dict.fromkeys(skus))[:MAX_RECOMMENDED]
        try:
            records = await asyncio.to_thread(lambda: [self.catalogue.get(sku) for sku in wanted])
        except DatabaseUnavailable:
            logger.warning("Could not look up the recommended products for the handoff.")
            return ()
        return tuple(
            RecommendedProduct(
                sku=record.sku,
                title=record.title,
                price=record.price_cents / 100,
                currency=record.currency,
            )
            for record in records
            if record is not None
        )
