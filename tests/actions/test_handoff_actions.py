"""The turn monitor against a real HandoffStore on a temporary SQLite database.

Sentiment comes from VADER (the model directory is empty), so scores are exact.
"""

import logging
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import (
    ActionExecuted,
    BotUttered,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions import handoff_messages as messages
from actions.catalogue_files import seed_catalogue
from actions.catalogue_store import CatalogueRepository
from actions.db import Database
from actions.escalation import EscalationPolicy
from actions.handoff_actions import MONITOR_ACTION_NAME, ActionMonitorTurn
from actions.sentiment import SentimentScorer
from actions.settings import Settings
from bot.handoff.auth import AgentAccounts
from bot.handoff.models import TicketRow
from bot.handoff.payloads import HandoffRequest, QueueStatus, SentimentPoint
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HandoffStore
from bot.privacy import log_masking_installed, uninstall_log_masking
from tests.actions.conftest import make_tracker, user_message

# A Friday, 11:00 in Vienna: within the default office hours.
NOW = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)
SATURDAY_EVENING = datetime(2025, 3, 15, 19, 0, tzinfo=timezone.utc)  # 20:00 in Vienna
FURIOUS = "This is ridiculous, I am furious"
HANDOFF_SETTINGS = HandoffSettings()


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def ts(seconds_before_now: float) -> float:
    return (NOW - timedelta(seconds=seconds_before_now)).timestamp()


def iso(seconds_before_now: float) -> str:
    return (NOW - timedelta(seconds=seconds_before_now)).isoformat()


def user(text: str, intent: str, seconds_before_now: float, channel: str = "rest") -> Dict:
    return UserUttered(
        text, user_message(text, intent), timestamp=ts(seconds_before_now), input_channel=channel
    )


def bot(text: str, seconds_before_now: float, **metadata: Any) -> Dict:
    return BotUttered(text, metadata=metadata or None, timestamp=ts(seconds_before_now))


def point(text: str, label: str, score: float, seconds_before_now: float) -> Dict[str, Any]:
    return {"label": label, "score": score, "text": text, "at": iso(seconds_before_now)}


def turn(*events: Dict[str, Any]) -> Tracker:
    """The tracker after the latest message: that message is the last user event."""
    latest = next(e for e in reversed(events) if e["event"] == "user")
    return make_tracker(list(events), latest_message=latest["parse_data"])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(Settings(database_url=f"sqlite:///{tmp_path / 'assistant.db'}"), seeders=[])
    db.ensure_ready()
    yield db
    db.dispose()


@pytest.fixture
def store(database: Database, clock: Clock) -> HandoffStore:
    return HandoffStore(database, settings=HANDOFF_SETTINGS, clock=clock)


@pytest.fixture
def agent_online(database: Database, clock: Clock) -> None:
    accounts = AgentAccounts(database, token_ttl_s=3600, clock=clock)
    accounts.create_agent("dana", "Dana", "correct horse battery")
    assert accounts.login("dana", "correct horse battery") is not None


def make_action(
    store: HandoffStore, tmp_path: Path, clock: Clock, database: Optional[Database] = None
) -> ActionMonitorTurn:
    return ActionMonitorTurn(
        scorer=SentimentScorer(tmp_path / "no-sentiment-model"),
        store=store,
        catalogue=CatalogueRepository(database or store._database),
        policy=EscalationPolicy(),
        clock=clock,
    )


@pytest.fixture
def action(store: HandoffStore, tmp_path: Path, clock: Clock) -> ActionMonitorTurn:
    return make_action(store, tmp_path, clock)


async def run(action: ActionMonitorTurn, tracker: Tracker) -> tuple:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return events, [message["text"] for message in dispatcher.messages]


def ticket_count(database: Database) -> int:
    with database.session() as session:
        return session.execute(select(func.count(TicketRow.id))).scalar_one()


def timeline(store: HandoffStore, ticket_id: int) -> List[tuple]:
    return [(m.author, m.text) for m in store.ticket_detail(ticket_id).messages]


# --- every message gets a sentiment point --------------------------------------------------


def test_the_action_is_named_so_that_rasa_sends_its_replies() -> None:
    assert ActionMonitorTurn().name() == MONITOR_ACTION_NAME == "action_validate_slot_mappings"


