"""The turn monitor as Rasa runs it: from ``action_extract_slots``, over HTTP.

A small aiohttp server plays the action server (it hands each call to rasa-sdk's
``ActionExecutor``, as ``rasa run actions`` does); Rasa's own
``ActionExtractSlots`` calls it with the project's domain. This checks what the
unit tests cannot: that Rasa keeps the monitor's reply and slots.
"""

from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.core.actions.action import ActionExtractSlots
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import ActionExecutor

from actions.catalogue_store import CatalogueRepository
from actions.db import Database
from actions.escalation import EscalationPolicy
from actions.handoff_actions import ActionMonitorTurn
from actions.sentiment import SentimentScorer
from actions.settings import Settings
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HandoffStore

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
FURIOUS = "This is ridiculous, I am furious"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(Settings(database_url=f"sqlite:///{tmp_path / 'assistant.db'}"), seeders=[])
    yield db
    db.dispose()


@pytest_asyncio.fixture
async def action_server(database: Database, tmp_path: Path) -> AsyncIterator[str]:
    executor = ActionExecutor()
    executor.register_action(
        ActionMonitorTurn(
            scorer=SentimentScorer(tmp_path / "no-model"),
            store=HandoffStore(database, settings=HandoffSettings(), clock=lambda: NOW),
            catalogue=CatalogueRepository(database),
            policy=EscalationPolicy(),
            clock=lambda: NOW,
        )
    )

    async def webhook(request: web.Request) -> web.Response:
        return web.json_response(await executor.run(await request.json()))

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("/webhook"))
    finally:
        await server.close()


async def extract_slots(url: str, tracker: DialogueStateTracker) -> list:
    action = ActionExtractSlots(EndpointConfig(url))
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    return await action.run(CollectingOutputChannel(), nlg, tracker, DOMAIN)


def message(text: str, intent: str) -> UserUttered:
    return UserUttered(
        text,
        {"name": intent, "confidence": 0.9},
        [],
        timestamp=NOW.timestamp() - 60,
        input_channel="rest",
    )


@pytest.mark.asyncio
async def test_rasa_keeps_the_escalation_reply_and_the_handoff_slots(action_server: str) -> None:
    tracker = DialogueStateTracker.from_events(
        "customer-9",
        [ActionExecuted("action_listen"), message(FURIOUS, "complaint")],
        slots=DOMAIN.slots,
    )
    events = await extract_slots(action_server, tracker)

    replies = [event for event in events if isinstance(event, BotUttered)]
    slots = {event.key: event.value for event in events if isinstance(event, SlotSet)}
    assert [reply.text for reply in replies] == [
        "I'm really sorry about this. I'm bringing in a person from our team who can sort it "
        "out with you. You're number 1 in the queue. No agent is online at the moment, so I "
        "can't say how long it will take: leave your message here and an agent will reply in "
        "this chat as soon as one is free."
    ]
    assert slots == {
        "sentiment_trail": [
            {
                "label": "negative",
                "score": -0.7351,
                "text": FURIOUS,
                "at": "2025-03-14T09:59:00+00:00",
            }
        ],
        "handoff_active": True,
        "handoff_ticket_id": 1.0,
    }


@pytest.mark.asyncio
async def test_rasa_keeps_the_sentiment_point_of_a_calm_message(action_server: str) -> None:
    tracker = DialogueStateTracker.from_events(
        "customer-9",
        [ActionExecuted("action_listen"), message("Where is my order?", "order_status")],
        slots=DOMAIN.slots,
    )
    events = await extract_slots(action_server, tracker)
    assert [(type(e).__name__, getattr(e, "key", None)) for e in events] == [
        ("SlotSet", "sentiment_trail")
    ]
