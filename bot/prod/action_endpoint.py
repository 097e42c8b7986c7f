"""Rasa's calls to the action servers over kept-alive connections.

Rasa's ``EndpointConfig.request`` opens a new ``aiohttp.ClientSession`` for
every call, and with it a new TCP connection, which it closes after the
answer. Production mode calls the action servers (through nginx) for every
customer message and most actions, so under load each Rasa instance spent
about 2 % of its CPU opening and closing connections (docs/benchmarks.md,
"Load"). :class:`KeepAliveEndpointConfig` is the same endpoint whose sessions
share one connection pool: a connection is reused by the next call and closed
after ``KEEPALIVE_S`` idle seconds, before nginx would close it (75 s). Every
request is built as Rasa builds it (headers, token, basic auth, timeout).

Production mode installs it when Rasa has started
(:func:`keep_alive_action_endpoint_on_start`) and closes its connections when
Rasa stops (:func:`close_action_endpoint_on_stop`).
"""

import asyncio
import logging
from typing import Any, Optional

import aiohttp
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig
from sanic import Sanic

logger = logging.getLogger(__name__)

KEEPALIVE_S = 10.0
"""Idle seconds after which a pooled connection is closed."""


class KeepAliveEndpointConfig(EndpointConfig):
    """An ``EndpointConfig`` whose sessions share one pool of kept-alive connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Takes ``EndpointConfig``'s arguments."""
        super().__init__(*args, **kwargs)
        self._connector: Optional[aiohttp.TCPConnector] = None
        self._connector_loop: Optional[asyncio.AbstractEventLoop] = None

    @classmethod
    def from_endpoint(cls, endpoint: EndpointConfig) -> "KeepAliveEndpointConfig":
        """Return the same endpoint (URL, parameters, headers, credentials), kept alive."""
        return cls(
            url=endpoint.url,
            params=endpoint.params,
            headers=endpoint.headers,
            basic_auth=endpoint.basic_auth,
            token=endpoint.token,
            token_name=endpoint.token_name,
            cafile=endpoint.cafile,
            type=endpoint.type,
            **endpoint.kwargs,
        )

    def session(self) -> aiohttp.ClientSession:
        """Rasa's session for one request, on the shared connection pool.

        Closing the session (``request`` does) leaves the pool and its
        connections open.
        """
        auth = None
        if self.basic_auth:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
        return aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=self._shared_connector(),
            connector_owner=False,
        )

    def _shared_connector(self) -> aiohttp.TCPConnector:
        # A connector belongs to the event loop it was made in; Rasa makes its
        # requests on its server's loop, so there is one in practice.
        loop = asyncio.get_running_loop()
        if self._connector is None or self._connector.closed or self._connector_loop is not loop:
            self._connector = aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S)
            self._connector_loop = loop
        return self._connector

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._connector is not None:
            await self._connector.close()
            self._connector = None


def keep_alive_action_endpoint(agent: Any) -> bool:
    """Make the agent call its action endpoint over kept-alive connections.

    Args:
        agent: Rasa's ``Agent`` (``app.ctx.agent``), with its processor.

    Returns:
        Whether the endpoint was changed (False without one, or when already done).
    """
    endpoint = agent.action_endpoint
    if endpoint is None or isinstance(endpoint, KeepAliveEndpointConfig):
        return False
    kept_alive = KeepAliveEndpointConfig.from_endpoint(endpoint)
    # The processor reads its own copy; a model loaded later takes the agent's.
    agent.action_endpoint = kept_alive
    if agent.processor is not None:
        agent.processor.action_endpoint = kept_alive
    logger.info("Action server calls reuse their connections (%s).", endpoint.url)
    return True


async def keep_alive_action_endpoint_on_start(app: Sanic, _loop: Any) -> None:
    """Sanic ``after_server_start`` listener: the agent is loaded by then."""
    agent = getattr(app.ctx, "agent", None)
    if agent is not None:
        keep_alive_action_endpoint(agent)


async def close_action_endpoint_on_stop(app: Sanic, _loop: Any) -> None:
    """Sanic ``before_server_stop`` listener: close the pooled connections."""
    endpoint = getattr(getattr(app.ctx, "agent", None), "action_endpoint", None)
    if isinstance(endpoint, KeepAliveEndpointConfig):
        await endpoint.close()
