"""Helpers for the handoff tests: a settable clock, requests, a fake Rasa."""

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from bot.handoff.payloads import (
    HandoffRequest,
    RecommendedProduct,
    SentimentPoint,
    TranscriptLine,
)
from bot.handoff.rasa_gateway import RasaGateway, RasaUnavailable
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HandoffStore

# A Friday, 11:00 in Vienna: within the default office hours.
NOW = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)

SETTINGS = replace(HandoffSettings(), poll_interval_s=0.05, retry_max_s=1)
PASSWORD = "correct horse battery"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def point(score: float, text: str = "hm", at: datetime = NOW) -> SentimentPoint:
    label = "negative" if score < -0.3 else "positive" if score > 0.3 else "neutral"
    return SentimentPoint(label=label, score=score, text=text, at=at)


def request(
    conversation_id: str = "conv-1",
    *,
    scores: Sequence[float] = (-0.9,),
    reason: str = "strong_negative",
    channel: str = "rest",
) -> HandoffRequest:
    return HandoffRequest(
        conversation_id=conversation_id,
        channel=channel,
        reason=reason,
        sentiment_trail=tuple(point(score, f"message {i}") for i, score in enumerate(scores)),
        recent_intents=("order_status", "complain"),
        transcript=(
            TranscriptLine("customer", "where is my order?", NOW - timedelta(minutes=2)),
            TranscriptLine("bot", "It is on its way.", NOW - timedelta(minutes=2)),
            TranscriptLine("customer", "this is useless!", NOW - timedelta(minutes=1)),
        ),
        recommended=(RecommendedProduct("SKU-1", "Kettle", 29.9, "EUR"),),
    )


class FakeRasaGateway(RasaGateway):
    """Records the events it is given; refuses them while ``down``."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.calls: List[Tuple[str, List[Dict[str, Any]]]] = []
        self.refused = 0
        self.delivered = asyncio.Event()

    async def append_events(
        self, conversation_id: str, events: Sequence[Mapping[str, Any]]
    ) -> None:
        if self.down:
            self.refused += 1
            raise RasaUnavailable("Rasa is down (fake)")
        self.calls.append((conversation_id, [dict(event) for event in events]))
        self.delivered.set()

    async def close(self) -> None:
        return None


async def wait_for(condition: Any, timeout: float = 5.0, interval: float = 0.02) -> None:
    """Wait until ``condition()`` (sync or async) is true, or fail."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


def only(items: Sequence[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def maybe(value: Optional[Any]) -> Any:
    assert value is not None
    return value


class Service:
    """A running handoff service on a test server, with helpers to call it."""

    def __init__(self, client: Any, gateway: FakeRasaGateway) -> None:
        self.client = client
        self.gateway = gateway

    @property
    def app(self) -> Any:
        return self.client.server.app

    async def login(self, username: str, password: str = PASSWORD) -> str:
        status, body = await self.call(
            "POST", "/api/login", json={"username": username, "password": password}
        )
        assert status == 200, body
        return body["token"]

    async def call(
        self,
        method: str,
        path: str,
        token: Optional[str] = None,
        *,
        json: Any = None,
        data: Optional[bytes] = None,
    ) -> Tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: Dict[str, Any] = {"headers": headers}
        if json is not None:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
            headers["Content-Type"] = "application/json"
        async with self.client.request(method, path, **kwargs) as response:
            if response.status == 204:
                return 204, None
            assert response.content_type == "application/json", response.content_type
            return response.status, await response.json()


async def claimed_ticket(service: Service, store: HandoffStore, token: str) -> int:
    """Open a ticket for "conv-1" and claim it through the API."""
    ticket_id = store.open_ticket(request()).ticket_id
    status, body = await service.call("POST", f"/api/tickets/{ticket_id}/claim", token)
    assert status == 200, body
    return ticket_id


async def detail(service: Service, token: str, ticket_id: int) -> Dict[str, Any]:
    """Read a ticket through the API."""
    status, body = await service.call("GET", f"/api/tickets/{ticket_id}", token)
    assert status == 200, body
    return body
