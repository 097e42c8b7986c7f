from typing import List

import pytest

from actions.db import Database
from bot.handoff.auth import AgentAccounts
from bot.handoff.delivery import DeliveryLoop, Outbox
from bot.handoff.store import HandoffStore
from bot.handoff.views import AgentView
from tests.bot.handoff.support import PASSWORD, SETTINGS, Clock, FakeRasaGateway, request

pytestmark = pytest.mark.asyncio


def setup(database: Database, clock: Clock) -> "tuple[HandoffStore, AgentView, Outbox]":
    store = HandoffStore(database, settings=SETTINGS, clock=clock)
    dana = AgentAccounts(database, token_ttl_s=60, clock=clock).create_agent(
        "dana", "Dana", PASSWORD
    )
    return store, dana, Outbox(database, retry_max_s=8, clock=clock)


def texts(gateway: FakeRasaGateway) -> List[str]:
    return [events[-1]["text"] for _, events in gateway.calls]


async def test_lines_of_a_conversation_go_in_order_and_back_off(
    database: Database, clock: Clock
) -> None:
    store, dana, outbox = setup(database, clock)
    first = store.open_ticket(request("first")).ticket_id
    second = store.open_ticket(request("second")).ticket_id
    store.claim(first, dana)
    store.claim(second, dana)
    store.reply(first, dana, "one")
    store.reply(first, dana, "two")
    store.reply(second, dana, "other")
    gateway = FakeRasaGateway(down=True)
    loop = DeliveryLoop(outbox, gateway, poll_interval_s=0.01)

    assert await loop.deliver_due() == 0
    assert gateway.refused == 2  # one attempt per conversation: "two" waits for "one"
    assert outbox.pending_count() == 3
    gateway.down = False
    assert await loop.deliver_due() == 0  # both heads wait 1 s before the next attempt
    clock.advance(1)
    assert await loop.deliver_due() == 3
    assert texts(gateway) == ["one", "two", "other"]
    assert outbox.pending_count() == 0
    assert await loop.deliver_due() == 0


async def test_the_pause_doubles_up_to_the_limit(database: Database, clock: Clock) -> None:
    store, dana, outbox = setup(database, clock)
    ticket_id = store.open_ticket(request()).ticket_id
    store.claim(ticket_id, dana)
    store.reply(ticket_id, dana, "hello")
    gateway = FakeRasaGateway(down=True)
    loop = DeliveryLoop(outbox, gateway, poll_interval_s=0.01)

    pauses = []
    for _ in range(6):
        await loop.deliver_due()
        waited = 0
        while await loop.deliver_due() == 0 and gateway.refused == len(pauses) + 1:
            clock.advance(1)
            waited += 1
        pauses.append(waited)

    assert pauses == [1, 2, 4, 8, 8, 8]
    detail = store.ticket_detail(ticket_id)
    assert detail.messages[-1].delivered is False
    assert detail.messages[-1].delivery_error == "Rasa is down (fake)"


async def test_a_widget_conversation_gets_the_handoff_marker(
    database: Database, clock: Clock
) -> None:
    store, dana, outbox = setup(database, clock)
    widget = store.open_ticket(request("widget-session", channel="socketio")).ticket_id
    rest = store.open_ticket(request("rest-sender", channel="rest")).ticket_id
    store.claim(widget, dana)
    store.claim(rest, dana)
    line = store.reply(widget, dana, "Hello from Dana")
    store.reply(rest, dana, "Hello over REST")
    gateway = FakeRasaGateway()
    loop = DeliveryLoop(outbox, gateway, poll_interval_s=0.01)

    assert await loop.deliver_due() == 2
    calls = dict(gateway.calls)
    marker = {"ticket_id": widget, "message_id": line.id, "agent": "Dana", "parts": 1}
    assert calls["widget-session"][0]["data"] == {"custom": {"data": {"handoff": marker}}}
    assert "data" not in calls["rest-sender"][0]
