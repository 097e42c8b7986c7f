"""Production makes Rasa's tracker store strict: an outage raises instead of forgetting."""

from pathlib import Path
from typing import Any, Optional

import pytest
from rasa.core.tracker_store import (
    FailSafeTrackerStore,
    InMemoryTrackerStore,
    SQLTrackerStore,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.prod.tracker_store import make_tracker_store_strict

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
async def test_sql_connections_are_checked_before_use(tmp_path: Path) -> None:
    primary = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "trackers.db"))
    old_engine = primary.engine
    agent = Agent(FailSafeTrackerStore(primary))
    make_tracker_store_strict(agent)
    assert primary.engine is not old_engine
    assert primary.engine.url == old_engine.url
    assert primary.engine.pool._pre_ping is True  # SQLAlchemy keeps the flag on the pool
    tracker = DialogueStateTracker.from_events("c-1", [UserUttered("hi")])
    await agent.tracker_store.save(tracker)
    stored = await agent.tracker_store.retrieve("c-1")
    assert stored is not None and stored.latest_message.text == "hi"
