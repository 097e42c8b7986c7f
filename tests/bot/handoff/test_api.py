import asyncio
from dataclasses import replace
from typing import Awaitable, Callable

import pytest
from aiohttp import WSMsgType

from actions.db import Database
from bot.handoff.auth import AgentAccounts
from bot.handoff.store import CLOSE_TEXT, HANDBACK_TEXT, HandoffStore
from tests.bot.handoff.support import (
    SETTINGS,
    FakeRasaGateway,
    Service,
    claimed_ticket,
    detail,
    request,
    wait_for,
)

Start = Callable[..., Awaitable[Service]]
pytestmark = pytest.mark.asyncio


async def test_login_me_and_logout(
    start_service: Start, database: Database, agents: AgentAccounts
) -> None:
    service = await start_service(database)

    status, body = await service.call(
        "POST", "/api/login", json={"username": "Dana", "password": "correct horse battery"}
    )
    assert status == 200
    assert body["agent"] == {"id": 1, "username": "dana", "display_name": "Dana"}
    assert isinstance(body["token"], str) and len(body["token"]) == 43
    token = body["token"]
    assert await service.call("GET", "/api/me", token) == (
        200,
        {"id": 1, "username": "dana", "display_name": "Dana"},
    )
    assert await service.call("POST", "/api/logout", token) == (204, None)
    assert await service.call("GET", "/api/me", token) == (
        401,
        {"error": "the token is invalid or expired; please log in again"},
    )


async def test_bad_passwords_are_refused_then_rate_limited(
    start_service: Start, database: Database, agents: AgentAccounts
) -> None:
    service = await start_service(database, settings=replace(SETTINGS, login_max_failures=3))
    wrong = {"username": "dana", "password": "wrong password"}

    for _ in range(3):
        assert await service.call("POST", "/api/login", json=wrong) == (
            401,
            {"error": "wrong username or password"},
        )
    assert await service.call(
        "POST", "/api/login", json={"username": "nobody", "password": "x"}
    ) == (
        401,
        {"error": "wrong username or password"},
    )
    right = {"username": "dana", "password": "correct horse battery"}
    async with service.client.post("/api/login", json=right) as response:
        assert response.status == 429
        assert await response.json() == {"error": "too many failed logins; try again later"}
        assert 1 <= int(response.headers["Retry-After"]) <= 300
    # Another agent at the same address can still log in.
    assert (await service.call("POST", "/api/login", json={**right, "username": "bob"}))[0] == 200


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/logout"),
        ("GET", "/api/me"),
        ("GET", "/api/tickets"),
        ("GET", "/api/tickets/1"),
        ("POST", "/api/tickets/1/claim"),
        ("POST", "/api/tickets/1/messages"),
        ("POST", "/api/tickets/1/notes"),
        ("POST", "/api/tickets/1/handback"),
        ("POST", "/api/tickets/1/close"),
    ],
)
async def test_the_api_requires_a_token(
    start_service: Start, database: Database, method: str, path: str
) -> None:
    service = await start_service(database)

    assert await service.call(method, path) == (401, {"error": "a bearer token is required"})
    assert await service.call(method, path, "forged") == (
        401,
        {"error": "the token is invalid or expired; please log in again"},
    )


async def test_two_concurrent_claims_have_one_winner(
    start_service: Start, database: Database, agents: AgentAccounts, live_store: HandoffStore
) -> None:
    service = await start_service(database)
    dana, bob = await service.login("dana"), await service.login("bob")
    ticket_id = live_store.open_ticket(request()).ticket_id

    results = await asyncio.gather(
        service.call("POST", f"/api/tickets/{ticket_id}/claim", dana),
        service.call("POST", f"/api/tickets/{ticket_id}/claim", bob),
    )

    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409]
    winner = next(body for status, body in results if status == 200)
    loser = next(body for status, body in results if status == 409)
    owner = winner["agent"]["display_name"]
    assert winner["status"] == "assigned"
    assert loser == {"error": f"ticket {ticket_id} is already taken by {owner}"}
    assert (await detail(service, dana, ticket_id))["agent"]["display_name"] == owner


async def test_a_reply_reaches_rasa_and_is_marked_delivered(
    start_service: Start, database: Database, agents: AgentAccounts, live_store: HandoffStore
) -> None:
    service = await start_service(database)
    token = await service.login("dana")
    ticket_id = await claimed_ticket(service, live_store, token)

    status, message = await service.call(
        "POST", f"/api/tickets/{ticket_id}/messages", token, json={"text": "Hi, Dana here."}
    )

    assert status == 201
    assert {k: message[k] for k in ("ticket_id", "author", "text", "agent_name")} == {
        "ticket_id": ticket_id,
        "author": "agent",
        "text": "Hi, Dana here.",
        "agent_name": "Dana",
    }
    await wait_for(lambda: service.gateway.calls)
    assert service.gateway.calls == [
        (
            "conv-1",
            [
                {
                    "event": "bot",
                    "text": "Hi, Dana here.",
                    "metadata": {
                        "handoff": {
                            "agent": "Dana",
                            "ticket_id": ticket_id,
                            "message_id": message["id"],
                        }
                    },
                }
            ],
        )
    ]
    await wait_for(lambda: _delivered(service, token, ticket_id, message["id"]))


