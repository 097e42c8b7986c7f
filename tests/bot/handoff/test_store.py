import threading
from dataclasses import replace
from datetime import datetime, timezone
from typing import List, Tuple

import pytest
from sqlalchemy import select

from actions.db import Database, DatabaseUnavailable
from actions.settings import Settings
from bot.handoff.auth import AgentAccounts
from bot.handoff.errors import (
    InvalidText,
    NotTicketOwner,
    TextTooLong,
    TicketConflict,
    TicketNotFound,
)
from bot.handoff.models import EventRow
from bot.handoff.payloads import QueueStatus
from bot.handoff.store import CLOSE_TEXT, HANDBACK_TEXT, HandoffStore, get_handoff_store
from bot.handoff.views import AgentView
from tests.bot.handoff.support import NOW, PASSWORD, SETTINGS, Clock, point, request

DANA = "dana"


def agent(accounts: AgentAccounts, username: str = DANA, name: str = "Dana") -> AgentView:
    return accounts.create_agent(username, name, PASSWORD)


def events(database: Database) -> List[Tuple[str, int, bool]]:
    with database.session() as session:
        rows = session.execute(select(EventRow).order_by(EventRow.id)).scalars()
        return [(row.type, row.ticket_id, row.message_id is not None) for row in rows]


def test_open_ticket_queues_the_conversation(store: HandoffStore, any_database: Database) -> None:
    status = store.open_ticket(request())

    assert status == QueueStatus(
        ticket_id=status.ticket_id,
        status="queued",
        position=1,
        expected_wait_s=None,
        agents_online=0,
        within_office_hours=True,
        next_opening=None,
        agent_name=None,
    )
    detail = store.ticket_detail(status.ticket_id)
    assert detail.to_json() == {
        "id": status.ticket_id,
        "conversation_id": "conv-1",
        "channel": "rest",
        "reason": "strong_negative",
        "status": "queued",
        "priority": 27.0,
        "created_at": "2025-03-14T10:00:00+00:00",
        "waiting_s": 0,
        "agent": None,
        "last_sentiment": {"label": "negative", "score": -0.9},
        "preview": "this is useless!",
        "sentiment_trail": [
            {
                "label": "negative",
                "score": -0.9,
                "text": "message 0",
                "at": "2025-03-14T10:00:00+00:00",
            }
        ],
        "recent_intents": ["order_status", "complain"],
        "recommended": [{"sku": "SKU-1", "title": "Kettle", "price": 29.9, "currency": "EUR"}],
        "messages": [
            {
                "id": message.id,
                "ticket_id": status.ticket_id,
                "author": author,
                "text": text,
                "at": at,
                "agent_name": None,
                "delivered": True,
                "delivery_error": None,
            }
            for message, (author, text, at) in zip(
                detail.messages,
                [
                    ("customer", "where is my order?", "2025-03-14T09:58:00+00:00"),
                    ("bot", "It is on its way.", "2025-03-14T09:58:00+00:00"),
                    ("customer", "this is useless!", "2025-03-14T09:59:00+00:00"),
                ],
            )
        ],
    }
    assert len(detail.messages) == 3
    assert events(any_database) == [("ticket.created", status.ticket_id, False)]


def test_open_ticket_is_idempotent(store: HandoffStore, any_database: Database) -> None:
    first = store.open_ticket(request())
    second = store.open_ticket(request(scores=(-0.1,)))

    assert second == first
    assert store.active_ticket_id("conv-1") == first.ticket_id
    assert len(store.ticket_detail(first.ticket_id).messages) == 3
    assert [summary.id for summary in store.list_tickets("open", _nobody())] == [first.ticket_id]
    assert events(any_database) == [("ticket.created", first.ticket_id, False)]


