"""Production makes Rasa's tracker store strict: an outage raises instead of forgetting."""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
import sqlalchemy
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import (
    FailSafeTrackerStore,
    InMemoryTrackerStore,
    SQLTrackerStore,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from bot.prod.tracker_store import SingleReadSQLTrackerStore, make_tracker_store_strict

DOMAIN = Domain.from_yaml('version: "3.1"\nintents: [greet]')


class DownStore(InMemoryTrackerStore):
    """A store whose database is down."""

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        raise OSError("could not connect to server: Connection refused")

    async def save(self, tracker: DialogueStateTracker) -> None:
        raise OSError("could not connect to server: Connection refused")


class Processor:
    def __init__(self, tracker_store: Any) -> None:
        self.tracker_store = tracker_store


class Agent:
    def __init__(self, tracker_store: Any) -> None:
        self.tracker_store = tracker_store
        self.processor = Processor(tracker_store)


@pytest.mark.asyncio
async def test_rasa_alone_forgets_the_conversation_during_an_outage() -> None:
    # What production mode prevents: no error, no history, the turn kept in memory.
    store = FailSafeTrackerStore(DownStore(DOMAIN))
    assert await store.retrieve("c-1") is None
    await store.save(DialogueStateTracker.from_events("c-1", [UserUttered("hi")]))
    assert await store.fallback_tracker_store.retrieve("c-1") is not None


@pytest.mark.asyncio
async def test_the_strict_store_raises_so_the_message_is_refused() -> None:
    primary = DownStore(DOMAIN)
    agent = Agent(FailSafeTrackerStore(primary))
    assert make_tracker_store_strict(agent) is True
    assert agent.tracker_store is primary and agent.processor.tracker_store is primary
    with pytest.raises(OSError, match="Connection refused"):
        await agent.tracker_store.retrieve("c-1")
    with pytest.raises(OSError, match="Connection refused"):
        await agent.tracker_store.save(DialogueStateTracker.from_events("c-1", []))
    assert make_tracker_store_strict(agent) is False


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "store_class, isolation_level",
    [(SQLTrackerStore, None), (SingleReadSQLTrackerStore, "AUTOCOMMIT")],
)
async def test_sql_connections_are_renewed_keeping_the_store_s_isolation_level(
    tmp_path: Path, store_class: type, isolation_level: Optional[str]
) -> None:
    # Idle connections are then pinged before use: tests/bot/prod/test_tracker_store_postgres.py.
    primary = store_class(DOMAIN, dialect="sqlite", db=str(tmp_path / "trackers.db"))
    old_engine = primary.engine
    assert old_engine.dialect.isolation_level == isolation_level
    agent = Agent(FailSafeTrackerStore(primary))
    make_tracker_store_strict(agent)
    assert primary.engine is not old_engine
    assert primary.engine.url == old_engine.url
    assert primary.engine.dialect.isolation_level == isolation_level
    assert primary.engine.pool._pre_ping is False  # a ping per checkout no more
    tracker = DialogueStateTracker.from_events("c-1", [UserUttered("hi")])
    await agent.tracker_store.save(tracker)
    stored = await agent.tracker_store.retrieve("c-1")
    assert stored is not None and stored.latest_message.text == "hi"


class RecordingBroker(EventBroker):
    def __init__(self) -> None:
        self.published: List[Dict[str, Any]] = []

    def publish(self, event: Dict[str, Any]) -> None:
        self.published.append(event)


async def _two_turns(store: SQLTrackerStore) -> List[List[Dict[str, Any]]]:
    """Saves a conversation after each of two turns and a new session; what was published."""
    broker = store.event_broker
    assert isinstance(broker, RecordingBroker)
    turns = [
        [ActionExecuted("action_session_start"), SessionStarted(), UserUttered("hi")],
        [BotUttered("Hello!"), ActionExecuted("action_listen"), UserUttered("bye")],
        [ActionExecuted("action_session_start"), SessionStarted(), UserUttered("back")],
    ]
    published = []
    for events in turns:
        tracker = await store.retrieve("c-1") or DialogueStateTracker("c-1", DOMAIN.slots)
        for event in events:
            tracker.update(event)
        broker.published.clear()
        await store.save(tracker)
        published.append([dict(e, timestamp=None) for e in broker.published])
    return published


