"""Faults in the middle of conversations: processes killed, stores stopped.

The supervisor restarts what dies, nginx routes around it, and customers get a
sentence, never a stack trace or silence. No acknowledged customer message, no
agent message and no ticket is lost, and nothing needs a manual step to
recover. Stores are always started again in a ``finally``.
"""

import os
import signal
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest
import requests

from actions.db import Database
from actions.escalation import EscalationReason
from actions.handoff_messages import escalation_reply
from actions.settings import Settings
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HANDBACK_TEXT, HandoffStore
from bot.prod.messages import ACTIONS_UNAVAILABLE, ASSISTANT_UNAVAILABLE
from tests.e2e.test_rest_conversation import _variants
from tests.prod.conftest import AGENT_PASSWORD, AGENT_USERNAME, LOCK_LIFETIME_S
from tests.prod.services import PrivatePostgres, PrivateRedis
from tests.prod.test_topology import ORDER_ID, expected_status
from tests.prod.topology import ProductionTopology, eventually

pytestmark = pytest.mark.slow

ANGRY = "This is absolutely terrible. Worst service ever, I am furious and disgusted!"
FOLLOW_UP = "ok, it was supposed to arrive last Monday"
AGENT_REPLY = "Hi, I'm Dana from the support team. I'm looking into your order right now."
OFFICE_HOURS = HandoffSettings.from_env({"HANDOFF_OFFICE_HOURS": "24/7"})
UNAVAILABLE = {"error": ASSISTANT_UNAVAILABLE}


def handoff_store(prod: ProductionTopology) -> Tuple[HandoffStore, Database]:
    database = Database(Settings(database_url=prod.env["ASSISTANT_DATABASE_URL"]))
    return HandoffStore(database, settings=OFFICE_HOURS), database


