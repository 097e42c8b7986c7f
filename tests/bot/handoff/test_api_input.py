"""Bad and hostile input to the agent API: refused with a clear error, nothing lost."""

from typing import Awaitable, Callable

import pytest

from actions.db import Database
from bot.handoff.auth import AgentAccounts
from bot.handoff.store import HandoffStore
from tests.bot.handoff.support import Service, claimed_ticket, detail, request

Start = Callable[..., Awaitable[Service]]
pytestmark = pytest.mark.asyncio


async def test_hostile_input_is_refused_or_stored_verbatim(
    start_service: Start, database: Database, agents: AgentAccounts, live_store: HandoffStore
) -> None:
    service = await start_service(database)
    dana, bob = await service.login("dana"), await service.login("bob")
    ticket_id = await claimed_ticket(service, live_store, dana)
    path = f"/api/tickets/{ticket_id}/messages"
    before = await detail(service, dana, ticket_id)

    assert await service.call("POST", path, dana, data=b"x" * (1024 * 1024)) == (
        413,
        {"error": "the request body is larger than 65536 bytes"},
    )
    assert await service.call("POST", path, dana, data=b'{"text": "unterminated') == (
        400,
        {"error": "the request body is not valid JSON"},
    )
    assert await service.call("POST", path, dana, data=b'{"text": "\xff\xfe caf\xe9"}') == (
        400,
        {"error": "the request body is not valid UTF-8"},
    )
    assert await service.call("POST", path, dana, data=b"[" * 60000) == (
        400,
        {"error": "the request body is not valid JSON"},
    )
    assert await service.call("POST", path, dana, json=["text"]) == (
        400,
        {"error": "the request body must be a JSON object"},
    )
    assert await service.call("POST", path, dana, json={"text": 42}) == (
        400,
        {"error": '"text" must be a string'},
    )
    assert await service.call("POST", path, dana, json={"text": "   "}) == (
        400,
        {"error": "text must not be empty"},
    )
    assert await service.call("POST", path, dana, json={"text": "a\u0000b"}) == (
        400,
        {"error": "text must not contain NUL characters"},
    )
    assert await service.call("POST", path, dana, data=b'{"text": "\\ud800"}') == (
        400,
        {"error": "text is not valid Unicode"},
    )
    assert await service.call("POST", path, dana, json={"text": "x" * 4001}) == (
        413,
        {"error": "text is longer than 4000 characters"},
    )
    assert await service.call("POST", path, bob, json={"text": "hi"}) == (
        403,
        {"error": f"ticket {ticket_id} belongs to another agent"},
    )
    assert await service.call("POST", "/api/tickets/999/messages", dana, json={"text": "hi"}) == (
        404,
        {"error": "no such ticket"},
    )
    assert await service.call("GET", "/api/tickets/99999999999", dana) == (
        404,
        {"error": "no such ticket"},
    )
    assert await service.call("GET", "/api/tickets/abc", dana) == (404, {"error": "not found"})
    assert await service.call("GET", "/api/tickets?status=everything", dana) == (
        400,
        {
            "error": "unknown ticket list 'everything'; "
            "use one of open, queued, assigned, mine, closed"
        },
    )
    assert await detail(service, dana, ticket_id) == before  # nothing was stored

    script = "<script>alert('x')</script> & \"quotes\" \u202e"
    status, message = await service.call("POST", path, dana, json={"text": script})
    assert (status, message["text"]) == (201, script)
    async with service.client.get(
        f"/api/tickets/{ticket_id}", headers={"Authorization": f"Bearer {dana}"}
    ) as response:
        assert response.content_type == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert (await response.json())["messages"][-1]["text"] == script


async def test_queued_tickets_cannot_be_answered(
    start_service: Start, database: Database, agents: AgentAccounts, live_store: HandoffStore
) -> None:
    service = await start_service(database)
    dana = await service.login("dana")
    ticket_id = live_store.open_ticket(request()).ticket_id

    assert await service.call(
        "POST", f"/api/tickets/{ticket_id}/messages", dana, json={"text": "hi"}
    ) == (409, {"error": f"ticket {ticket_id} is not claimed yet"})