async def test_a_reply_while_rasa_is_down_is_delivered_later(
    start_service: Start, database: Database, agents: AgentAccounts, live_store: HandoffStore
) -> None:
    service = await start_service(database, gateway=FakeRasaGateway(down=True))
    token = await service.login("dana")
    ticket_id = await claimed_ticket(service, live_store, token)

    _, message = await service.call(
        "POST", f"/api/tickets/{ticket_id}/messages", token, json={"text": "Are you there?"}
    )
    await wait_for(lambda: service.gateway.refused >= 1)
    await wait_for(lambda: _last_error(service, token, ticket_id, "Rasa is down (fake)"))
    assert service.gateway.calls == []

    service.gateway.down = False
    await wait_for(lambda: service.gateway.calls)
    assert [events[0]["text"] for _, events in service.gateway.calls] == ["Are you there?"]
    await wait_for(lambda: _delivered(service, token, ticket_id, message["id"]))


async def test_a_customer_message_appears_on_the_agents_websocket(
    start_service: Start, database: Database, agents: AgentAccounts, live_store: HandoffStore
) -> None:
    ticket_id = live_store.open_ticket(request()).ticket_id  # before: not pushed
    service = await start_service(database)
    token = await service.login("dana")

    async with service.client.ws_connect(f"/api/ws?token={token}") as socket:
        await socket.send_json({"type": "ping"})
        assert await socket.receive_json(timeout=5) == {"type": "pong"}
        await asyncio.to_thread(
            live_store.add_customer_message, "conv-1", "<b>hello?</b> anyone there"
        )
        event = await socket.receive_json(timeout=5)

    assert event["type"] == "message.created"
    assert event["ticket"]["id"] == ticket_id
    assert event["ticket"]["preview"] == "<b>hello?</b> anyone there"
    assert {k: event["message"][k] for k in ("ticket_id", "author", "text", "delivered")} == {
        "ticket_id": ticket_id,
        "author": "customer",
        "text": "<b>hello?</b> anyone there",
        "delivered": True,
    }


async def test_a_new_ticket_is_pushed_to_the_websocket(
    start_service: Start, database: Database, agents: AgentAccounts, live_store: HandoffStore
) -> None:
    service = await start_service(database)
    token = await service.login("dana")

    async with service.client.ws_connect(f"/api/ws?token={token}") as socket:
        ticket_id = (await asyncio.to_thread(live_store.open_ticket, request())).ticket_id
        event = await socket.receive_json(timeout=5)

    assert (event["type"], event["ticket"]["id"], event["ticket"]["status"]) == (
        "ticket.created",
        ticket_id,
        "queued",
    )
    assert "message" not in event


async def test_the_websocket_needs_a_valid_token(
    start_service: Start, database: Database, agents: AgentAccounts
) -> None:
    service = await start_service(database)
    async with service.client.get("/api/ws?token=forged") as response:
        assert response.status == 401
        assert await response.json() == {"error": "a valid token is required"}

    token = await service.login("dana")
    async with service.client.ws_connect(f"/api/ws?token={token}") as socket:
        await socket.send_str("not json")
        assert await socket.receive_json(timeout=5) == {
            "type": "error",
            "error": 'send {"type": "ping"}',
        }
        await service.call("POST", "/api/logout", token)
        await socket.send_json({"type": "ping"})
        closing = await socket.receive(timeout=5)
        assert socket.closed or closing.type.name in ("CLOSE", "CLOSED")
        assert socket.close_code == 4401


async def test_notes_are_for_agents_only(
    start_service: Start, database: Database, agents: AgentAccounts, live_store: HandoffStore
) -> None:
    service = await start_service(database)
    dana, bob = await service.login("dana"), await service.login("bob")
    ticket_id = await claimed_ticket(service, live_store, dana)

    status, note = await service.call(
        "POST", f"/api/tickets/{ticket_id}/notes", bob, json={"text": "Refund approved <ok>"}
    )

    assert status == 201
    assert (note["author"], note["text"], note["agent_name"], note["delivered"]) == (
        "note",
        "Refund approved <ok>",
        "Bob",
        True,
    )
    body = await detail(service, dana, ticket_id)
    assert body["messages"][-1] == note
    status, _ = await service.call(
        "POST", f"/api/tickets/{ticket_id}/messages", dana, json={"text": "Good news"}
    )
    assert status == 201
    await wait_for(lambda: service.gateway.calls)
    assert [events[-1]["text"] for _, events in service.gateway.calls] == ["Good news"]