def test_the_action_server_masks_personal_data_in_its_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    uninstall_log_masking()
    try:
        ActionMonitorTurn()  # rasa-sdk makes every action when the server starts
        assert log_masking_installed()
        with caplog.at_level(logging.INFO, logger="actions.handoff_actions"):
            logging.getLogger("actions.handoff_actions").info(
                "Conversation %r said %r.", "whatsapp:+436641234567", "I'm ana@example.com"
            )
        assert caplog.messages == [
            "Conversation 'whatsapp:+**********67' said \"I'm a***@example.com\"."
        ]
    finally:
        uninstall_log_masking()


@pytest.mark.asyncio
async def test_a_calm_message_adds_one_point_and_nothing_else(
    action: ActionMonitorTurn, database: Database
) -> None:
    events, replies = await run(action, turn(user("Where is my order?", "order_status", 60)))
    assert events == [SlotSet("sentiment_trail", [point("Where is my order?", "neutral", 0.0, 60)])]
    assert replies == []
    assert ticket_count(database) == 0


@pytest.mark.asyncio
async def test_the_trail_grows_by_exactly_one_point(action: ActionMonitorTurn) -> None:
    earlier = [point("hi", "neutral", 0.0, 300), point("thanks!", "positive", 0.4926, 200)]
    tracker = turn(
        SlotSet("sentiment_trail", earlier),
        user("Thanks, that was really helpful!", "thanks", 60),
    )
    events, replies = await run(action, tracker)
    assert events == [
        SlotSet(
            "sentiment_trail",
            [*earlier, point("Thanks, that was really helpful!", "positive", 0.7419, 60)],
        )
    ]
    assert replies == []


@pytest.mark.asyncio
async def test_the_trail_keeps_the_latest_twenty_points(action: ActionMonitorTurn) -> None:
    earlier = [point(f"m{i}", "neutral", 0.0, 1000 - i) for i in range(20)]
    tracker = turn(SlotSet("sentiment_trail", earlier), user("ok", "affirm", 60))
    events, _ = await run(action, tracker)
    assert events == [
        SlotSet("sentiment_trail", [*earlier[1:], point("ok", "positive", 0.296, 60)])
    ]


@pytest.mark.asyncio
async def test_a_message_is_monitored_once(action: ActionMonitorTurn) -> None:
    tracker = turn(
        user("Where is my order?", "order_status", 60),
        SlotSet("sentiment_trail", [point("Where is my order?", "neutral", 0.0, 60)]),
    )
    assert await run(action, tracker) == ([], [])


@pytest.mark.asyncio
@pytest.mark.parametrize("intent", ["session_start", "restart"])
async def test_rasas_own_messages_are_ignored(action: ActionMonitorTurn, intent: str) -> None:
    assert await run(action, turn(user(f"/{intent}", intent, 60))) == ([], [])


# --- escalation ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_furious_message_opens_a_ticket_and_tells_the_queue_place(
    action: ActionMonitorTurn, store: HandoffStore, agent_online: None
) -> None:
    tracker = turn(
        ActionExecuted("action_listen"),
        user("hi", "greet", 120, channel="socketio"),
        bot("Hi there! How can I help?", 119),
        user(FURIOUS, "complaint", 60, channel="socketio"),
    )
    events, replies = await run(action, tracker)

    assert events == [
        SlotSet(
            "sentiment_trail",
            [point(FURIOUS, "negative", -0.7351, 60)],
        ),
        SlotSet("handoff_active", True),
        SlotSet("handoff_ticket_id", 1.0),
    ]
    assert replies == [
        "I'm really sorry about this. I'm bringing in a person from our team who can sort it "
        "out with you. You're number 1 in the queue. The expected wait is about 5 minutes. "
        "Please stay in this chat: an agent will reply here."
    ]
    detail = store.ticket_detail(1)
    assert (detail.summary.conversation_id, detail.summary.channel, detail.summary.reason) == (
        "customer-1",
        "socketio",
        "strong_negative",
    )
    assert detail.summary.status == "queued"
    assert detail.recent_intents == ("greet", "complaint")
    assert detail.sentiment_trail == (
        SentimentPoint("negative", -0.7351, FURIOUS, NOW - timedelta(seconds=60)),
    )
    assert timeline(store, 1) == [
        ("customer", "hi"),
        ("bot", "Hi there! How can I help?"),
        ("customer", FURIOUS),
    ]


