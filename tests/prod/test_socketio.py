"""The web widget's channel, socket.io, through nginx to the two Rasa instances.

Rasa 3.6 with the pinned python-engineio offers no websocket upgrade
(``"upgrades": []`` in the handshake, and a websocket opened directly is closed
by the server), so clients talk long polling, which needs every request of a
session on the same instance: nginx's sticky upstream.
"""

import asyncio
import uuid
from typing import List, Tuple

import pytest

from bot.prod.messages import ASSISTANT_UNAVAILABLE
from tests.e2e.test_rest_conversation import _variants
from tests.prod.services import PrivatePostgres, PrivateRedis
from tests.prod.topology import ProductionTopology

pytestmark = pytest.mark.slow


async def over_polling(url: str, texts: List[str]) -> List[str]:
    """Say each text with python-socketio over long polling; collect the replies."""
    import socketio

    received: asyncio.Queue = asyncio.Queue()
    client = socketio.AsyncClient(reconnection=False)
    client.on("bot_uttered", lambda data: received.put_nowait(data.get("text", "")))
    session_id = uuid.uuid4().hex
    await client.connect(url, transports=["polling"], socketio_path="/socket.io")
    try:
        await client.emit("session_request", {"session_id": session_id})
        replies = []
        for text in texts:
            await client.emit("user_uttered", {"message": text, "session_id": session_id})
            replies.append(await asyncio.wait_for(received.get(), timeout=60))
        return replies
    finally:
        await client.disconnect()


def test_a_socketio_conversation_through_nginx(prod: ProductionTopology) -> None:
    replies = asyncio.run(over_polling(prod.public_url, ["hello there!", "thanks"]))
    assert replies[0] in _variants("utter_greet")
    assert replies[1] in _variants("utter_youre_welcome")


def test_a_socketio_customer_is_told_when_redis_is_down(
    prod: ProductionTopology, stores: Tuple[PrivatePostgres, PrivateRedis]
) -> None:
    _, redis = stores
    redis.stop()
    try:
        during = asyncio.run(over_polling(prod.public_url, ["hello there!"]))
    finally:
        redis.start()
    assert during == [ASSISTANT_UNAVAILABLE]
    after = asyncio.run(over_polling(prod.public_url, ["hello there!"]))
    assert after[0] in _variants("utter_greet")
