"""Rasa's action server calls over kept-alive connections, built as Rasa builds them."""

from typing import Any, AsyncIterator, Dict, List

import pytest
import pytest_asyncio
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig

from bot.prod.action_endpoint import (
    KeepAliveEndpointConfig,
    close_action_endpoint_on_stop,
    keep_alive_action_endpoint,
    keep_alive_action_endpoint_on_start,
)
from tests.e2e.helpers import free_port


class ActionServer:
    """A small aiohttp server that records each request and the connection it came on."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.requests.append(
            {
                "connection": peer[1] if peer else None,
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "content_type": request.headers.get("Content-Type"),
                "x_team": request.headers.get("X-Team"),
                "authorization": request.headers.get("Authorization"),
                "body": await request.json(),
            }
        )
        return web.json_response({"events": [], "responses": [{"text": "ok"}]})


@pytest_asyncio.fixture
async def action_server() -> AsyncIterator[ActionServer]:
    server = ActionServer()
    app = web.Application()
    app.router.add_post("/webhook", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    server.url = f"http://127.0.0.1:{port}/webhook"
    yield server
    await runner.cleanup()


def endpoint(url: str) -> EndpointConfig:
    return EndpointConfig(
        url=url,
        params={"team": "support"},
        headers={"X-Team": "support"},
        basic_auth={"username": "rasa", "password": "secret"},
        token="t0ken",
    )


async def call(config: EndpointConfig, number: int) -> Any:
    return await config.request(json={"next_action": "action_x", "number": number}, method="post")


@pytest.mark.asyncio
async def test_calls_reuse_one_connection_where_rasa_opens_one_each(
    action_server: ActionServer,
) -> None:
    rasa_endpoint = endpoint(action_server.url)
    kept_alive = KeepAliveEndpointConfig.from_endpoint(rasa_endpoint)

    rasa_answers = [await call(rasa_endpoint, n) for n in range(4)]
    rasa_requests = list(action_server.requests)
    action_server.requests.clear()
    answers = [await call(kept_alive, n) for n in range(4)]
    await kept_alive.close()

    assert answers == rasa_answers == [{"events": [], "responses": [{"text": "ok"}]}] * 4
    assert len({r["connection"] for r in rasa_requests}) == 4
    assert len({r["connection"] for r in action_server.requests}) == 1
    # The same requests: method, path, token and parameters, headers, auth, body.
    strip = [{k: v for k, v in r.items() if k != "connection"} for r in action_server.requests]
    assert strip == [{k: v for k, v in r.items() if k != "connection"} for r in rasa_requests]
    assert strip[0]["query"] == {"team": "support", "token": "t0ken"}
    assert strip[0]["authorization"].startswith("Basic ")
    assert strip[3]["body"] == {"next_action": "action_x", "number": 3}


@pytest.mark.asyncio
async def test_a_closed_pool_is_replaced_by_the_next_call(action_server: ActionServer) -> None:
    kept_alive = KeepAliveEndpointConfig.from_endpoint(endpoint(action_server.url))
    await call(kept_alive, 1)
    await kept_alive.close()
    await call(kept_alive, 2)
    await kept_alive.close()
    assert [r["body"]["number"] for r in action_server.requests] == [1, 2]
    assert len({r["connection"] for r in action_server.requests}) == 2


def test_the_kept_alive_endpoint_equals_rasa_s() -> None:
    original = endpoint("http://actions:5055/webhook")
    kept_alive = KeepAliveEndpointConfig.from_endpoint(original)
    assert kept_alive == original
    assert kept_alive.cafile == original.cafile and kept_alive.kwargs == original.kwargs


class Processor:
    def __init__(self, action_endpoint: Any) -> None:
        self.action_endpoint = action_endpoint


class Agent:
    def __init__(self, action_endpoint: Any) -> None:
        self.action_endpoint = action_endpoint
        self.processor = Processor(action_endpoint)


def test_the_agent_and_its_processor_get_the_kept_alive_endpoint_once() -> None:
    agent = Agent(endpoint("http://actions:5055/webhook"))
    assert keep_alive_action_endpoint(agent) is True
    assert isinstance(agent.action_endpoint, KeepAliveEndpointConfig)
    assert agent.processor.action_endpoint is agent.action_endpoint
    installed = agent.action_endpoint
    assert keep_alive_action_endpoint(agent) is False
    assert agent.action_endpoint is installed


@pytest.mark.asyncio
async def test_without_an_action_endpoint_or_an_agent_nothing_changes() -> None:
    agent = Agent(None)
    assert keep_alive_action_endpoint(agent) is False
    assert agent.action_endpoint is None

    class App:
        class ctx:  # noqa: N801 (Sanic's name)
            agent = None

    await keep_alive_action_endpoint_on_start(App(), None)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_stopping_closes_the_pooled_connections(action_server: ActionServer) -> None:
    kept_alive = KeepAliveEndpointConfig.from_endpoint(endpoint(action_server.url))
    await call(kept_alive, 1)
    connector = kept_alive._shared_connector()
    assert not connector.closed

    class App:
        class ctx:  # noqa: N801 (Sanic's name)
            agent = Agent(kept_alive)

    await close_action_endpoint_on_stop(App(), None)  # type: ignore[arg-type]
    assert connector.closed
    App.ctx.agent = Agent(endpoint(action_server.url))  # Rasa's own: nothing to close
    await close_action_endpoint_on_stop(App(), None)  # type: ignore[arg-type]
