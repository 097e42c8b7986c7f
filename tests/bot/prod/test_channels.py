"""Production channels: a message that fails is reported, over a real Sanic server."""

import uuid
from typing import Any, AsyncIterator, List, Optional

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage, register
from sanic import Sanic

from bot.channels.limits import ChannelLimits
from bot.channels.settings import ChannelLimitSettings
from bot.prod.channels import ProductionRestInput, graceful
from bot.prod.messages import ASSISTANT_UNAVAILABLE
from tests.e2e.helpers import free_port


class FakeAgent:
    """Answers with an echo, or raises what it is told to (a store outage)."""

    def __init__(self) -> None:
        self.failure: Optional[BaseException] = None
        self.received: List[UserMessage] = []
        self.tracker_store = None

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.failure is not None:
            raise self.failure
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent()


LIMITS = ChannelLimitSettings(rate_per_minute=60, burst=2, max_message_chars=20)


@pytest_asyncio.fixture
async def base_url(agent: FakeAgent) -> AsyncIterator[str]:
    app = Sanic(f"prod_channel_test_{uuid.uuid4().hex}")
    channel = ProductionRestInput()
    channel.limits = ChannelLimits(LIMITS, "rest")
    register([channel], app, route="/webhooks/")
    app.ctx.agent = agent
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    try:
        yield f"http://127.0.0.1:{port}/webhooks/rest"
    finally:
        await server.close()


async def post(url: str, data: bytes) -> tuple:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=data) as resp:
            return resp.status, await resp.json(), resp.headers.get("Retry-After")


@pytest.mark.asyncio
async def test_a_message_is_answered(base_url: str, agent: FakeAgent) -> None:
    body = b'{"sender": "c-1", "message": "hi", "metadata": {"page": "/cart"}}'
    status, answer, _ = await post(f"{base_url}/webhook", body)
    assert (status, answer) == (200, [{"recipient_id": "c-1", "text": "echo: hi"}])
    [received] = agent.received
    assert (received.sender_id, received.text, received.input_channel) == ("c-1", "hi", "rest")
    assert received.metadata == {"page": "/cart"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "failure",
    [OSError("could not connect to server: Connection refused"), RuntimeError("lock store")],
)
async def test_a_failed_message_is_a_503_asking_to_resend(
    base_url: str, agent: FakeAgent, failure: BaseException
) -> None:
    agent.failure = failure
    status, answer, retry_after = await post(
        f"{base_url}/webhook", b'{"sender": "c-1", "message": "hi"}'
    )
    assert (status, answer, retry_after) == (503, {"error": ASSISTANT_UNAVAILABLE}, "5")


@pytest.mark.asyncio
async def test_health_and_inbox_routes_are_kept(base_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/") as resp:
            assert (resp.status, await resp.json()) == (200, {"status": "ok"})
        async with session.get(f"{base_url}/inbox/c-1") as resp:
            # The fake agent has no tracker store: the inbox says so.
            assert resp.status == 503
            assert await resp.json() == {
                "error": "the assistant is not ready yet, try again shortly"
            }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b'{"sender": "x"', 400, "the body must be JSON (UTF-8)"),
        (b"[1, 2]", 400, "the body must be a JSON object"),
        (
            b'{"message": "hi"}',
            400,
            "'sender' must be a string of 1 to 255 characters without control characters",
        ),
        (b'{"sender": "x", "message": ["hi"]}', 400, "'message' must be a string"),
        (b'{"sender": "x", "input_channel": "slack"}', 400, "'input_channel' can only be"),
        (b'{"sender": "x", "message": "' + b"a" * 21 + b'"}', 413, "longer than 20 characters"),
    ],
)
async def test_the_project_channel_checks_apply(
    base_url: str, agent: FakeAgent, body: bytes, status: int, error: str
) -> None:
    answer_status, answer, _ = await post(f"{base_url}/webhook", body)
    assert answer_status == status
    assert error in answer["error"]
    assert agent.received == []


@pytest.mark.asyncio
async def test_the_rate_limit_applies(base_url: str, agent: FakeAgent) -> None:
    statuses = []
    for _ in range(3):
        status, _, _ = await post(f"{base_url}/webhook", b'{"sender": "fast", "message": "hi"}')
        statuses.append(status)
    assert statuses == [200, 200, 429]
    assert len(agent.received) == 2


@pytest.mark.asyncio
async def test_graceful_tells_the_customer_when_handling_fails() -> None:
    async def broken(message: UserMessage) -> Any:
        raise ConnectionError("Redis is down")

    output = CollectingOutputChannel()
    await graceful(broken)(UserMessage("hi", output, "c-9"))
    assert output.messages == [{"recipient_id": "c-9", "text": ASSISTANT_UNAVAILABLE}]


@pytest.mark.asyncio
async def test_graceful_passes_replies_through() -> None:
    async def echo(message: UserMessage) -> Any:
        await message.output_channel.send_text_message(message.sender_id, "hello")

    output = CollectingOutputChannel()
    await graceful(echo)(UserMessage("hi", output, "c-9"))
    assert output.messages == [{"recipient_id": "c-9", "text": "hello"}]


def test_production_channels_install_their_start_listeners() -> None:
    from bot.action_responses import install_on_start
    from bot.prod.action_endpoint import (
        close_action_endpoint_on_stop,
        keep_alive_action_endpoint_on_start,
    )
    from bot.prod.channels import ProductionSocketIOInput
    from bot.prod.garbage_collection import freeze_heap_on_start
    from bot.prod.graph_runner import sequential_graph_runner_on_start
    from bot.prod.model_reload import readjust_after_model_load_on_start
    from bot.prod.tracker_store import strict_tracker_store_on_start

    async def on_new_message(_message: UserMessage) -> None:
        return None

    for channel in (ProductionRestInput(), ProductionSocketIOInput()):
        blueprint = channel.blueprint(on_new_message)
        # Sanic keeps a blueprint's listeners until the blueprint is registered.
        listeners = [(f.listener, f.event) for f in blueprint._future_listeners]
        assert listeners.count((strict_tracker_store_on_start, "after_server_start")) == 1
        assert listeners.count((install_on_start, "after_server_start")) == 1
        assert listeners.count((keep_alive_action_endpoint_on_start, "after_server_start")) == 1
        assert listeners.count((sequential_graph_runner_on_start, "after_server_start")) == 1
        assert listeners.count((readjust_after_model_load_on_start, "after_server_start")) == 1
        assert listeners.count((close_action_endpoint_on_stop, "before_server_stop")) == 1
        # Freezing comes last, once the others have built what they keep.
        starts = [listener for listener, event in listeners if event == "after_server_start"]
        assert starts[-1] is freeze_heap_on_start
