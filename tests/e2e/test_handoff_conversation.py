"""A conversation handed to a human agent and back, over the REST channel.

Real servers (see ``conftest.servers``): Rasa with the trained model, the action
server and the handoff service, on one SQLite database. The customer turns
negative, a ticket appears, an agent claims it and answers through the agent
API, the answer reaches the customer's REST inbox, the customer's next message
goes to the agent and not to the bot, and after the hand back the bot answers
again with the slots it had.
"""

import time
from typing import Any, Callable, Dict, List, Optional, TypeVar

import pytest
import requests

from actions.db import Database
from actions.escalation import EscalationReason
from actions.handoff_messages import escalation_reply
from actions.settings import Settings
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HANDBACK_TEXT, HandoffStore
from tests.e2e.test_rest_conversation import _say, _variants

pytestmark = pytest.mark.slow

T = TypeVar("T")
SENDER = "e2e-handoff"
ANGRY = "This is absolutely terrible. Worst service ever, I am furious and disgusted!"
AGENT_REPLY = "Hi, I'm Dana from the support team. I'm looking into your order right now."
FOLLOW_UP = "ok, it was supposed to arrive last Monday"
# As the servers run (tests/e2e/processes.assistant_environment): always open.
OFFICE = HandoffSettings.from_env({"HANDOFF_OFFICE_HOURS": "24/7"})


def _eventually(probe: Callable[[], Optional[T]], what: str, seconds: float = 30) -> T:
    """Poll ``probe`` until it returns something other than None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = probe()
        if result is not None:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _login(servers: Dict[str, str]) -> Dict[str, str]:
    response = requests.post(
        f"{servers['handoff']}/api/login",
        json={"username": servers["agent_username"], "password": servers["agent_password"]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _ticket(servers: Dict[str, str], agent: Dict[str, str], ticket_id: int) -> Dict[str, Any]:
    response = requests.get(
        f"{servers['handoff']}/api/tickets/{ticket_id}", headers=agent, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def _inbox(servers: Dict[str, str]) -> List[Dict[str, Any]]:
    url = f"{servers['rasa']}/webhooks/rest/inbox/{SENDER}"
    response = requests.get(url, timeout=10)
    if response.status_code == 429:  # polled faster than the channel allows: wait as told
        time.sleep(int(response.headers["Retry-After"]))
        response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def _slots(servers: Dict[str, str]) -> Dict[str, Any]:
    response = requests.get(f"{servers['rasa']}/conversations/{SENDER}/tracker", timeout=10)
    response.raise_for_status()
    return response.json()["slots"]


def test_negative_customer_is_handed_to_an_agent_and_back(servers: Dict[str, str]) -> None:
    database = Database(Settings(database_url=servers["database_url"]))
    store = HandoffStore(database, settings=OFFICE)
    agent = _login(servers)

    # A normal turn first: the bot answers and fills the order_id slot.
    replies = _say(servers, SENDER, "hi, where is my order ORD-104233?")
    assert len(replies) == 2
    before = _slots(servers)
    assert before["order_id"] == "ORD-104233"
    assert before["handoff_active"] is False

    # A strongly negative message: an apology with the queue status, and a ticket.
    replies = _say(servers, SENDER, ANGRY)
    ticket_id = store.active_ticket_id(SENDER)
    assert ticket_id is not None
    queued = requests.get(f"{servers['handoff']}/api/tickets", headers=agent, timeout=10).json()
    summary = next(t for t in queued["tickets"] if t["conversation_id"] == SENDER)
    assert summary["id"] == ticket_id
    assert (summary["status"], summary["reason"], summary["channel"]) == (
        "queued",
        "strong_negative",
        "rest",
    )
    assert summary["last_sentiment"]["label"] == "negative"
    status = store.queue_status(ticket_id)
    expected = escalation_reply(
        EscalationReason.STRONG_NEGATIVE,
        status,
        OFFICE.office_hours,
    )
    assert replies == [expected]
    assert _slots(servers)["handoff_active"] is True

    # The agent claims it and answers; the answer reaches the customer's inbox.
    claimed = requests.post(
        f"{servers['handoff']}/api/tickets/{ticket_id}/claim", headers=agent, timeout=10
    )
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["status"] == "assigned"
    sent = requests.post(
        f"{servers['handoff']}/api/tickets/{ticket_id}/messages",
        headers=agent,
        json={"text": AGENT_REPLY},
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    inbox = _eventually(lambda: _inbox(servers) or None, "the agent's reply in the inbox")
    assert [(m["text"], m["agent"]) for m in inbox] == [(AGENT_REPLY, "Dana")]

    # The customer's next message goes to the agent, and the bot stays silent.
    assert _say(servers, SENDER, FOLLOW_UP) == []

    def customer_follow_up() -> Optional[Dict[str, Any]]:
        messages = _ticket(servers, agent, ticket_id)["messages"]
        return next(
            (m for m in messages if m["author"] == "customer" and m["text"] == FOLLOW_UP), None
        )

    assert _eventually(customer_follow_up, "the follow-up on the ticket")["author"] == "customer"
    transcript = [(m["author"], m["text"]) for m in _ticket(servers, agent, ticket_id)["messages"]]
    assert ("customer", ANGRY) in transcript
    assert ("agent", AGENT_REPLY) in transcript

    # Hand back: the customer is told, and the bot answers again with its slots intact.
    handed = requests.post(
        f"{servers['handoff']}/api/tickets/{ticket_id}/handback", headers=agent, timeout=10
    )
    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "handed_back"
    inbox = _eventually(
        lambda: _inbox(servers) if len(_inbox(servers)) == 2 else None, "the hand back message"
    )
    assert inbox[1]["text"] == HANDBACK_TEXT and inbox[1].get("handback") is True
    after = _eventually(
        lambda: _slots(servers) if _slots(servers)["handoff_active"] is False else None,
        "handoff_active to be reset",
    )
    assert after["order_id"] == before["order_id"]
    replies = _say(servers, SENDER, "hello there!")
    assert len(replies) == 1 and replies[0] in _variants("utter_greet")
    assert store.active_ticket_id(SENDER) is None