@pytest.mark.asyncio
async def test_single_read_store_publishes_what_rasa_publishes_without_reading_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rasa_store = SQLTrackerStore(
        DOMAIN, dialect="sqlite", db=str(tmp_path / "a.db"), event_broker=RecordingBroker()
    )
    ours = SingleReadSQLTrackerStore(
        DOMAIN, dialect="sqlite", db=str(tmp_path / "b.db"), event_broker=RecordingBroker()
    )
    expected = await _two_turns(rasa_store)
    reads: List[str] = []
    original = SingleReadSQLTrackerStore.retrieve

    async def counting_retrieve(self: Any, sender_id: str) -> Any:
        reads.append(sender_id)
        return await original(self, sender_id)

    monkeypatch.setattr(SingleReadSQLTrackerStore, "retrieve", counting_retrieve)
    assert await _two_turns(ours) == expected
    assert [e["event"] for e in expected[1]] == ["bot", "action", "user"]
    assert [e["text"] for e in expected[2] if e["event"] == "user"] == ["back"]
    assert reads == ["c-1"] * 3  # the test's own reads: save() adds none
    stored = await ours.retrieve_full_tracker("c-1")
    assert stored is not None
    assert [e.as_dict()["event"] for e in stored.events] == [
        "action", "session_started", "user", "bot", "action", "user",
        "action", "session_started", "user",
    ]  # fmt: skip

    # Saving the tracker retrieve() loaded queries nothing: the count is what
    # was loaded (Rasa's own save: a full read to publish, then a count to insert).
    queries: List[str] = []

    def record_select(*args: Any) -> None:
        statement = args[2]
        if statement.lstrip().upper().startswith("SELECT"):
            queries.append("count" if "count(" in statement.lower() else "read")

    tracker = await ours.retrieve("c-1")
    assert tracker is not None
    tracker.update(UserUttered("again"))
    sqlalchemy.event.listen(ours.engine, "before_cursor_execute", record_select)
    await ours.save(tracker)
    assert queries == []
    # Nor does a second save of it; a tracker built otherwise is counted.
    tracker.update(UserUttered("once more"))
    await ours.save(tracker)
    assert queries == []
    rebuilt = DialogueStateTracker.from_dict("c-1", [e.as_dict() for e in tracker.events])
    rebuilt.update(UserUttered("rebuilt"))
    await ours.save(rebuilt)
    assert queries == ["count"]
    sqlalchemy.event.remove(ours.engine, "before_cursor_execute", record_select)
    stored = await ours.retrieve("c-1")
    assert stored is not None
    assert [e.text for e in stored.events if isinstance(e, UserUttered)] == [
        "back", "again", "once more", "rebuilt",
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_a_new_conversation_is_counted_once_when_created_not_when_saved_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SingleReadSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "n.db"))
    counted: List[str] = []
    original = SingleReadSQLTrackerStore._stored_count

    def counting(self: Any, session: Any, sender_id: str) -> int:
        counted.append(sender_id)
        return original(self, session, sender_id)

    monkeypatch.setattr(SingleReadSQLTrackerStore, "_stored_count", counting)
    # As Rasa's processor does for a new sender: create (saved), then save.
    tracker = await store.get_or_create_tracker("new")
    assert counted == ["new"]
    tracker.update(UserUttered("hi"))
    await store.save(tracker)
    tracker.update(BotUttered("Hello!"))
    await store.save(tracker)
    assert counted == ["new"]
    stored = await store.retrieve("new")
    assert stored is not None
    assert [e.as_dict()["event"] for e in stored.events] == ["action", "user", "bot"]


@pytest.mark.asyncio
async def test_loading_and_counting_give_exactly_what_rasa_s_query_gives(tmp_path: Path) -> None:
    store = SingleReadSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "q.db"))
    rasa_store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "q.db"))
    conversations = {
        "one-session": [UserUttered("hi"), BotUttered("Hello!")],
        "two-sessions": [
            ActionExecuted("action_session_start", timestamp=1.0),
            SessionStarted(timestamp=2.0),
            UserUttered("first", timestamp=3.0),
            ActionExecuted("action_session_start", timestamp=4.0),
            SessionStarted(timestamp=5.0),
            UserUttered("second", timestamp=6.0),
            BotUttered("again", timestamp=6.0),
        ],
        "other": [UserUttered("not mine")],
    }
    for sender, events in conversations.items():
        await store.save(DialogueStateTracker.from_events(sender, events))
    for sender in [*conversations, "unknown"]:
        for all_sessions in (False, True):
            ours = await store._retrieve(sender, fetch_events_from_all_sessions=all_sessions)
            rasas = await rasa_store._retrieve(sender, fetch_events_from_all_sessions=all_sessions)
            assert (ours is None) == (rasas is None) == (sender == "unknown")
            if ours is not None and rasas is not None:
                assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in rasas.events]
        with store.session_scope() as session:
            rasa_count = rasa_store._event_query(session, sender, False).count()
            assert store._stored_count(session, sender) == rasa_count
    latest = await store.retrieve("two-sessions")
    assert latest is not None
    assert [e.as_dict()["event"] for e in latest.events] == ["session_started", "user", "bot"]


