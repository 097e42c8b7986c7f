"""Fixtures for the action server's tests: temporary databases and real trackers.

Settings and repositories are handed to the code under test through its
constructor arguments; nothing global is patched.
"""

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from actions.db import Database
from actions.orders import OrderRepository
from actions.settings import Settings

# A Friday; the sample orders are dated relative to it.
NOW = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)

FORM_DOMAIN: Dict[str, Any] = {
    "forms": {
        "order_status_form": {"required_slots": ["order_id"]},
        "return_form": {"required_slots": ["order_id"]},
    },
    "slots": {
        "order_id": {
            "type": "text",
            "influence_conversation": False,
            "mappings": [{"type": "from_entity", "entity": "order_id"}],
        },
        "order_id_attempts": {
            "type": "float",
            "influence_conversation": False,
            "mappings": [{"type": "custom"}],
        },
        "requested_slot": {"type": "any", "mappings": []},
    },
}


def fixed_clock() -> datetime:
    return NOW


def sqlite_settings(path: Path, **overrides: Any) -> Settings:
    return Settings(database_url=f"sqlite:///{path}", **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a SQLite file in a directory that does not exist yet."""
    return sqlite_settings(tmp_path / "data" / "assistant.db")


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database(settings, clock=fixed_clock)
    yield db
    db.dispose()


@pytest.fixture
def repository(database: Database) -> OrderRepository:
    return OrderRepository(database)


@pytest.fixture(scope="session")
def seeded_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderRepository]:
    """A migrated database holding the sample orders seeded at NOW (read-only)."""
    db = Database(
        sqlite_settings(tmp_path_factory.mktemp("seeded") / "orders.db"), clock=fixed_clock
    )
    repository = OrderRepository(db)
    repository.count()
    yield repository
    db.dispose()


@pytest.fixture
def unreachable_settings() -> Settings:
    """Settings for a PostgreSQL server that is not there (nothing listens on port 1)."""
    return Settings(database_url="postgresql://postgres@127.0.0.1:1/shop?connect_timeout=2")


def user_message(
    text: str,
    intent: str = "inform",
    entities: Optional[List[Dict[str, Any]]] = None,
    intent_ranking: Optional[List[Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """Parse data as Rasa's NLU produces it."""
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "intent_ranking": intent_ranking or [{"name": intent, "confidence": 0.9}],
    }


def order_id_entity(value: str) -> Dict[str, Any]:
    return {"entity": "order_id", "value": value, "start": 0, "end": len(value)}


def make_tracker(
    events: List[Dict[str, Any]],
    latest_message: Optional[Dict[str, Any]] = None,
    active_loop: Optional[str] = None,
) -> Tracker:
    """A tracker whose slots are those the events set, like Rasa sends it."""
    slots: Dict[str, Any] = {}
    for event in events:
        if event["event"] == "slot":
            slots[event["name"]] = event["value"]
    return Tracker(
        sender_id="customer-1",
        slots=slots,
        latest_message=latest_message or {},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name=next(
            (e["name"] for e in reversed(events) if e["event"] == "action"), None
        ),
    )


def form_turn(
    form: str,
    text: str,
    *,
    intent: str = "inform",
    entity: Optional[str] = None,
    earlier_attempts: int = 0,
    activation: bool = False,
) -> Tracker:
    """The tracker a form's validation action receives for one customer message.

    Mirrors Rasa's temporary tracker: the conversation so far, then
    ``requested_slot``, the form's ``ActionExecuted`` and the slot candidates.

    Args:
        form: The form's name.
        text: What the customer typed.
        intent: The message's intent.
        entity: The ``order_id`` entity value extracted from the message, if any.
        earlier_attempts: Failed order numbers already given in this form run.
        activation: Validate at activation (the message triggered the form).
    """
    entities = [order_id_entity(entity)] if entity else []
    message = user_message(text, intent, entities)
    events: List[Dict[str, Any]] = [ActionExecuted("action_listen")]
    if not activation:
        events += [
            UserUttered("I need help with my order", user_message("I need help", "order_status")),
            ActionExecuted(form),
            ActiveLoop(form),
            SlotSet("requested_slot", "order_id"),
            BotUttered("What's your order number?"),
        ]
        for attempt in range(1, earlier_attempts + 1):
            events += [
                ActionExecuted("action_listen"),
                UserUttered(f"wrong number {attempt}", user_message("wrong")),
                ActionExecuted(form),
                SlotSet("order_id", None),
                SlotSet("order_id_attempts", float(attempt)),
                BotUttered("I couldn't find that order."),
            ]
        events.append(ActionExecuted("action_listen"))
    events.append(UserUttered(text, message))
    if entity:
        events.append(SlotSet("order_id", entity))  # action_extract_slots
    events += [
        SlotSet("requested_slot", None if activation else "order_id"),
        ActionExecuted(form),
    ]
    if entity:
        events.append(SlotSet("order_id", entity))
    return make_tracker(events, latest_message=message, active_loop=None if activation else form)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def form_domain() -> Dict[str, Any]:
    return FORM_DOMAIN


@pytest.fixture
def build_tracker() -> Callable[..., Tracker]:
    return make_tracker


@pytest.fixture
def parse_data() -> Callable[..., Dict[str, Any]]:
    return user_message


@pytest.fixture
def tracker_for_form_turn() -> Callable[..., Tracker]:
    return form_turn


@pytest.fixture
def tracker_with_order_id() -> Callable[..., Tracker]:
    """A tracker right after a form filled ``order_id`` (the submit action's view)."""

    def build(order_id: Optional[str], *extra_events: Dict[str, Any]) -> Tracker:
        events = [
            ActionExecuted("action_listen"),
            UserUttered("where is my order?", user_message("where is my order?", "order_status")),
            ActionExecuted("order_status_form"),
            ActiveLoop("order_status_form"),
            SlotSet("requested_slot", "order_id"),
            BotUttered("What's your order number?"),
            ActionExecuted("action_listen"),
            UserUttered(str(order_id), user_message(str(order_id))),
            ActionExecuted("order_status_form"),
            SlotSet("order_id", order_id),
            *extra_events,
            SlotSet("requested_slot", None),
            ActiveLoop(None),
        ]
        return make_tracker(events, latest_message=user_message(str(order_id)))

    return build


POSTGRES_URL = os.environ.get(
    "ACTIONS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database, dropped afterwards.

    Skips the test with the reason when no server is reachable.
    """
    admin = create_engine(
        POSTGRES_URL, future=True, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        connection = admin.connect()
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL server reachable at {POSTGRES_URL}: {exc.orig}")
    name = f"assistant_test_{uuid.uuid4().hex[:12]}"
    with connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