@pytest.mark.asyncio
async def test_asking_for_a_person_with_nobody_online(
    action: ActionMonitorTurn, store: HandoffStore
) -> None:
    text = "i'd rather speak to one of your staff, is that possible?"
    events, replies = await run(action, turn(user(text, "request_human", 60)))
    assert events == [
        SlotSet("sentiment_trail", [point(text, "neutral", 0.0, 60)]),
        SlotSet("handoff_active", True),
        SlotSet("handoff_ticket_id", 1.0),
    ]
    assert replies == [
        "Of course, I'm connecting you with a person from our team. You're number 1 in the "
        "queue. No agent is online at the moment, so I can't say how long it will take: "
        "leave your message here and an agent will reply in this chat as soon as one is free."
    ]
    assert store.ticket_detail(1).summary.reason == "requested_human"


@pytest.mark.asyncio
async def test_outside_office_hours_the_customer_hears_when_we_open(
    action: ActionMonitorTurn, clock: Clock
) -> None:
    clock.now = SATURDAY_EVENING
    _, replies = await run(action, turn(user("/request_human", "request_human", 10)))
    assert replies == [
        "Of course, I'm connecting you with a person from our team. Our team is available "
        "Mon-Fri 08:00-20:00 and Sat 09:00-17:00 (Europe/Vienna time), so nobody can answer "
        "right now. Leave your message here and an agent will reply in this chat when we "
        "open on Monday 17 March at 08:00."
    ]


@pytest.mark.asyncio
async def test_a_button_click_is_not_scored_but_named_on_the_ticket(
    action: ActionMonitorTurn, store: HandoffStore
) -> None:
    earlier = [point("hi", "neutral", 0.0, 300)]
    tracker = turn(
        SlotSet("sentiment_trail", earlier),
        user("/request_human", "request_human", 60),
    )
    events, _ = await run(action, tracker)
    assert events == [
        SlotSet("sentiment_trail", earlier),
        SlotSet("handoff_active", True),
        SlotSet("handoff_ticket_id", 1.0),
    ]
    assert timeline(store, 1) == [("customer", "[Button] Talk to a person")]


@pytest.mark.asyncio
async def test_two_negative_messages_of_three_escalate(
    action: ActionMonitorTurn, store: HandoffStore
) -> None:
    earlier = [
        point("this is really disappointing", "negative", -0.5413, 180),
        point("ok", "positive", 0.296, 120),
    ]
    tracker = turn(SlotSet("sentiment_trail", earlier), user("that is not good", "inform", 60))
    events, replies = await run(action, tracker)
    assert events[1:] == [SlotSet("handoff_active", True), SlotSet("handoff_ticket_id", 1.0)]
    assert replies[0].startswith("I'm sorry this hasn't gone well so far.")
    assert store.ticket_detail(1).summary.reason == "sustained_negative"


@pytest.mark.asyncio
async def test_one_negative_message_of_three_does_not(
    action: ActionMonitorTurn, database: Database
) -> None:
    earlier = [point("hello", "neutral", 0.0, 180), point("ok", "positive", 0.296, 120)]
    tracker = turn(SlotSet("sentiment_trail", earlier), user("that is not good", "inform", 60))
    events, replies = await run(action, tracker)
    assert events == [
        SlotSet("sentiment_trail", [*earlier, point("that is not good", "negative", -0.3412, 60)])
    ]
    assert replies == []
    assert ticket_count(database) == 0


@pytest.mark.asyncio
async def test_two_messages_not_understood_in_a_row_escalate(
    action: ActionMonitorTurn, store: HandoffStore
) -> None:
    tracker = turn(
        user("blorp fizzle", "nlu_fallback", 120),
        ActionExecuted("action_fallback_suggestions"),
        bot("Sorry, I didn't quite get that. Could you rephrase it?", 119),
        UserUtteranceReverted(),
        ActionExecuted("action_listen"),
        user("wibble the sprocket", "nlu_fallback", 60),
    )
    events, replies = await run(action, tracker)
    assert events[1:] == [SlotSet("handoff_active", True), SlotSet("handoff_ticket_id", 1.0)]
    assert replies[0].startswith("Sorry, I'm having trouble understanding you.")
    assert store.ticket_detail(1).summary.reason == "repeated_fallback"


@pytest.mark.asyncio
async def test_one_message_not_understood_does_not_escalate(action: ActionMonitorTurn) -> None:
    tracker = turn(user("hi", "greet", 120), user("wibble the sprocket", "nlu_fallback", 60))
    events, replies = await run(action, tracker)
    assert events == [
        SlotSet("sentiment_trail", [point("wibble the sprocket", "neutral", 0.0, 60)])
    ]
    assert replies == []