@pytest.mark.parametrize(
    "action, status, text, flag",
    [
        ("handback", "handed_back", HANDBACK_TEXT, "handback"),
        ("close", "closed", CLOSE_TEXT, "closed"),
    ],
)
async def test_hand_back_and_close_give_the_conversation_back_to_the_bot(
    start_service: Start,
    database: Database,
    agents: AgentAccounts,
    live_store: HandoffStore,
    action: str,
    status: str,
    text: str,
    flag: str,
) -> None:
    service = await start_service(database)
    dana, bob = await service.login("dana"), await service.login("bob")
    ticket_id = await claimed_ticket(service, live_store, dana)

    assert await service.call("POST", f"/api/tickets/{ticket_id}/{action}", bob) == (
        403,
        {"error": f"ticket {ticket_id} belongs to another agent"},
    )
    code, body = await service.call("POST", f"/api/tickets/{ticket_id}/{action}", dana)

    assert code == 200
    assert body["status"] == status
    last = body["messages"][-1]
    assert (last["author"], last["text"]) == ("system", text)
    await wait_for(lambda: service.gateway.calls)
    assert service.gateway.calls == [
        (
            "conv-1",
            [
                {"event": "slot", "name": "handoff_active", "value": False},
                {"event": "slot", "name": "handoff_ticket_id", "value": None},
                {
                    "event": "bot",
                    "text": text,
                    "metadata": {
                        "handoff": {"ticket_id": ticket_id, "message_id": last["id"], flag: True}
                    },
                },
            ],
        )
    ]
    assert live_store.active_ticket_id("conv-1") is None
    assert await service.call("POST", f"/api/tickets/{ticket_id}/{action}", dana) == (
        409,
        {"error": f"ticket {ticket_id} is {status.replace('_', ' ')}"},
    )


async def test_lists_of_tickets(
    start_service: Start, database: Database, agents: AgentAccounts, live_store: HandoffStore
) -> None:
    service = await start_service(database)
    dana, bob = await service.login("dana"), await service.login("bob")
    calm = live_store.open_ticket(request("calm", scores=(0.1,))).ticket_id
    angry = live_store.open_ticket(request("angry", scores=(-1.0,))).ticket_id
    mine = await claimed_ticket(service, live_store, dana)

    async def ids(token: str, status: str) -> list:
        code, body = await service.call("GET", f"/api/tickets?status={status}", token)
        assert code == 200
        return [ticket["id"] for ticket in body["tickets"]]

    assert await ids(dana, "open") == [angry, mine, calm]
    assert (await service.call("GET", "/api/tickets", dana))[1]["tickets"][0]["id"] == angry
    assert await ids(dana, "queued") == [angry, calm]
    assert await ids(dana, "assigned") == [mine]
    assert await ids(dana, "mine") == [mine]
    assert await ids(bob, "mine") == []
    assert await ids(dana, "closed") == []
    _, body = await service.call("GET", "/api/tickets?status=assigned", dana)
    assert body["tickets"][0]["agent"] == {"id": 1, "display_name": "Dana"}
    assert body["tickets"][0]["last_sentiment"] == {"label": "negative", "score": -0.9}


async def test_health(start_service: Start, database: Database) -> None:
    service = await start_service(database)

    assert await service.call("GET", "/health") == (200, {"status": "ok"})


async def _delivered(service: Service, token: str, ticket_id: int, message_id: int) -> bool:
    body = await detail(service, token, ticket_id)
    return any(m["id"] == message_id and m["delivered"] for m in body["messages"])


async def _last_error(service: Service, token: str, ticket_id: int, error: str) -> bool:
    body = await detail(service, token, ticket_id)
    last = body["messages"][-1]
    return last["delivered"] is False and last["delivery_error"] == error


async def test_shutdown_closes_open_agent_websockets_first(
    start_service: Start, database: Database, agents: AgentAccounts
) -> None:
    service = await start_service(database)
    token = await service.login("dana")

    async with service.client.ws_connect(f"/api/ws?token={token}") as socket:
        await socket.send_json({"type": "ping"})
        assert await socket.receive_json(timeout=5) == {"type": "pong"}
        # What SIGTERM runs first; before the fix the socket stayed open here.
        await service.client.server.app.shutdown()
        closing = await socket.receive(timeout=5)

    # (aiohttp reports 1000: the handler's own close frame goes out first.)
    assert closing.type == WSMsgType.CLOSE