@pytest.mark.asyncio
async def test_a_conversation_saved_by_another_instance_is_reloaded_before_saving(
    tmp_path: Path,
) -> None:
    database = str(tmp_path / "shared.db")
    first = SingleReadSQLTrackerStore(DOMAIN, dialect="sqlite", db=database)
    second = SingleReadSQLTrackerStore(DOMAIN, dialect="sqlite", db=database)
    await first.save(DialogueStateTracker.from_events("c-3", [UserUttered("hi")]))
    stale = await first.retrieve("c-3")  # an API read on the first instance
    assert stale is not None
    on_second = await second.retrieve("c-3")
    assert on_second is not None
    on_second.update(UserUttered("from the second"))
    await second.save(on_second)
    # The next message reaches the first instance: it loads again, under the lock.
    fresh = await first.retrieve("c-3")
    assert fresh is not None
    fresh.update(UserUttered("from the first"))
    await first.save(fresh)
    # The stale tracker, saved later, is counted in the database as Rasa counts
    # (three stored events, it holds two): nothing of it is appended out of order.
    stale.update(UserUttered("late"))
    await first.save(stale)
    stored = await second.retrieve("c-3")
    assert stored is not None
    assert [e.text for e in stored.events] == ["hi", "from the second", "from the first"]


def _rows(store: SQLTrackerStore) -> List[Tuple[Any, ...]]:
    """The stored rows without ids; timestamps (the two runs differ) checked, then dropped."""
    table = store.SQLEvent.__table__
    columns = [c for c in table.columns if c.name != "id"]
    with store.session_scope() as session:
        rows = [row._asdict() for row in session.execute(select(*columns).order_by(table.c.id))]
    for row in rows:
        data = json.loads(row.pop("data"))
        assert data.pop("timestamp") == row.pop("timestamp") > 0
        row["data"] = data
    return [tuple(row.values()) for row in rows]


@pytest.mark.asyncio
async def test_single_read_store_writes_rasa_s_rows_in_one_insert_per_save(
    tmp_path: Path,
) -> None:
    rasa_store = SQLTrackerStore(
        DOMAIN, dialect="sqlite", db=str(tmp_path / "a.db"), event_broker=RecordingBroker()
    )
    ours = SingleReadSQLTrackerStore(
        DOMAIN, dialect="sqlite", db=str(tmp_path / "b.db"), event_broker=RecordingBroker()
    )
    inserts: List[bool] = []

    def record(*args: Any) -> None:
        statement, many = args[2], args[5]
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(many)

    sqlalchemy.event.listen(ours.engine, "before_cursor_execute", record)
    await _two_turns(rasa_store)
    await _two_turns(ours)
    rows = _rows(ours)
    assert len(rows) == 9 and rows == _rows(rasa_store)
    # sender, type, intent, action, data, as Rasa writes them
    assert rows[2][:2] == ("c-1", "user") and rows[2][-1]["text"] == "hi"
    assert rows[4][:2] == ("c-1", "action") and rows[4][3] == "action_listen"
    assert inserts == [True, True, True]  # one executemany per save, 3 events each


@pytest.mark.asyncio
async def test_single_read_store_loads_from_the_production_endpoints(tmp_path: Path) -> None:
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import EndpointConfig

    config = EndpointConfig(
        type="bot.prod.tracker_store.SingleReadSQLTrackerStore",
        dialect="sqlite",
        db=str(tmp_path / "c.db"),
    )
    store = TrackerStore.create(config, DOMAIN)
    assert isinstance(store, SingleReadSQLTrackerStore)
    endpoints = Path(__file__).resolve().parents[3] / "deploy" / "endpoints.prod.yml"
    assert "type: bot.prod.tracker_store.SingleReadSQLTrackerStore" in endpoints.read_text()


@pytest.mark.asyncio
async def test_single_read_store_without_a_broker_saves_like_rasa(tmp_path: Path) -> None:
    store = SingleReadSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "d.db"))
    tracker = DialogueStateTracker.from_events("c-2", [UserUttered("hi")])
    await store.save(tracker)
    tracker.update(BotUttered("Hello!"))
    await store.save(tracker)
    await store.save(tracker)  # nothing new: nothing inserted twice
    stored = await store.retrieve("c-2")
    assert stored is not None
    assert [e.as_dict()["event"] for e in stored.events] == ["user", "bot"]