@pytest.mark.asyncio
async def test_recommended_products_go_on_the_ticket(
    tmp_path: Path, clock: Clock, database: Database, store: HandoffStore
) -> None:
    with database.session() as session, session.begin():
        seed_catalogue(session, NOW)
    action = make_action(store, tmp_path, clock)
    tracker = turn(
        SlotSet("recommended_skus", ["HPH-10353", "NOT-A-SKU"]),
        user(FURIOUS, "complaint", 60),
    )
    await run(action, tracker)
    products = store.ticket_detail(1).recommended
    assert [(p.sku, p.price, p.currency) for p in products] == [("HPH-10353", 329.0, "EUR")]
    assert products[0].title == "Sony WH-1000XM5 Wireless Noise Cancelling Headphones"


# --- during a handoff ------------------------------------------------------------------------


async def escalated(action: ActionMonitorTurn) -> List[Dict[str, Any]]:
    """The events of a conversation that has just been handed over."""
    first = [user(FURIOUS, "complaint", 120)]
    events, _ = await run(action, turn(*first))
    return [*first, *events, ActionExecuted("action_listen")]


@pytest.mark.asyncio
async def test_during_a_handoff_messages_go_to_the_ticket_and_the_bot_says_nothing(
    action: ActionMonitorTurn, store: HandoffStore
) -> None:
    history = await escalated(action)
    events, replies = await run(
        action, turn(*history, user("please, I need my refund", "request_human", 60))
    )
    assert events == [
        SlotSet(
            "sentiment_trail",
            [
                point(FURIOUS, "negative", -0.7351, 120),
                point("please, I need my refund", "positive", 0.3182, 60),
            ],
        )
    ]
    assert replies == []
    assert timeline(store, 1) == [
        ("customer", FURIOUS),
        ("customer", "please, I need my refund"),
    ]
    assert store.ticket_detail(1).sentiment_trail[-1].text == "please, I need my refund"


@pytest.mark.asyncio
async def test_a_second_escalation_while_one_is_open_reuses_the_ticket(
    action: ActionMonitorTurn, store: HandoffStore, database: Database
) -> None:
    first, _ = await run(action, turn(user(FURIOUS, "complaint", 120)))
    # The slot got lost (a restart of the conversation, say): the store still
    # has the open ticket and hands it back instead of opening another.
    second, replies = await run(
        action, turn(user("I hate this, worst service ever", "complaint", 60))
    )
    assert (
        first[1:]
        == second[1:]
        == [
            SlotSet("handoff_active", True),
            SlotSet("handoff_ticket_id", 1.0),
        ]
    )
    assert replies[0].endswith(
        "You're number 1 in the queue. No agent is online at the "
        "moment, so I can't say how long it will take: leave your message here and an agent "
        "will reply in this chat as soon as one is free."
    )
    assert ticket_count(database) == 1


@pytest.mark.asyncio
async def test_a_ticket_closed_meanwhile_lets_the_bot_answer_again(
    action: ActionMonitorTurn, store: HandoffStore, database: Database
) -> None:
    history = await escalated(action)
    with database.session() as session, session.begin():
        ticket = session.get(TicketRow, 1)
        ticket.status = "closed"
        ticket.open_conversation = None
    events, replies = await run(action, turn(*history, user("hello?", "greet", 60)))
    assert events == [
        SlotSet(
            "sentiment_trail",
            [point(FURIOUS, "negative", -0.7351, 120), point("hello?", "neutral", 0.0, 60)],
        ),
        SlotSet("handoff_active", False),
        SlotSet("handoff_ticket_id", None),
    ]
    assert replies == []
    assert ticket_count(database) == 1


@pytest.mark.asyncio
async def test_after_the_hand_back_earlier_signals_no_longer_count(
    action: ActionMonitorTurn, database: Database
) -> None:
    history = await escalated(action)
    handed_back = [
        *history,
        user("wibble", "nlu_fallback", 100),
        ActionExecuted("action_listen"),
        SlotSet("handoff_active", False, timestamp=ts(90)),
        SlotSet("handoff_ticket_id", None, timestamp=ts(90)),
        bot("You're back with the virtual assistant.", 90, handoff={"handback": True}),
    ]
    trail = [point(FURIOUS, "negative", -0.7351, 120), point("wibble", "neutral", 0.0, 100)]
    # Negative again, and not understood again: but the negative message and
    # the fallback before the hand back belong to the handoff.
    tracker = turn(
        *handed_back,
        SlotSet("sentiment_trail", trail),
        user("that is not good", "nlu_fallback", 60),
    )
    events, replies = await run(action, tracker)
    assert events == [
        SlotSet("sentiment_trail", [*trail, point("that is not good", "negative", -0.3412, 60)])
    ]
    assert replies == []
    assert ticket_count(database) == 1