def test_concurrent_opens_make_one_ticket(any_database: Database, clock: Clock) -> None:
    results: List[int] = []
    barrier = threading.Barrier(4)

    def open_one() -> None:
        store = HandoffStore(any_database, settings=SETTINGS, clock=clock)
        barrier.wait()
        results.append(store.open_ticket(request()).ticket_id)

    any_database.ensure_ready()
    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4 and len(set(results)) == 1
    store = HandoffStore(any_database, settings=SETTINGS, clock=clock)
    assert len(store.list_tickets("open", _nobody())) == 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"reason": "bored"}, "unknown handoff reason 'bored'"),
        ({"conversation_id": ""}, "bad conversation id ''"),
        ({"conversation_id": "x" * 256}, "bad conversation id"),
        ({"channel": ""}, "bad channel ''"),
    ],
)
def test_open_ticket_refuses_bad_requests(store: HandoffStore, change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.open_ticket(replace(request(), **change))


def test_queue_positions_follow_priority(
    store: HandoffStore, accounts: AgentAccounts, clock: Clock
) -> None:
    calm = store.open_ticket(request("calm", scores=(0.2, -0.1))).ticket_id
    clock.advance(300)
    angry = store.open_ticket(request("angry", scores=(0.5, -0.9, -0.8, -1.0))).ticket_id
    clock.advance(300)
    later = store.open_ticket(request("later", scores=())).ticket_id
    agent(accounts, "a1", "Ann")
    agent(accounts, "a2", "Bob")
    accounts.login("a1", PASSWORD)
    accounts.login("a2", PASSWORD)

    summaries = store.list_tickets("open", _nobody())

    # angry: 30 * 0.9 + 5 = 32; calm: 30 * 0 + 10 = 10; later: 0 + 0 = 0.
    assert [(s.id, s.priority, s.waiting_s) for s in summaries] == [
        (angry, 32.0, 300),
        (calm, 10.0, 600),
        (later, 0.0, 0),
    ]
    assert [store.queue_status(t).position for t in (angry, calm, later)] == [1, 2, 3]
    # Two agents online, 300 s per customer: ceil(n * 300 / 2).
    assert [store.queue_status(t).expected_wait_s for t in (angry, calm, later)] == [150, 300, 450]
    assert store.queue_status(later).agents_online == 2

    clock.advance(61)
    assert store.queue_status(later).expected_wait_s is None
    assert store.queue_status(later).agents_online == 0


def test_waiting_lifts_a_calm_customer_past_a_newer_angry_one(
    store: HandoffStore, clock: Clock
) -> None:
    calm = store.open_ticket(request("calm", scores=(0.0,))).ticket_id
    clock.advance(31 * 60)
    angry = store.open_ticket(request("angry", scores=(-1.0,))).ticket_id

    assert [s.id for s in store.list_tickets("queued", _nobody())] == [calm, angry]
    assert store.queue_status(angry).position == 2


def test_queue_status_outside_office_hours(store: HandoffStore, clock: Clock) -> None:
    clock.now = datetime(2025, 3, 15, 19, 0, tzinfo=timezone.utc)  # Saturday 20:00 in Vienna

    status = store.open_ticket(request())

    assert status.within_office_hours is False
    # Monday 08:00 in Vienna (CET, UTC+1).
    assert status.next_opening == datetime(2025, 3, 17, 7, 0, tzinfo=timezone.utc)
    assert status.expected_wait_s is None


def test_add_customer_message_appends_to_the_open_ticket(
    store: HandoffStore, any_database: Database, clock: Clock
) -> None:
    ticket_id = store.open_ticket(request(scores=(-0.3,))).ticket_id
    clock.advance(30)

    stored = store.add_customer_message(
        "conv-1", "<script>alert(1)</script>\x00", point(-0.9, "angry", clock.now)
    )

    assert stored == ticket_id
    detail = store.ticket_detail(ticket_id)
    last = detail.messages[-1]
    assert (last.author, last.text, last.at) == (
        "customer",
        "<script>alert(1)</script>\ufffd",
        clock.now,
    )
    assert [p.score for p in detail.sentiment_trail] == [-0.3, -0.9]
    # negativity = -(mean(-0.3, -0.9)) = 0.6 -> 18 points, plus 30 s waited.
    assert detail.summary.priority == 18.5
    assert detail.summary.preview == "<script>alert(1)</script>\ufffd"
    assert events(any_database)[-1] == ("message.created", ticket_id, True)
    assert store.add_customer_message("someone-else", "hello") is None


def test_claim_reply_and_hand_back(
    store: HandoffStore, accounts: AgentAccounts, any_database: Database, clock: Clock
) -> None:
    dana, bob = agent(accounts), agent(accounts, "bob", "Bob")
    ticket_id = store.open_ticket(request()).ticket_id

    with pytest.raises(TicketConflict, match="is not claimed yet"):
        store.reply(ticket_id, dana, "hello")
    claimed = store.claim(ticket_id, dana)
    assert claimed.summary.status == "assigned"
    assert claimed.summary.agent == dana
    assert claimed.messages[-1].author == "system"
    assert claimed.messages[-1].text == "Dana took over."
    assert store.queue_status(ticket_id).agent_name == "Dana"
    assert store.queue_status(ticket_id).position is None
    assert store.claim(ticket_id, dana).summary.agent == dana  # again: no change
    with pytest.raises(TicketConflict, match=f"ticket {ticket_id} is already taken by Dana"):
        store.claim(ticket_id, bob)
    with pytest.raises(NotTicketOwner):
        store.reply(ticket_id, bob, "hi")

    clock.advance(5)
    reply = store.reply(ticket_id, dana, "Hi, I'm Dana. <b>Sorry!</b>")
    assert (reply.author, reply.text, reply.agent_name, reply.delivered) == (
        "agent",
        "Hi, I'm Dana. <b>Sorry!</b>",
        "Dana",
        False,
    )
    assert store.ticket_detail(ticket_id).summary.waiting_s == 0
    assert [s.id for s in store.list_tickets("mine", dana)] == [ticket_id]
    assert store.list_tickets("mine", bob) == []

    note = store.add_note(ticket_id, bob, "VIP customer")
    assert (note.author, note.agent_name, note.delivered) == ("note", "Bob", True)

    done = store.hand_back(ticket_id, dana)
    assert done.summary.status == "handed_back"
    assert (done.messages[-1].author, done.messages[-1].text, done.messages[-1].delivered) == (
        "system",
        HANDBACK_TEXT,
        False,
    )
    assert store.active_ticket_id("conv-1") is None
    assert store.add_customer_message("conv-1", "thanks") is None
    with pytest.raises(TicketConflict, match="is handed back"):
        store.close(ticket_id, dana)
    assert [s.id for s in store.list_tickets("closed", dana)] == [ticket_id]
    assert store.list_tickets("open", dana) == []
    assert [e[0] for e in events(any_database)] == [
        "ticket.created",
        "ticket.updated",
        "message.created",
        "message.created",
        "message.created",
        "ticket.updated",
        "message.created",
    ]

    # The conversation can escalate again: a new ticket.
    again = store.open_ticket(request())
    assert again.ticket_id != ticket_id and again.status == "queued"


def test_close_lets_the_bot_resume(store: HandoffStore, accounts: AgentAccounts) -> None:
    dana = agent(accounts)
    ticket_id = store.open_ticket(request()).ticket_id
    store.claim(ticket_id, dana)

    closed = store.close(ticket_id, dana)

    assert closed.summary.status == "closed"
    assert closed.messages[-1].text == CLOSE_TEXT
    assert store.queue_status(ticket_id).status == "closed"
    assert store.active_ticket_id("conv-1") is None


def test_agent_texts_are_checked(store: HandoffStore, accounts: AgentAccounts) -> None:
    dana = agent(accounts)
    ticket_id = store.open_ticket(request()).ticket_id
    store.claim(ticket_id, dana)

    for text, error in [
        ("", InvalidText),
        ("  \n ", InvalidText),
        ("a\x00b", InvalidText),
        ("\ud800", InvalidText),
        ("x" * 4001, TextTooLong),
    ]:
        with pytest.raises(error):
            store.reply(ticket_id, dana, text)
        with pytest.raises(error):
            store.add_note(ticket_id, dana, text)
    assert store.reply(ticket_id, dana, "x" * 4000).text == "x" * 4000


def test_missing_tickets(store: HandoffStore, accounts: AgentAccounts) -> None:
    dana = agent(accounts)
    for call in (
        lambda: store.queue_status(999),
        lambda: store.ticket_detail(999),
        lambda: store.claim(999, dana),
        lambda: store.reply(999, dana, "hi"),
        lambda: store.add_note(999, dana, "hi"),
        lambda: store.hand_back(999, dana),
    ):
        with pytest.raises(TicketNotFound):
            call()
    with pytest.raises(ValueError, match="unknown ticket list 'everything'"):
        store.list_tickets("everything", dana)


def test_concurrent_claims_have_one_winner(
    any_database: Database, accounts: AgentAccounts, clock: Clock
) -> None:
    agents = [agent(accounts, f"agent{i}", f"Agent {i}") for i in range(4)]
    store = HandoffStore(any_database, settings=SETTINGS, clock=clock)
    ticket_id = store.open_ticket(request()).ticket_id
    outcomes: List[str] = []
    barrier = threading.Barrier(len(agents))

    def claim(who: AgentView) -> None:
        barrier.wait()
        try:
            store.claim(ticket_id, who)
            outcomes.append("won")
        except TicketConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=claim, args=(who,)) for who in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "won"]
    owner = store.ticket_detail(ticket_id).summary.agent
    assert owner in agents


def test_an_unreachable_database_is_reported() -> None:
    down = Database(Settings(database_url="postgresql://postgres@127.0.0.1:1/x?connect_timeout=2"))
    store = HandoffStore(down, settings=SETTINGS, clock=Clock())

    with pytest.raises(DatabaseUnavailable):
        store.open_ticket(request())
    with pytest.raises(DatabaseUnavailable):
        store.add_customer_message("conv-1", "hello")
    with pytest.raises(DatabaseUnavailable):
        store.active_ticket_id("conv-1")


def test_now_is_a_friday_morning() -> None:
    assert NOW.weekday() == 4


def _nobody() -> AgentView:
    return AgentView(id=0, username="nobody", display_name="Nobody")


def test_the_process_wide_store_is_made_once_without_connecting() -> None:
    first = get_handoff_store()

    assert get_handoff_store() is first
    assert first.settings.max_message_chars == 4000
