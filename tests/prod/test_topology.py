"""Production mode working normally: two Rasa instances sharing conversations.

See conftest.py for the topology. Each test is bounded (every request has a
timeout, every wait a deadline).
"""

import asyncio
import json
import threading
import time
from datetime import datetime, timezone
from typing import Any, Dict, List

import aio_pika
import pytest
import requests

from actions.db import Database
from actions.order_messages import status_message
from actions.orders import OrderRepository
from actions.settings import Settings
from bot.prod.preflight import rabbitmq_url
from bot.prod.settings import ProductionSettings
from tests.e2e.test_rest_conversation import _variants
from tests.prod.conftest import RABBITMQ_QUEUE
from tests.prod.topology import ProductionTopology, Reply

pytestmark = pytest.mark.slow

ORDER_ID = "ORD-104233"


def expected_status(prod: ProductionTopology) -> str:
    database = Database(Settings(database_url=prod.env["ASSISTANT_DATABASE_URL"]))
    try:
        order = OrderRepository(database).get(ORDER_ID)
    finally:
        database.dispose()
    assert order is not None
    return status_message(order, datetime.now(timezone.utc).date())


def test_a_conversation_alternates_between_the_instances(prod: ProductionTopology) -> None:
    first, second = prod.rasa_urls
    sender = "prod-alternate"

    # The order status form starts on the first instance and asks for the number...
    asked = prod.say(sender, "where is my order?", base_url=first)
    assert asked.status == 200
    assert len(asked.texts) == 1 and asked.texts[0] in _variants("utter_ask_order_id")
    tracker = prod.tracker(sender, base_url=second)
    assert tracker["active_loop"]["name"] == "order_status_form"

    # ...and the second instance, which never saw the customer, completes it.
    answered = prod.say(sender, ORDER_ID, base_url=second)
    assert answered.status == 200
    assert answered.texts[0] == expected_status(prod)
    assert answered.texts[1] in _variants("utter_anything_else")

    # Back on the first instance, the conversation goes on with the slots set.
    thanked = prod.say(sender, "thanks", base_url=first)
    assert len(thanked.texts) == 1 and thanked.texts[0] in _variants("utter_youre_welcome")
    tracker = prod.tracker(sender, base_url=first)
    assert tracker["slots"]["order_id"] == ORDER_ID
    assert tracker["active_loop"] == {}
    assert prod.user_texts(sender) == ["where is my order?", ORDER_ID, "thanks"]
    # Both instances called the action servers over kept-alive connections, ran
    # their model without dask and froze what they loaded.
    for name in ("rasa-1", "rasa-2"):
        log = prod.log(name, lines=10_000)
        assert "Action server calls reuse their connections" in log
        assert "The model's graph runs in a fixed order, without dask." in log
        assert "objects alive after start are kept out of garbage collection." in log


def test_the_api_requires_the_token(prod: ProductionTopology) -> None:
    for base_url in [prod.public_url, *prod.rasa_urls]:
        response = requests.get(f"{base_url}/conversations/someone/tracker", timeout=10)
        assert response.status_code == 401
        assert response.json()["reason"] == "NotAuthenticated"
        wrong = requests.get(
            f"{base_url}/conversations/someone/tracker", params={"token": "wrong"}, timeout=10
        )
        assert wrong.status_code == 401


def test_concurrent_messages_of_one_conversation_are_processed_in_order(
    prod: ProductionTopology,
) -> None:
    sender = "prod-concurrent"
    texts = ["hello there!", f"where is my order {ORDER_ID}?", "thanks", "goodbye"]
    replies: Dict[int, Reply] = {}
    logged_before = len(prod.access_log_upstreams())

    def send(index: int) -> None:
        replies[index] = prod.say(sender, texts[index])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
        # Requests overlap (a turn takes longer) but are issued in this order.
        time.sleep(0.15)
    for thread in threads:
        thread.join(timeout=180)
    assert sorted(replies) == [0, 1, 2, 3]
    assert all(reply.status == 200 for reply in replies.values())

    # Each request got the answer to its own message...
    assert replies[0].texts[0] in _variants("utter_greet")
    assert replies[1].texts[0] == expected_status(prod)
    assert replies[2].texts[0] in _variants("utter_youre_welcome")
    assert replies[3].texts[0] in _variants("utter_goodbye")
    # ...the tracker has the turns one after the other, in the order sent, each
    # complete before the next began, although both instances took part.
    events = prod.tracker(sender)["events"]
    turns: List[List[Dict[str, Any]]] = []
    for event in events:
        if event["event"] == "user":
            turns.append([event])
        elif turns:
            turns[-1].append(event)
    assert [turn[0]["text"] for turn in turns] == texts
    for number, turn in enumerate(turns):
        bot_texts = tuple(e["text"] for e in turn if e["event"] == "bot")
        assert bot_texts == replies[number].texts
        assert turn[-1]["event"] == "action" and turn[-1]["name"] == "action_listen"
    upstreams = prod.access_log_upstreams()[logged_before:]
    assert len(upstreams) == 4
    assert all(", " not in upstream for upstream in upstreams)
    assert {upstream.split(":")[-1] for upstream in upstreams} == {
        url.rsplit(":", 1)[1] for url in prod.rasa_urls
    }


def test_conversation_events_reach_rabbitmq(prod: ProductionTopology) -> None:
    sender = "prod-analytics"
    reply = prod.say(sender, "hello there!")
    assert reply.status == 200

    async def consume() -> List[Dict[str, Any]]:
        url = rabbitmq_url(ProductionSettings(rasa_auth_token="x"))
        received: List[Dict[str, Any]] = []
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(RABBITMQ_QUEUE)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                message = await queue.get(no_ack=True, fail=False)
                if message is None:
                    if any(e.get("event") == "bot" for e in received):
                        break
                    await asyncio.sleep(0.25)
                    continue
                event = json.loads(message.body)
                if event.get("sender_id") == sender:
                    received.append(event)
        return received

    events = asyncio.run(consume())
    user = [e for e in events if e["event"] == "user"]
    bot = [e for e in events if e["event"] == "bot"]
    assert [e["text"] for e in user] == ["hello there!"]
    assert user[0]["parse_data"]["intent"]["name"] == "greet"
    assert [e["text"] for e in bot] == list(reply.texts)
    # Published in the order they happened.
    assert events.index(user[0]) < events.index(bot[0])
