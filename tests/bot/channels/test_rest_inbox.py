"""The REST channel's inbox (handoff messages; with include=all every bot message), over HTTP.

The conversations live in Rasa's SQL tracker store on a temporary SQLite file;
the agent handling webhook messages is a small fake.
"""

import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.channels.channel import UserMessage, register
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from bot.channels.rest import (
    HandoffRestInput,
    InboxMessage,
    inbox_message,
    inbox_messages,
    inbox_messages_with_payloads,
    parse_after,
    parse_include,
)
from tests.e2e.helpers import free_port

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc).timestamp()
DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, request_human]
slots:
  handoff_active:
    type: bool
    influence_conversation: false
    mappings:
      - type: custom
"""
)


def at(seconds: float) -> str:
    return datetime.fromtimestamp(T0 + seconds, tz=timezone.utc).isoformat()


def conversation_events() -> List[Event]:
    return [
        ActionExecuted("action_listen", timestamp=T0),
        UserUttered("I want a person", {"name": "request_human"}, timestamp=T0 + 1),
        SlotSet("handoff_active", True, timestamp=T0 + 1.5),
        BotUttered("You're number 1 in the queue.", timestamp=T0 + 2),
        ActionExecuted("action_listen", timestamp=T0 + 2),
        BotUttered(
            "Hi, I'm Dana. Let me look into it.",
            metadata={"handoff": {"agent": "Dana"}},
            timestamp=T0 + 60.25,
        ),
        UserUttered("thanks", {"name": "thanks"}, timestamp=T0 + 70),
        BotUttered(
            "Which one?",
            data={"buttons": [{"title": "The red one", "payload": "red"}]},
            metadata={"handoff": {"agent": "Dana"}},
            timestamp=T0 + 80,
        ),
        SlotSet("handoff_active", False, timestamp=T0 + 90),
        BotUttered(
            "You're back with the virtual assistant.",
            metadata={"handoff": {"handback": True}},
            timestamp=T0 + 90,
        ),
    ]


DANA = {"text": "Hi, I'm Dana. Let me look into it.", "at": at(60.25), "agent": "Dana"}
BUTTONS = {
    "text": "Which one?",
    "at": at(80),
    "agent": "Dana",
    "buttons": [{"title": "The red one", "payload": "red"}],
}
HANDBACK = {
    "text": "You're back with the virtual assistant.",
    "at": at(90),
    "agent": None,
    "handback": True,
}


QUEUE = {"text": "You're number 1 in the queue.", "at": at(2), "agent": None}
RED = {"content_type": "text", "title": "The red one", "payload": "red"}
CARDS = {"template_type": "generic", "elements": [{"title": "Headphones", "subtitle": "€199"}]}


def shopping_events() -> List[Event]:
    """Bot messages without handoff metadata: buttons, a custom carousel, an image."""
    return [
        UserUttered("headphones", {"name": "ask"}, timestamp=T0),
        BotUttered(
            "Here you go.\n\nMore?",
            data={"buttons": [{"title": "Cheaper", "payload": "/cheaper"}]},
            timestamp=T0 + 1,
        ),
        BotUttered(None, data={"custom": {"data": {"carousel": CARDS}}}, timestamp=T0 + 1.000001),
        BotUttered(
            None, data={"attachment": {"type": "template", "payload": CARDS}}, timestamp=T0 + 2
        ),
        BotUttered("The red one", data={"image": "https://example.com/red.png"}, timestamp=T0 + 3),
    ]


SHOPPING = [
    {
        "text": "Here you go.\n\nMore?",
        "at": at(1),
        "agent": None,
        "buttons": [{"title": "Cheaper", "payload": "/cheaper"}],
        "payloads": [
            {"text": "Here you go.", "quick_replies": [], "at": at(1)},
            {
                "text": "More?",
                "quick_replies": [
                    {"content_type": "text", "title": "Cheaper", "payload": "/cheaper"}
                ],
                "at": at(1),
            },
        ],
    },
    {
        "text": "",
        "at": at(1.000001),
        "agent": None,
        "custom": {"data": {"carousel": CARDS}},
        "payloads": [{"carousel": CARDS, "at": at(1.000001)}],
    },
    {
        "text": "",
        "at": at(2),
        "agent": None,
        "payloads": [{"attachment": {"type": "template", "payload": CARDS}, "at": at(2)}],
    },
    {
        "text": "The red one",
        "at": at(3),
        "agent": None,
        "image": "https://example.com/red.png",
        "payloads": [
            {"text": "The red one", "at": at(3)},
            {
                "attachment": {"type": "image", "payload": {"src": "https://example.com/red.png"}},
                "at": at(3),
            },
        ],
    },
]


def with_payloads(message: Dict[str, Any], *payloads: Dict[str, Any]) -> Dict[str, Any]:
    return {**message, "payloads": list(payloads)}


class FakeAgent:
    """Answers webhook messages with an echo; holds the tracker store."""

    def __init__(self, tracker_store: Optional[TrackerStore]) -> None:
        self.tracker_store = tracker_store
        self.received: List[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


class BrokenStore:
    async def retrieve_full_tracker(self, sender_id: str) -> Any:
        raise OSError("disk I/O error")


@pytest_asyncio.fixture
async def tracker_store(tmp_path: Path) -> TrackerStore:
    store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "trackers.db"))
    for sender_id in ("customer-1", "web user+7@example.com"):
        tracker = DialogueStateTracker.from_events(sender_id, conversation_events(), DOMAIN.slots)
        await store.save(tracker)
    shopper = DialogueStateTracker.from_events("shopper", shopping_events(), DOMAIN.slots)
    await store.save(shopper)
    return store


async def serve(agent: Any) -> AsyncIterator[str]:
    app = Sanic(f"inbox_test_{uuid.uuid4().hex}")
    register([HandoffRestInput()], app, route="/webhooks/")
    app.ctx.agent = agent
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    try:
        yield f"http://127.0.0.1:{port}/webhooks/rest"
    finally:
        await server.close()


@pytest_asyncio.fixture
async def agent(tracker_store: TrackerStore) -> FakeAgent:
    return FakeAgent(tracker_store)


@pytest_asyncio.fixture
async def base_url(agent: FakeAgent) -> AsyncIterator[str]:
    async for url in serve(agent):
        yield url


async def get(url: str, **params: str) -> tuple:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params=params) as resp:
            return resp.status, await resp.json()


# --- over HTTP ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_inbox_lists_the_handoff_messages_oldest_first(base_url: str) -> None:
    status, body = await get(f"{base_url}/inbox/customer-1")
    assert status == 200
    assert body == {"messages": [DANA, BUTTONS, HANDBACK]}


@pytest.mark.asyncio
async def test_after_returns_only_later_messages(base_url: str) -> None:
    assert await get(f"{base_url}/inbox/customer-1", after=at(60.25)) == (
        200,
        {"messages": [BUTTONS, HANDBACK]},
    )
    assert await get(f"{base_url}/inbox/customer-1", after=at(80)) == (
        200,
        {"messages": [HANDBACK]},
    )
    assert await get(f"{base_url}/inbox/customer-1", after=at(90)) == (200, {"messages": []})


@pytest.mark.asyncio
async def test_after_accepts_z_and_times_without_a_zone(base_url: str) -> None:
    assert await get(f"{base_url}/inbox/customer-1", after="2025-03-14T10:01:10Z") == (
        200,
        {"messages": [BUTTONS, HANDBACK]},
    )
    assert await get(f"{base_url}/inbox/customer-1", after="2025-03-14T11:01:25+01:00") == (
        200,
        {"messages": [HANDBACK]},
    )
    assert await get(f"{base_url}/inbox/customer-1", after="2025-03-14T10:00:00") == (
        200,
        {"messages": [DANA, BUTTONS, HANDBACK]},
    )


@pytest.mark.asyncio
async def test_include_all_lists_every_bot_message_with_its_socketio_payloads(
    base_url: str,
) -> None:
    status, body = await get(f"{base_url}/inbox/customer-1", include="all")
    assert status == 200
    assert body == {
        "messages": [
            with_payloads(QUEUE, {"text": QUEUE["text"], "at": at(2)}),
            with_payloads(DANA, {"text": DANA["text"], "at": at(60.25)}),
            with_payloads(BUTTONS, {"text": "Which one?", "quick_replies": [RED], "at": at(80)}),
            with_payloads(HANDBACK, {"text": HANDBACK["text"], "at": at(90)}),
        ]
    }
    assert await get(f"{base_url}/inbox/shopper", include="all") == (200, {"messages": SHOPPING})


@pytest.mark.asyncio
async def test_include_all_keeps_after(base_url: str) -> None:
    assert await get(f"{base_url}/inbox/shopper", include="all", after=at(1)) == (
        200,
        {"messages": SHOPPING[1:]},
    )
    assert await get(f"{base_url}/inbox/customer-1", include="all", after=at(80)) == (
        200,
        {"messages": [with_payloads(HANDBACK, {"text": HANDBACK["text"], "at": at(90)})]},
    )
    # Without include=all the inbox is as before: handoff messages, no payloads.
    assert await get(f"{base_url}/inbox/shopper") == (200, {"messages": []})
    assert await get(f"{base_url}/inbox/customer-1", after=at(2)) == (
        200,
        {"messages": [DANA, BUTTONS, HANDBACK]},
    )


@pytest.mark.asyncio
async def test_another_include_is_a_400(base_url: str) -> None:
    assert await get(f"{base_url}/inbox/customer-1", include="everything") == (
        400,
        {"error": "'include' can only be 'all', got 'everything'"},
    )


@pytest.mark.asyncio
async def test_sender_ids_are_percent_decoded(base_url: str) -> None:
    status, body = await get(f"{base_url}/inbox/web%20user%2B7%40example.com", after=at(80))
    assert (status, body) == (200, {"messages": [HANDBACK]})


@pytest.mark.asyncio
async def test_an_unknown_conversation_has_an_empty_inbox(base_url: str) -> None:
    assert await get(f"{base_url}/inbox/nobody") == (200, {"messages": []})


@pytest.mark.asyncio
async def test_a_malformed_after_is_a_400(base_url: str) -> None:
    status, body = await get(f"{base_url}/inbox/customer-1", after="yesterday")
    assert status == 400
    assert body == {
        "error": "'after' must be an ISO 8601 time such as 2025-03-14T10:00:00Z, got 'yesterday'"
    }
    status, body = await get(f"{base_url}/inbox/customer-1", after="2" * 100)
    assert (status, body) == (400, {"error": "'after' is too long to be an ISO 8601 time"})


@pytest.mark.asyncio
async def test_a_huge_sender_id_is_a_400(base_url: str) -> None:
    status, body = await get(f"{base_url}/inbox/{'x' * 300}")
    assert (status, body) == (
        400,
        {"error": "sender_id must be 1 to 255 characters without control characters"},
    )


@pytest.mark.asyncio
async def test_the_webhook_still_works(base_url: str, agent: FakeAgent) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base_url}/webhook", json={"sender": "customer-2", "message": "hello"}
        ) as resp:
            assert resp.status == 200
            assert await resp.json() == [{"recipient_id": "customer-2", "text": "echo: hello"}]
    assert [(m.sender_id, m.text, m.input_channel) for m in agent.received] == [
        ("customer-2", "hello", "rest")
    ]


@pytest.mark.asyncio
async def test_a_failing_tracker_store_is_a_503() -> None:
    async for url in serve(FakeAgent(BrokenStore())):  # type: ignore[arg-type]
        status, body = await get(f"{url}/inbox/customer-1")
        assert (status, body) == (
            503,
            {"error": "the conversation store is unavailable, try again shortly"},
        )


@pytest.mark.asyncio
async def test_no_agent_yet_is_a_503() -> None:
    async for url in serve(None):
        status, body = await get(f"{url}/inbox/customer-1")
        assert (status, body) == (
            503,
            {"error": "the assistant is not ready yet, try again shortly"},
        )


# --- the pieces -----------------------------------------------------------------------------


def test_only_bot_messages_with_handoff_metadata_are_inbox_messages() -> None:
    assert inbox_message(BotUttered("plain bot reply", timestamp=T0)) is None
    assert inbox_message(BotUttered("x", metadata={"handoff": "yes"}, timestamp=T0)) is None
    assert inbox_message(UserUttered("hi", timestamp=T0)) is None
    assert inbox_message(
        BotUttered(
            "See this",
            data={"image": "https://example.com/a.png", "custom": {"kind": "card"}},
            metadata={"handoff": {"agent": "Dana"}},
            timestamp=T0,
        )
    ) == InboxMessage(
        text="See this",
        at=datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc),
        agent="Dana",
        image="https://example.com/a.png",
        custom={"kind": "card"},
    )


def test_a_line_delivered_twice_is_listed_once_and_closing_is_marked() -> None:
    reply = {"handoff": {"agent": "Dana", "ticket_id": 4, "message_id": 17}}
    closing = {"handoff": {"closed": True, "ticket_id": 4, "message_id": 18}}
    events = [
        BotUttered("On it.", metadata=reply, timestamp=T0 + 1),
        BotUttered("On it.", metadata=reply, timestamp=T0 + 2),
        BotUttered("We closed this conversation.", metadata=closing, timestamp=T0 + 3),
    ]
    assert [m.to_dict() for m in inbox_messages(events)] == [
        {"text": "On it.", "at": at(1), "agent": "Dana"},
        {"text": "We closed this conversation.", "at": at(3), "agent": None, "closed": True},
    ]


@pytest.mark.asyncio
async def test_with_payloads_a_line_delivered_twice_is_listed_once_and_the_cap_applies() -> None:
    reply = {"handoff": {"agent": "Dana", "ticket_id": 4, "message_id": 17}}
    events = [
        BotUttered("On it.", metadata=reply, timestamp=T0 + 1),
        BotUttered("On it.", metadata=reply, timestamp=T0 + 2),
        BotUttered("Odd metadata", metadata={"handoff": "yes"}, timestamp=T0 + 3),
        BotUttered("Last", timestamp=T0 + 4),
    ]
    messages = await inbox_messages_with_payloads(events)
    assert [m.to_dict() for m in messages] == [
        {
            "text": "On it.",
            "at": at(1),
            "agent": "Dana",
            "payloads": [{"text": "On it.", "at": at(1)}],
        },
        {
            "text": "Odd metadata",
            "at": at(3),
            "agent": None,
            "payloads": [{"text": "Odd metadata", "at": at(3)}],
        },
        {"text": "Last", "at": at(4), "agent": None, "payloads": [{"text": "Last", "at": at(4)}]},
    ]
    assert [m.text for m in await inbox_messages_with_payloads(events, limit=2)] == [
        "On it.",
        "Odd metadata",
    ]
    assert [m.text for m in inbox_messages(events)] == ["On it."]


def test_the_number_of_messages_is_capped() -> None:
    events = [
        BotUttered(f"m{i}", metadata={"handoff": {"agent": "Dana"}}, timestamp=T0 + i)
        for i in range(5)
    ]
    assert [m.text for m in inbox_messages(events, limit=3)] == ["m0", "m1", "m2"]


def test_parse_after() -> None:
    assert parse_after(None) is None
    assert parse_after("  ") is None
    assert parse_after("2025-03-14T11:00:00+01:00") == datetime(
        2025, 3, 14, 10, 0, tzinfo=timezone.utc
    )


def test_parse_include() -> None:
    assert parse_include(None) is False
    assert parse_include("") is False
    assert parse_include("all") is True
    with pytest.raises(ValueError, match="'include' can only be 'all', got 'ALL'"):
        parse_include("ALL")


def test_credentials_use_the_channel() -> None:
    import yaml

    credentials: Dict[str, Any] = yaml.safe_load((ROOT / "credentials.yml").read_text())
    assert "bot.channels.rest.HandoffRestInput" in credentials
    assert "rest" not in credentials
    assert HandoffRestInput.name() == "rest"
