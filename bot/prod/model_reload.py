"""A model loaded through Rasa's API (``PUT /model``) is adjusted like the one loaded at start.

Production mode adjusts Rasa's agent once the server has started
(``after_server_start`` listeners of the production channels): a strict
tracker store, checked action responses, pooled action-server connections,
the graph run without dask, and a frozen heap. Rasa's ``PUT /model`` builds a
new agent from the endpoints, so without this the new model would run with a
fail-safe tracker store again (a database outage would silently start the
customer's conversation over), a connection per action call and dask, while
the replaced model's reference cycles stayed frozen in memory.

:func:`readjust_after_model_load_on_start` wraps the route's handler: after a
successful load it runs :data:`AGENT_ADJUSTMENTS` on the new agent, then, when
the heap was frozen at start, unfreezes it, collects (the replaced model's
cycles go, once no message in flight holds them) and freezes it again.

Rasa does not close the replaced agent's connections either (its tracker
store's database pool, its RabbitMQ connection, its pooled action-server
connections): each load through the API would leave a set open. They are
closed :data:`RETIRE_AFTER_S` after the load, when the messages that were in
flight on the old agent are done (a conversation's lock lives 60 s at most).
"""

import asyncio
import functools
import gc
import logging
from typing import Any, Awaitable, Callable, Optional, Sequence

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.action_responses import install_on_start
from bot.prod.action_endpoint import KeepAliveEndpointConfig, keep_alive_action_endpoint_on_start
from bot.prod.garbage_collection import freeze_heap
from bot.prod.graph_runner import sequential_graph_runner_on_start
from bot.prod.tracker_store import primary_store, strict_tracker_store_on_start

logger = logging.getLogger(__name__)

Adjustment = Callable[[Sanic, Any], Awaitable[None]]

AGENT_ADJUSTMENTS: Sequence[Adjustment] = (
    strict_tracker_store_on_start,
    install_on_start,
    keep_alive_action_endpoint_on_start,
    sequential_graph_runner_on_start,
)
"""The listeners that adjust ``app.ctx.agent``, in the order they run at start."""

RETIRE_AFTER_S = 120.0
"""Seconds after a load through the API when the replaced agent's connections are closed."""

_WRAPPED = "_support_readjusts_after_load"


def readjust_after_model_load(
    app: Sanic, adjustments: Sequence[Adjustment] = AGENT_ADJUSTMENTS
) -> bool:
    """Make Rasa's ``PUT /model`` run ``adjustments`` on the agent it loads.

    Args:
        app: Rasa's Sanic app.
        adjustments: Listeners taking ``(app, loop)`` that adjust ``app.ctx.agent``.

    Returns:
        Whether the route was wrapped now (False without the route, which Rasa
        adds only with ``--enable-api``, or when already wrapped).
    """
    route = _put_model_route(app)
    if route is None or getattr(route.handler, _WRAPPED, False):
        return False
    load_model = route.handler

    @functools.wraps(load_model)
    async def load_model_and_adjust(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        replaced = getattr(request.app.ctx, "agent", None)
        result = await load_model(request, *args, **kwargs)
        if 200 <= result.status < 300:
            await _adjust(request.app, adjustments)
            _retire_later(request.app, replaced)
        return result

    setattr(load_model_and_adjust, _WRAPPED, True)
    route.handler = load_model_and_adjust
    # The router caches (route, handler, parameters) by path and method.
    type(app.router).get.cache_clear()
    return True


async def readjust_after_model_load_on_start(app: Sanic, _loop: Any) -> None:
    """Sanic ``after_server_start`` listener calling :func:`readjust_after_model_load`."""
    readjust_after_model_load(app)


async def retire_now_on_stop(app: Sanic, _loop: Any) -> None:
    """Sanic ``before_server_stop`` listener: close what replaced agents hold, without waiting."""
    retiring = getattr(app.ctx, "retiring_agents", set())
    for task in list(retiring):
        task.cancel()
    await asyncio.gather(*retiring, return_exceptions=True)


async def _adjust(app: Sanic, adjustments: Sequence[Adjustment]) -> None:
    for adjust in adjustments:
        await adjust(app, None)
    if getattr(app.ctx, "heap_frozen", False):
        gc.unfreeze()
        frozen = freeze_heap()
        logger.info("%d objects alive after the model load are kept out of collections.", frozen)
    logger.info("The model loaded through the API runs with production mode's adjustments.")


def _retire_later(app: Sanic, replaced: Any) -> None:
    if replaced is None or replaced is getattr(app.ctx, "agent", None):
        return
    retiring = getattr(app.ctx, "retiring_agents", None)
    if retiring is None:
        retiring = app.ctx.retiring_agents = set()
    task = asyncio.get_running_loop().create_task(_retire(app, replaced))
    retiring.add(task)
    task.add_done_callback(retiring.discard)


async def _retire(app: Sanic, replaced: Any) -> None:
    """Close the connections ``replaced`` holds that the current agent does not share."""
    try:
        await asyncio.sleep(RETIRE_AFTER_S)
    except asyncio.CancelledError:
        pass  # the server stops: close them now
    current = getattr(app.ctx, "agent", None)
    store = primary_store(getattr(replaced, "tracker_store", None))
    current_store = primary_store(getattr(current, "tracker_store", None))
    closed = []
    broker = getattr(store, "event_broker", None)
    if broker is not None and broker is not getattr(current_store, "event_broker", None):
        await _closing("event broker", broker.close())
        closed.append("event broker")
    endpoint = getattr(replaced, "action_endpoint", None)
    if isinstance(endpoint, KeepAliveEndpointConfig) and endpoint is not getattr(
        current, "action_endpoint", None
    ):
        await _closing("action endpoint", endpoint.close())
        closed.append("action endpoint")
    engine = getattr(store, "engine", None)
    if engine is not None and engine is not getattr(current_store, "engine", None):
        engine.dispose()
        closed.append("tracker store's database pool")
    logger.info("Closed the replaced model's connections: %s.", ", ".join(closed) or "none")


async def _closing(what: str, closing: Awaitable[None]) -> None:
    try:
        await closing
    except Exception:  # a connection already broken must not stop the others closing
        logger.warning("Could not close the replaced model's %s.", what, exc_info=True)


def _put_model_route(app: Sanic) -> Optional[Any]:
    for route in app.router.routes:
        if route.path == "model" and "PUT" in route.methods:
            return route
    return None
