"""A model loaded through ``PUT /model`` gets production mode's adjustments too."""

import asyncio
import gc
import logging
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, AsyncIterator, Dict, List, Tuple

import aiohttp
import pytest
import pytest_asyncio
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.prod import model_reload
from bot.prod.model_reload import readjust_after_model_load, retire_now_on_stop
from tests.bot.channels.harness import start, stop
from tests.bot.prod.test_event_broker import names, rabbitmq_running  # noqa: F401

TOKEN = "reload-test-token"


async def put_model(url: str, body: Dict[str, Any]) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.put(f"{url}/model?token={TOKEN}", json=body) as answer:
            return answer.status


# -- the route's handler is wrapped: adjustments after a successful load only ------------


@pytest_asyncio.fixture
async def fake_rasa() -> AsyncIterator[Tuple[Sanic, str, List[str]]]:
    """A Sanic app with Rasa's ``PUT /model`` contract, and the adjustments it saw."""
    app = Sanic(f"reload_test_{uuid.uuid4().hex}")
    app.ctx.agent = SimpleNamespace(name="start")
    adjusted: List[str] = []

    @app.put("/model")
    async def load_model(request: Request) -> HTTPResponse:
        model = request.json.get("model_file")
        if model == "missing.tar.gz":
            return response.json({"message": "could not be loaded"}, status=400)
        request.app.ctx.agent = SimpleNamespace(name=model)
        return response.empty(status=204)

    async def first(app: Sanic, _loop: Any) -> None:
        adjusted.append(f"first {app.ctx.agent.name}")

    async def second(app: Sanic, _loop: Any) -> None:
        adjusted.append(f"second {app.ctx.agent.name}")

    async def wrap(app: Sanic, _loop: Any) -> None:
        assert readjust_after_model_load(app, [first, second]) is True
        assert readjust_after_model_load(app, [first, second]) is False  # once

    app.register_listener(wrap, "after_server_start")
    app.register_listener(retire_now_on_stop, "before_server_stop")
    server, url = await start(app)
    try:
        yield app, url, adjusted
    finally:
        await server.before_stop()
        await stop(server)


@pytest.mark.asyncio
async def test_a_loaded_model_is_adjusted_in_order(
    fake_rasa: Tuple[Sanic, str, List[str]],
) -> None:
    app, url, adjusted = fake_rasa
    assert await put_model(url, {"model_file": "new.tar.gz"}) == 204
    assert app.ctx.agent.name == "new.tar.gz"
    assert adjusted == ["first new.tar.gz", "second new.tar.gz"]


@pytest.mark.asyncio
async def test_a_failed_load_adjusts_nothing(fake_rasa: Tuple[Sanic, str, List[str]]) -> None:
    app, url, adjusted = fake_rasa
    assert await put_model(url, {"model_file": "missing.tar.gz"}) == 400
    assert app.ctx.agent.name == "start"
    assert adjusted == []


def test_without_rasa_s_api_there_is_nothing_to_wrap() -> None:
    app = Sanic(f"reload_test_{uuid.uuid4().hex}")

    @app.get("/")
    async def health(_request: Request) -> HTTPResponse:
        return response.text("ok")

    assert readjust_after_model_load(app, []) is False


# -- Rasa's own app, the project's model and the production channels ------------------------


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.skipif(not rabbitmq_running(), reason="no RabbitMQ on 127.0.0.1:5672")
async def test_rasa_s_put_model_gets_the_production_adjustments(
    trained_model: Path,
    tmp_path: Path,
    names: Dict[str, str],  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import rasa.server
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import register
    from rasa.core.tracker_store import FailSafeTrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    from bot.prod.action_endpoint import KeepAliveEndpointConfig
    from bot.prod.channels import ProductionRestInput
    from bot.prod.graph_runner import SequentialGraphRunner
    from bot.prod.tracker_store import SingleReadSQLTrackerStore

    endpoints = AvailableEndpoints(
        action=EndpointConfig(url="http://127.0.0.1:9/webhook"),
        tracker_store=EndpointConfig(
            type="bot.prod.tracker_store.SingleReadSQLTrackerStore",
            dialect="sqlite",
            db=str(tmp_path / "trackers.db"),
        ),
        event_broker=EndpointConfig(
            type="bot.prod.event_broker.LeanPikaEventBroker",
            url="127.0.0.1",
            username="guest",
            password="guest",
            queues=[names["queue"]],
            exchange_name=names["exchange"],
        ),
    )
    monkeypatch.setattr(model_reload, "RETIRE_AFTER_S", 0.5)
    agent = await load_agent(model_path=str(trained_model), endpoints=endpoints)
    app = rasa.server.create_app(agent=agent, auth_token=TOKEN, endpoints=endpoints)
    register([ProductionRestInput()], app, route="/webhooks/")
    gc.unfreeze()
    server, url = await start(app)
    try:
        first = app.ctx.agent
        assert isinstance(first.tracker_store, SingleReadSQLTrackerStore)  # strict at start
        assert app.ctx.heap_frozen is True
        first.action_endpoint.session()  # opens its connection pool
        first_pool = first.tracker_store.engine.pool
        first_broker = first.tracker_store.event_broker
        assert first_broker.is_ready()

        assert await put_model(url, {"model_file": str(trained_model)}) == 204
        loaded = app.ctx.agent
        assert loaded is not first
        # Rasa builds these anew; without the adjustments they would be Rasa's own.
        assert isinstance(loaded.tracker_store, SingleReadSQLTrackerStore)
        assert not isinstance(loaded.processor.tracker_store, FailSafeTrackerStore)
        assert isinstance(loaded.action_endpoint, KeepAliveEndpointConfig)
        assert isinstance(loaded.processor.graph_runner, SequentialGraphRunner)
        assert gc.get_freeze_count() > 0

        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{url}/model/parse?token={TOKEN}", json={"text": "where is my order ORD-104187"}
            ) as parsed:
                assert parsed.status == 200
                assert (await parsed.json())["intent"]["name"] == "order_status"

        # The replaced agent's connections are closed once its messages are done.
        with caplog.at_level(logging.INFO, logger="bot.prod.model_reload"):
            await asyncio.sleep(1.0)
        assert [r.getMessage() for r in caplog.records if "replaced" in r.getMessage()] == [
            "Closed the replaced model's connections: event broker, action endpoint, "
            "tracker store's database pool."
        ]
        assert not first_broker.is_ready()
        assert first.action_endpoint._connector is None
        assert first.tracker_store.engine.pool is not first_pool
        assert loaded.tracker_store.event_broker.is_ready()
    finally:
        await server.before_stop()
        await stop(server)
        gc.unfreeze()
