"""The production tracker store's round trips to a real PostgreSQL, recorded on the wire."""

import asyncio
import time
import uuid
from typing import Iterator, Tuple

import pytest
import sqlalchemy
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from sqlalchemy.engine import make_url

from bot.prod.tracker_store import SingleReadSQLTrackerStore, make_tracker_store_strict
from tests.bot.prod.test_tracker_store import DOMAIN, Agent
from tests.pg_statements import StatementRecorder

LOAD = "SELECT events.data FROM events WHERE events.sender_id = "
INSERT = "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "


@pytest.fixture
def recorder(postgres_url: str) -> Iterator[StatementRecorder]:
    proxy = StatementRecorder.in_front_of(postgres_url)
    yield proxy
    proxy.close()


def strict_store(
    postgres_url: str, recorder: StatementRecorder, ping_after_idle_s: float
) -> Tuple[SingleReadSQLTrackerStore, Agent]:
    """The store as production mode runs it: through the recorder, made strict."""
    url = make_url(recorder.proxied(postgres_url))
    store = SingleReadSQLTrackerStore(
        DOMAIN,
        dialect="postgresql",
        host=url.host,
        port=url.port,
        db=url.database,
        username=url.username,
    )
    agent = Agent(FailSafeTrackerStore(store))
    make_tracker_store_strict(agent, ping_after_idle_s=ping_after_idle_s)
    return store, agent


async def a_conversation(store: SingleReadSQLTrackerStore) -> str:
    sender = f"ana-{uuid.uuid4().hex}"
    tracker = await store.get_or_create_tracker(sender)
    tracker.update(UserUttered("hi"))
    await store.save(tracker)
    return sender


@pytest.mark.asyncio
async def test_a_message_costs_one_select_and_one_insert(
    postgres_url: str, recorder: StatementRecorder
) -> None:
    store, _ = strict_store(postgres_url, recorder, ping_after_idle_s=60)
    sender = await a_conversation(store)
    recorder.clear()

    tracker = await store.retrieve(sender)  # what the processor does per message
    assert tracker is not None
    tracker.update(BotUttered("Hello!"))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)

    statements = recorder.statements
    # No BEGIN, COMMIT, ROLLBACK or SELECT 1 around them: autocommit, and the
    # connections were used a moment ago.
    assert len(statements) == 2, statements
    assert statements[0].startswith(LOAD)
    assert statements[1].startswith(INSERT)
    assert statements[1].count(f"'{sender}'") == 2  # both events in one statement
    stored = await store.retrieve(sender)
    assert [e.as_dict()["event"] for e in stored.events][-3:] == ["user", "bot", "action"]


@pytest.mark.asyncio
async def test_a_connection_idle_for_a_while_is_pinged_first(
    postgres_url: str, recorder: StatementRecorder
) -> None:
    store, _ = strict_store(postgres_url, recorder, ping_after_idle_s=0.2)
    sender = await a_conversation(store)
    await asyncio.sleep(0.3)
    recorder.clear()
    assert await store.retrieve(sender) is not None
    assert recorder.statements[0] == "SELECT 1"
    assert recorder.statements[1].startswith(LOAD)
    recorder.clear()
    assert await store.retrieve(sender) is not None  # just used: no ping
    assert len(recorder.statements) == 1


@pytest.mark.asyncio
async def test_connections_closed_by_a_restart_are_replaced_before_use(
    postgres_url: str, recorder: StatementRecorder
) -> None:
    store, _ = strict_store(postgres_url, recorder, ping_after_idle_s=0.2)
    sender = await a_conversation(store)
    recorder.drop_connections()  # the database restarts
    time.sleep(0.3)
    tracker = await store.retrieve(sender)
    assert tracker is not None and tracker.latest_message.text == "hi"


@pytest.mark.asyncio
async def test_within_the_idle_time_a_restart_fails_one_statement_then_recovers(
    postgres_url: str, recorder: StatementRecorder
) -> None:
    # The case the idle ping leaves out (actions/db_connections.py): the
    # message is refused once, and the pool is renewed without anyone's help.
    store, _ = strict_store(postgres_url, recorder, ping_after_idle_s=60)
    sender = await a_conversation(store)
    recorder.drop_connections()
    with pytest.raises(sqlalchemy.exc.OperationalError):
        await store.retrieve(sender)
    tracker = await store.retrieve(sender)
    assert tracker is not None and tracker.latest_message.text == "hi"
