"""A channel on a real Sanic server with a fake Rasa agent, for the channel tests.

The agent records every :class:`UserMessage` the channel hands to Rasa and
answers through the message's output channel, the way Rasa does.
"""

import asyncio
import contextlib
import uuid
from typing import Any, AsyncIterator, Callable, Dict, List, Tuple

import aiohttp
from rasa.core.channels.channel import InputChannel, UserMessage, register
from sanic import Sanic

from tests.e2e.helpers import free_port

Reply = Dict[str, Any]


def echo(message: UserMessage) -> List[Reply]:
    return [{"text": f"echo: {message.text}"}]


class FakeAgent:
    """Stands in for Rasa's agent: records messages, answers with ``replies(message)``."""

    def __init__(self, replies: Callable[[UserMessage], List[Reply]] = echo) -> None:
        self.replies = replies
        self.received: List[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        for reply in self.replies(message):
            await message.output_channel.send_response(message.sender_id, reply)

    def texts(self) -> List[tuple]:
        """(sender id, text, input channel) of every message received."""
        return [(m.sender_id, m.text, m.input_channel) for m in self.received]


@contextlib.asynccontextmanager
async def serve(channel: InputChannel, agent: FakeAgent) -> AsyncIterator[str]:
    """Serve ``channel`` under ``/webhooks/``; yield its base URL, e.g. ``.../webhooks/slack``."""
    app = Sanic(f"channel_test_{uuid.uuid4().hex}")
    register([channel], app, route="/webhooks/")
    app.ctx.agent = agent
    server, url = await start(app)
    try:
        yield f"{url}/webhooks/{channel.name()}"
    finally:
        await server.before_stop()
        await stop(server)


async def start(app: Sanic) -> Tuple[Any, str]:
    """Start ``app`` on a free port, its start listeners run; return the server and base URL."""
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    await server.after_start()
    return server, f"http://127.0.0.1:{port}"


async def stop(server: Any, grace_s: float = 2.0) -> None:
    """Stop a Sanic server as its own runner does: drain, then abort, its connections.

    A connection left open (a long poll, a keep-alive) would otherwise be
    finalised after the test's event loop has closed.
    """
    server.close()
    await server.wait_closed()
    for connection in list(server.connections):
        connection.close_if_idle()
    for _ in range(int(grace_s / 0.05)):
        if not server.connections:
            break
        await asyncio.sleep(0.05)
    for connection in list(server.connections):
        connection.abort()
    await asyncio.sleep(0)


async def post(url: str, body: bytes, headers: Dict[str, str]) -> tuple:
    """POST raw ``body``; return (status, decoded body: JSON when it is JSON, else text)."""
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers=headers) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()
