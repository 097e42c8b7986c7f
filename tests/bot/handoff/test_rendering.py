"""What agents see: customers' emails, phone and card numbers masked; the stored data intact."""

from datetime import timedelta
from typing import Awaitable, Callable

import pytest
from sqlalchemy import select

from actions.db import Database
from bot.handoff.auth import AgentAccounts
from bot.handoff.models import MessageRow, TicketRow
from bot.handoff.payloads import HandoffRequest, SentimentPoint, TranscriptLine
from bot.handoff.rendering import shown_text
from bot.handoff.store import HandoffStore
from tests.bot.handoff.support import NOW, Service, detail, wait_for

Start = Callable[..., Awaitable[Service]]

EMAIL, PHONE, CARD = "jane.doe@example.com", "+43 664 1234567", "4111 1111 1111 1111"


def pii_request() -> HandoffRequest:
    return HandoffRequest(
        conversation_id="conv-pii",
        channel="rest",
        reason="strong_negative",
        sentiment_trail=(SentimentPoint("negative", -0.9, f"charge my card {CARD} again?!", NOW),),
        recent_intents=("complain",),
        transcript=(
            TranscriptLine("customer", f"I'm {EMAIL}, call {PHONE}", NOW - timedelta(minutes=2)),
            TranscriptLine("bot", f"We'll write to {EMAIL}.", NOW - timedelta(minutes=1)),
        ),
    )


@pytest.mark.asyncio
async def test_agents_see_customer_data_masked_and_their_own_lines_as_written(
    start_service: Start,
    database: Database,
    agents: AgentAccounts,
    live_store: HandoffStore,
) -> None:
    service = await start_service(database)
    token = await service.login("dana")
    ticket_id = live_store.open_ticket(pii_request()).ticket_id
    later = "x" * 130 + f" my card is {CARD}"  # the card straddles the preview's cut
    live_store.add_customer_message("conv-pii", later)
    assert (await service.call("POST", f"/api/tickets/{ticket_id}/claim", token))[0] == 200
    reply = f"I've noted {EMAIL}; our number is +43 1 234 5678"
    status, posted = await service.call(
        "POST", f"/api/tickets/{ticket_id}/messages", token, json={"text": reply}
    )
    assert (status, posted["text"]) == (201, reply)
    note = f"customer gave {PHONE}"
    await service.call("POST", f"/api/tickets/{ticket_id}/notes", token, json={"text": note})

    shown = await detail(service, token, ticket_id)
    assert [(line["author"], line["text"]) for line in shown["messages"]] == [
        ("customer", "I'm j***@example.com, call +** *** *****67"),
        ("bot", "We'll write to j***@example.com."),
        ("customer", "x" * 130 + " my card is **** **** **** 1111"),
        ("system", "Dana took over."),
        ("agent", reply),
        ("note", note),
    ]
    assert [point["text"] for point in shown["sentiment_trail"]] == [
        "charge my card **** **** **** 1111 again?!"
    ]
    status, listed = await service.call("GET", "/api/tickets?status=assigned", token)
    assert status == 200
    [summary] = [ticket for ticket in listed["tickets"] if ticket["id"] == ticket_id]
    assert summary["preview"] == "x" * 130 + " my card …"
    assert CARD[:4] not in summary["preview"]

    # The customer gets the agent's words, and the database keeps everyone's intact.
    await wait_for(lambda: service.gateway.calls)
    [(conversation, events)] = service.gateway.calls
    assert (conversation, events[0]["text"]) == ("conv-pii", reply)
    with database.session() as session:
        texts = session.execute(
            select(MessageRow.text).where(MessageRow.ticket_id == ticket_id).order_by(MessageRow.id)
        ).scalars()
        assert list(texts) == [
            f"I'm {EMAIL}, call {PHONE}",
            f"We'll write to {EMAIL}.",
            later,
            "Dana took over.",
            reply,
            note,
        ]
        trail = session.execute(select(TicketRow.sentiment_trail)).scalar_one()
        assert CARD in trail


@pytest.mark.asyncio
async def test_a_live_event_shows_the_message_masked(
    start_service: Start,
    database: Database,
    agents: AgentAccounts,
    live_store: HandoffStore,
) -> None:
    service = await start_service(database)
    token = await service.login("dana")
    live_store.open_ticket(pii_request())
    async with service.client.ws_connect(f"/api/ws?token={token}") as socket:
        live_store.add_customer_message("conv-pii", f"new address: {EMAIL}")
        for _ in range(10):
            event = await socket.receive_json(timeout=5)
            if event.get("type") == "message.created":
                break
    assert event["message"]["text"] == "new address: j***@example.com"


def test_only_agents_lines_are_shown_unmasked() -> None:
    assert shown_text("agent", EMAIL) == EMAIL
    assert shown_text("note", EMAIL) == EMAIL
    for author in ("customer", "bot", "system"):
        assert shown_text(author, EMAIL) == "j***@example.com"