@pytest.mark.asyncio
async def test_on_postgresql_a_furious_message_opens_one_ticket(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    database = Database(Settings(database_url=postgres_url), seeders=[])
    try:
        store = HandoffStore(database, settings=HANDOFF_SETTINGS, clock=clock)
        action = make_action(store, tmp_path, clock)
        first, _ = await run(action, turn(user(FURIOUS, "complaint", 120)))
        second, _ = await run(
            action, turn(user("I hate this, worst service ever", "complaint", 60))
        )
        ticket_id = store.active_ticket_id("customer-1")
        assert ticket_id is not None
        assert (
            first[1:]
            == second[1:]
            == [
                SlotSet("handoff_active", True),
                SlotSet("handoff_ticket_id", float(ticket_id)),
            ]
        )
        assert ticket_count(database) == 1
    finally:
        database.dispose()


# --- failures --------------------------------------------------------------------------------


@pytest.fixture
def down_store(unreachable_settings: Settings, clock: Clock) -> Iterator[HandoffStore]:
    database = Database(unreachable_settings, seeders=[])
    yield HandoffStore(database, settings=HANDOFF_SETTINGS, clock=clock)
    database.dispose()


@pytest.mark.asyncio
async def test_database_down_asking_for_a_person_is_answered_honestly(
    down_store: HandoffStore, tmp_path: Path, clock: Clock
) -> None:
    action = make_action(down_store, tmp_path, clock)
    events, replies = await run(action, turn(user("/request_human", "request_human", 60)))
    assert events == [SlotSet("sentiment_trail", [])]
    assert replies == [messages.REQUEST_UNAVAILABLE]


@pytest.mark.asyncio
async def test_database_down_an_upset_customer_is_told_and_the_bot_carries_on(
    down_store: HandoffStore, tmp_path: Path, clock: Clock
) -> None:
    action = make_action(down_store, tmp_path, clock)
    events, replies = await run(action, turn(user(FURIOUS, "complaint", 60)))
    assert events == [SlotSet("sentiment_trail", [point(FURIOUS, "negative", -0.7351, 60)])]
    assert replies == [messages.ESCALATION_UNAVAILABLE]


@pytest.mark.asyncio
async def test_database_down_during_a_handoff_the_customer_is_asked_to_resend(
    down_store: HandoffStore, tmp_path: Path, clock: Clock
) -> None:
    action = make_action(down_store, tmp_path, clock)
    tracker = turn(
        SlotSet("handoff_active", True),
        SlotSet("handoff_ticket_id", 1.0),
        user("still waiting", "inform", 60),
    )
    events, replies = await run(action, tracker)
    assert events == [SlotSet("sentiment_trail", [point("still waiting", "neutral", 0.0, 60)])]
    assert replies == [messages.MESSAGE_NOT_PASSED_ON]


class ExplodingStore(HandoffStore):
    def open_ticket(self, request: HandoffRequest) -> QueueStatus:
        raise RuntimeError("bug")


@pytest.mark.asyncio
async def test_an_unexpected_error_never_fails_the_turn(
    database: Database, tmp_path: Path, clock: Clock
) -> None:
    action = make_action(ExplodingStore(database, settings=HANDOFF_SETTINGS), tmp_path, clock)
    assert await run(action, turn(user(FURIOUS, "complaint", 60))) == ([], [])


class ThreadRecordingStore(HandoffStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.threads: List[int] = []

    def open_ticket(self, request: HandoffRequest) -> QueueStatus:
        self.threads.append(threading.get_ident())
        return super().open_ticket(request)


@pytest.mark.asyncio
async def test_the_store_is_called_off_the_event_loop(
    database: Database, tmp_path: Path, clock: Clock
) -> None:
    store = ThreadRecordingStore(database, settings=HANDOFF_SETTINGS, clock=clock)
    await run(make_action(store, tmp_path, clock), turn(user(FURIOUS, "complaint", 60)))
    assert len(store.threads) == 1
    assert store.threads[0] != threading.get_ident()


def test_constructing_the_action_touches_nothing() -> None:
    action = ActionMonitorTurn()
    assert (action._scorer, action._store, action._catalogue, action._policy) == (
        None,
        None,
        None,
        None,
    )
