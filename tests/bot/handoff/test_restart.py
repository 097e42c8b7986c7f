"""Nothing is lost when the handoff service stops in the middle of a handoff."""

from typing import Awaitable, Callable

import pytest

from actions.db import Database
from bot.handoff.auth import AgentAccounts
from bot.handoff.store import HandoffStore
from tests.bot.handoff.support import FakeRasaGateway, Service, request, wait_for

pytestmark = pytest.mark.asyncio


async def test_a_restart_keeps_tickets_messages_owners_and_pending_replies(
    start_service: Callable[..., Awaitable[Service]],
    database: Database,
    agents: AgentAccounts,
    live_store: HandoffStore,
) -> None:
    first = await start_service(database, gateway=FakeRasaGateway(down=True))
    token = await first.login("dana")
    ticket_id = live_store.open_ticket(request()).ticket_id
    assert (await first.call("POST", f"/api/tickets/{ticket_id}/claim", token))[0] == 200
    status, reply = await first.call(
        "POST", f"/api/tickets/{ticket_id}/messages", token, json={"text": "One moment please"}
    )
    assert status == 201
    await wait_for(lambda: first.gateway.refused >= 1)
    await first.client.close()
    # While the service is down the customer writes again (the action server stores it).
    assert live_store.add_customer_message("conv-1", "still waiting...") == ticket_id
    database.dispose()

    second = await start_service(database, gateway=FakeRasaGateway())

    # The old token still works: tokens are stored, not kept in memory.
    await wait_for(lambda: second.gateway.calls)
    assert second.gateway.calls == [
        (
            "conv-1",
            [
                {
                    "event": "bot",
                    "text": "One moment please",
                    "metadata": {
                        "handoff": {
                            "agent": "Dana",
                            "ticket_id": ticket_id,
                            "message_id": reply["id"],
                        }
                    },
                }
            ],
        )
    ]
    status, detail = await second.call("GET", f"/api/tickets/{ticket_id}", token)
    assert status == 200
    assert (detail["status"], detail["agent"]) == ("assigned", {"id": 1, "display_name": "Dana"})
    assert [(m["author"], m["text"], m["delivered"]) for m in detail["messages"]] == [
        ("customer", "where is my order?", True),
        ("bot", "It is on its way.", True),
        ("customer", "this is useless!", True),
        ("system", "Dana took over.", True),
        ("agent", "One moment please", True),
        ("customer", "still waiting...", True),
    ]
    assert detail["preview"] == "still waiting..."
    assert live_store.active_ticket_id("conv-1") == ticket_id
