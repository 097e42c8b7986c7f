import asyncio
import json
from dataclasses import replace
from typing import Any, Awaitable, Callable, Dict, List

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from actions.db import Database
from bot.handoff.store import HandoffStore
from bot.handoff.webhook import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookCursor,
    sign,
    verify_signature,
)
from tests.bot.handoff.support import SETTINGS, Service, request, wait_for

SECRET = "s3cr3t-shared-with-the-receiver"


class Receiver:
    """A webhook receiver that checks signatures; fails the first ``fail`` requests."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.attempts = 0
        self.accepted: List[Dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.attempts += 1
        assert verify_signature(
            SECRET,
            request.headers[TIMESTAMP_HEADER],
            body,
            request.headers[SIGNATURE_HEADER],
        )
        payload = json.loads(body)
        assert request.headers[EVENT_ID_HEADER] == str(payload["id"])
        if self.fail > 0:
            self.fail -= 1
            return web.Response(status=503)
        self.accepted.append(payload)
        return web.Response(status=204)


@pytest_asyncio.fixture
async def receiver_server() -> Any:
    servers: List[TestServer] = []

    async def start(receiver: Receiver) -> str:
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("/hook"))

    yield start
    for server in servers:
        await server.close()


def test_signatures() -> None:
    body = b'{"id":1}'
    signature = sign(SECRET, "1700000000", body)

    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature(SECRET, "1700000000", body, signature, now=1700000100)
    assert not verify_signature(SECRET, "1700000000", body + b" ", signature, now=1700000100)
    assert not verify_signature("other", "1700000000", body, signature, now=1700000100)
    assert not verify_signature(SECRET, "1700000001", body, signature, now=1700000100)
    assert not verify_signature(SECRET, "1700000000", body, signature, now=1700000301)
    assert not verify_signature(SECRET, "soon", body, signature, now=1700000100)


@pytest.mark.asyncio
async def test_events_are_posted_signed_retried_and_the_cursor_kept(
    start_service: Callable[..., Awaitable[Service]],
    receiver_server: Callable[[Receiver], Awaitable[str]],
    database: Database,
    live_store: HandoffStore,
) -> None:
    receiver = Receiver(fail=2)
    url = await receiver_server(receiver)
    settings = replace(SETTINGS, webhook_url=url, webhook_secret=SECRET)
    WebhookCursor(database).save(0)  # send the log from its start
    ticket_id = live_store.open_ticket(request()).ticket_id
    await start_service(database, settings=settings)

    await wait_for(lambda: receiver.accepted, timeout=10)
    live_store.add_customer_message("conv-1", "hello <webhook>")
    await wait_for(lambda: len(receiver.accepted) == 2, timeout=10)

    assert receiver.attempts == 4  # two refusals of the first event, then both accepted
    first, second = receiver.accepted
    assert (first["id"], first["type"], first["ticket"]["id"]) == (1, "ticket.created", ticket_id)
    assert first["at"] == first["ticket"]["created_at"]
    assert "message" not in first
    assert (second["id"], second["type"]) == (2, "message.created")
    assert (second["message"]["author"], second["message"]["text"]) == (
        "customer",
        "hello <webhook>",
    )
    await wait_for(lambda: WebhookCursor(database).load() == 2)


@pytest.mark.asyncio
async def test_a_restarted_webhook_resumes_after_its_cursor(
    start_service: Callable[..., Awaitable[Service]],
    receiver_server: Callable[[Receiver], Awaitable[str]],
    database: Database,
    live_store: HandoffStore,
) -> None:
    live_store.open_ticket(request("first"))
    live_store.open_ticket(request("second"))
    WebhookCursor(database).save(1)  # event 1 was sent before the restart
    receiver = Receiver()
    settings = replace(SETTINGS, webhook_url=await receiver_server(receiver), webhook_secret=SECRET)

    await start_service(database, settings=settings)

    await wait_for(lambda: receiver.accepted, timeout=10)
    await asyncio.sleep(0.3)
    assert [(e["id"], e["ticket"]["conversation_id"]) for e in receiver.accepted] == [(2, "second")]


@pytest.mark.asyncio
async def test_the_first_start_begins_at_the_end_of_the_log(
    start_service: Callable[..., Awaitable[Service]],
    receiver_server: Callable[[Receiver], Awaitable[str]],
    database: Database,
    live_store: HandoffStore,
) -> None:
    live_store.open_ticket(request("old"))
    receiver = Receiver()
    settings = replace(SETTINGS, webhook_url=await receiver_server(receiver), webhook_secret=SECRET)

    await start_service(database, settings=settings)
    await wait_for(lambda: WebhookCursor(database).load() == 1)
    live_store.open_ticket(request("new"))

    await wait_for(lambda: receiver.accepted, timeout=10)
    assert [e["ticket"]["conversation_id"] for e in receiver.accepted] == ["new"]