class Agent:
    """Dana, working through the handoff service's API."""

    def __init__(self, prod: ProductionTopology) -> None:
        self.url = prod.handoff_url
        response = requests.post(
            f"{self.url}/api/login",
            json={"username": AGENT_USERNAME, "password": AGENT_PASSWORD},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['token']}"}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method, f"{self.url}{path}", headers=self.headers, timeout=10, **kwargs
        )

    def ticket(self, ticket_id: int) -> Dict[str, Any]:
        response = self.call("GET", f"/api/tickets/{ticket_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def transcript(self, ticket_id: int) -> List[Tuple[str, str]]:
        return [(m["author"], m["text"]) for m in self.ticket(ticket_id)["messages"]]


def inbox(prod: ProductionTopology, sender: str) -> List[Dict[str, Any]]:
    response = requests.get(f"{prod.public_url}/webhooks/rest/inbox/{sender}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def escalate(prod: ProductionTopology, sender: str) -> int:
    """The customer turns strongly negative: an apology with the queue status, a ticket."""
    store, database = handoff_store(prod)
    try:
        reply = prod.say(sender, ANGRY)
        ticket_id = store.active_ticket_id(sender)
        assert ticket_id is not None
        expected = escalation_reply(
            EscalationReason.STRONG_NEGATIVE,
            store.queue_status(ticket_id),
            OFFICE_HOURS.office_hours,
        )
        assert (reply.status, reply.texts) == (200, (expected,))
        return ticket_id
    finally:
        database.dispose()


def test_action_servers_killed_mid_conversation(prod: ProductionTopology) -> None:
    sender = "prod-fault-actions"
    asked = prod.say(sender, "where is my order?")
    assert asked.texts[0] in _variants("utter_ask_order_id")

    # One action server dies: nginx sends the actions to the other one.
    first = prod.kill("actions-1")
    answered = prod.say(sender, ORDER_ID)
    assert answered.status == 200
    assert answered.texts[0] == expected_status(prod)
    prod.wait_restarted("actions-1", first, seconds=120)

    # Both die: the customer is told, once per message, and the bot carries on.
    pids = prod.kill("actions-1"), prod.kill("actions-2")
    during = prod.say(sender, "hello there!")
    assert during.status == 200
    assert during.texts[0] == ACTIONS_UNAVAILABLE
    assert len(during.texts) == 2 and during.texts[1] in _variants("utter_greet")

    # The supervisor brings them back; no one had to do anything.
    prod.wait_restarted("actions-1", pids[0], seconds=120)
    prod.wait_restarted("actions-2", pids[1], seconds=120)
    after = prod.say(sender, f"where is my order {ORDER_ID}?")
    assert after.texts[0] == expected_status(prod)
    assert prod.user_texts(sender) == [
        "where is my order?",
        ORDER_ID,
        "hello there!",
        f"where is my order {ORDER_ID}?",
    ]


def test_a_rasa_instance_killed_mid_conversation(prod: ProductionTopology) -> None:
    sender = "prod-fault-rasa"
    first, _ = prod.rasa_urls
    asked = prod.say(sender, "where is my order?", base_url=first)
    assert asked.texts[0] in _variants("utter_ask_order_id")

    old = prod.kill("rasa-1")
    logged_before = len(prod.access_log_upstreams())
    # nginx fails over; the other instance has the whole conversation.
    answered = prod.say(sender, ORDER_ID)
    assert answered.status == 200
    assert answered.texts[0] == expected_status(prod)
    thanked = prod.say(sender, "thanks")
    assert thanked.texts[0] in _variants("utter_youre_welcome")
    second_port = prod.rasa_urls[1].rsplit(":", 1)[1]
    for upstream in prod.access_log_upstreams()[logged_before:]:
        # The dead instance may be tried first; the answer comes from the other one.
        assert upstream.split(", ")[-1].endswith(f":{second_port}")

    # The restarted instance loads the model and takes the conversation back.
    prod.wait_restarted("rasa-1", old, seconds=300)
    bye = prod.say(sender, "goodbye", base_url=first)
    assert bye.texts[0] in _variants("utter_goodbye")
    assert prod.user_texts(sender) == ["where is my order?", ORDER_ID, "thanks", "goodbye"]


def test_a_rasa_instance_killed_while_answering(prod: ProductionTopology) -> None:
    sender = "prod-fault-rasa-busy"
    first, second = prod.rasa_urls
    asked = prod.say(sender, "where is my order?", base_url=second)
    assert asked.texts[0] in _variants("utter_ask_order_id")

    # Freeze the action servers so that the first instance is stuck in the
    # turn, holding the conversation's lock, when it is killed.
    frozen = [pid for pid in (prod.pid("actions-1"), prod.pid("actions-2")) if pid]
    outcome: Dict[str, Any] = {}

    def send() -> None:
        try:
            outcome["reply"] = prod.say(sender, ORDER_ID, base_url=first)
        except requests.RequestException as exc:
            outcome["error"] = exc

    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        sender_thread = threading.Thread(target=send)
        sender_thread.start()
        time.sleep(3)
        old = prod.kill("rasa-1")
        sender_thread.join(timeout=30)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    # The customer of the lost turn saw the connection fail (through nginx: a 503).
    assert "reply" not in outcome and isinstance(outcome["error"], requests.ConnectionError)

    # Sent again through nginx, the message waits for the dead instance's lock
    # to expire (TICKET_LOCK_LIFETIME) and is answered with the history intact.
    began = time.monotonic()
    answered = prod.say(sender, ORDER_ID)
    assert time.monotonic() - began < LOCK_LIFETIME_S + 15
    assert (answered.status, answered.texts[0]) == (200, expected_status(prod))
    assert prod.user_texts(sender) == ["where is my order?", ORDER_ID]
    prod.wait_restarted("rasa-1", old, seconds=300)


def test_the_handoff_service_restarted_mid_handoff(prod: ProductionTopology) -> None:
    sender = "prod-fault-handoff"
    ticket_id = escalate(prod, sender)

    # The service dies; the customer's next message still reaches the ticket,
    # because the action server writes it to the database directly.
    old = prod.kill("handoff")
    assert prod.say(sender, FOLLOW_UP).texts == ()
    restarted = prod.wait_restarted("handoff", old, seconds=60)

    agent = Agent(prod)
    transcript = agent.transcript(ticket_id)
    assert ("customer", ANGRY) in transcript and ("customer", FOLLOW_UP) in transcript
    claimed = agent.call("POST", f"/api/tickets/{ticket_id}/claim")
    assert claimed.status_code == 200 and claimed.json()["status"] == "assigned"

    # The agent answers and the service dies at once: the reply is in the
    # outbox and is delivered by the next process, exactly once to the inbox.
    sent = agent.call("POST", f"/api/tickets/{ticket_id}/messages", json={"text": AGENT_REPLY})
    assert sent.status_code == 201, sent.text
    prod.kill("handoff")
    prod.wait_restarted("handoff", restarted, seconds=60)
    delivered = eventually(lambda: inbox(prod, sender) or None, "the reply in the inbox", 60)
    assert [(m["text"], m["agent"]) for m in delivered] == [(AGENT_REPLY, "Dana")]
    # The login survived the restarts (tokens are in the database).
    message = next(m for m in agent.ticket(ticket_id)["messages"] if m["text"] == AGENT_REPLY)
    assert message["delivered"] is True

    handed = agent.call("POST", f"/api/tickets/{ticket_id}/handback")
    assert handed.status_code == 200, handed.text
    back = eventually(
        lambda: inbox(prod, sender) if len(inbox(prod, sender)) == 2 else None, "the hand back"
    )
    assert back[1]["text"] == HANDBACK_TEXT
    greeted = eventually(
        lambda: reply if (reply := prod.say(sender, "hello there!")).texts else None,
        "the bot to answer again",
    )
    assert greeted.texts[0] in _variants("utter_greet")


def test_postgresql_stopped_and_started_mid_conversation(
    prod: ProductionTopology, stores: Tuple[PrivatePostgres, PrivateRedis]
) -> None:
    postgres, _ = stores
    sender = "prod-fault-postgres"
    asked = prod.say(sender, "where is my order?")
    assert asked.texts[0] in _variants("utter_ask_order_id")

    postgres.stop()
    try:
        # Every instance says the message was not processed; nothing half-done.
        for base_url in [prod.public_url, *prod.rasa_urls]:
            during = prod.say(sender, ORDER_ID, base_url=base_url)
            assert (during.status, during.body) == (503, UNAVAILABLE)
        health = requests.get(f"{prod.handoff_url}/health", timeout=10)
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
    finally:
        postgres.start()

    # The customer sends it again: the form still waits for the number.
    after = prod.say(sender, ORDER_ID)
    assert (after.status, after.texts[0]) == (200, expected_status(prod))
    assert prod.user_texts(sender) == ["where is my order?", ORDER_ID]
    assert requests.get(f"{prod.handoff_url}/health", timeout=10).status_code == 200


def test_redis_stopped_and_started_mid_handoff(
    prod: ProductionTopology, stores: Tuple[PrivatePostgres, PrivateRedis]
) -> None:
    _, redis = stores
    sender = "prod-fault-redis"
    ticket_id = escalate(prod, sender)
    agent = Agent(prod)
    assert agent.call("POST", f"/api/tickets/{ticket_id}/claim").status_code == 200

    redis.stop()
    try:
        during = prod.say(sender, FOLLOW_UP)
        assert (during.status, during.body) == (503, UNAVAILABLE)
        # The agent's reply is kept in the outbox while Rasa cannot take it.
        sent = agent.call("POST", f"/api/tickets/{ticket_id}/messages", json={"text": AGENT_REPLY})
        assert sent.status_code == 201, sent.text

        def failed_attempt() -> Optional[Dict[str, Any]]:
            ticket = agent.ticket(ticket_id)
            line = next(m for m in ticket["messages"] if m["text"] == AGENT_REPLY)
            return line if line["delivery_error"] else None

        pending = eventually(failed_attempt, "a failed delivery attempt", 30)
        assert pending["delivered"] is False
    finally:
        redis.start()

    delivered = eventually(lambda: inbox(prod, sender) or None, "the reply in the inbox", 60)
    assert [(m["text"], m["agent"]) for m in delivered] == [(AGENT_REPLY, "Dana")]
    # The customer resends what was refused; it goes to the agent, the bot stays silent.
    resent = prod.say(sender, FOLLOW_UP)
    assert (resent.status, resent.texts) == (200, ())
    eventually(
        lambda: True if ("customer", FOLLOW_UP) in agent.transcript(ticket_id) else None,
        "the follow-up on the ticket",
    )
    assert agent.call("POST", f"/api/tickets/{ticket_id}/close").status_code == 200
