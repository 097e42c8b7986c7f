"""Relaying the widget's traffic to Rasa, so that the page and its socket share one origin.

The browser talks only to this server: socket.io (Engine.IO long polling, and
websockets where enabled) under ``/socket.io/`` and the handoff inbox under
``/webhooks/rest/inbox/``. :class:`RasaRelay` forwards both to Rasa unchanged.
Rasa then needs no CORS settings and need not be reachable from the internet,
and a page on another site only needs to be in ``WEB_ALLOWED_ORIGINS``.

When Rasa is down a request gets 502 with ``{"error": ...}`` and a websocket
is refused the same way; socket.io in the browser keeps retrying.

A request body (or websocket message) over ``CHANNEL_MAX_BODY_BYTES`` (64 KiB,
the cap Rasa's channels apply too) is refused with 413 before it is read
whole, and a socket.io body that is not UTF-8 with 400, each as
``{"error": ...}``; nothing of either reaches Rasa. Everything else is relayed
byte for byte.

Long polling only, by default. Rasa 3.6 serves socket.io through Sanic 21.12,
whose websocket ``recv`` passes coroutines to ``asyncio.wait``; Python 3.11
refuses that, so the upgrade to a websocket fails half way and leaves the
Engine.IO session holding every later packet back: the widget would connect
and then hear nothing. Unless websockets are enabled (``WEB_WEBSOCKETS``, for
a Rasa on Python 3.10), the relay therefore removes ``websocket`` from the
upgrades Engine.IO offers in its handshake, and refuses websocket requests.
"""

import asyncio
import contextlib
import json
import logging
import weakref
from typing import Optional, Set, Union

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web
from yarl import URL

from bot.channels.settings import ChannelLimitSettings

logger = logging.getLogger(__name__)

SOCKET_PATH = "/socket.io/"
INBOX_PREFIX = "/webhooks/rest/inbox/"
LONG_POLL_READ_S = 90
"""Engine.IO holds a poll open for up to its ping interval (25 s) plus timeout (20 s)."""
_FORWARDED_REQUEST_HEADERS = ("Content-Type", "Accept")
_FORWARDED_RESPONSE_HEADERS = ("Content-Type", "Cache-Control")
_RECORD_SEPARATOR = b"\x1e"
"""Separates packets in an Engine.IO (protocol 4) polling payload."""

WebSocket = Union[web.WebSocketResponse, aiohttp.ClientWebSocketResponse]


class RasaRelay:
    """Forwards HTTP requests and websockets to Rasa; the HTTP session is made on first use.

    Args:
        rasa_url: Rasa's base URL, e.g. ``http://localhost:5005``.
        connect_timeout_s: Seconds to wait for Rasa to accept a connection.
        websockets: Relay websockets; when False, keep clients on long polling.
        max_body_bytes: Largest request body or websocket message relayed;
            ``CHANNEL_MAX_BODY_BYTES`` when None.

    Raises:
        ValueError: If ``max_body_bytes`` is None and ``CHANNEL_MAX_BODY_BYTES``
            is invalid.
    """

    def __init__(
        self,
        rasa_url: str,
        *,
        connect_timeout_s: int = 10,
        websockets: bool = False,
        max_body_bytes: Optional[int] = None,
    ) -> None:
        self._rasa_url = rasa_url.rstrip("/")
        self._websockets = websockets
        if max_body_bytes is None:
            max_body_bytes = ChannelLimitSettings.from_env().max_body_bytes
        self.max_body_bytes = max_body_bytes
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_read=LONG_POLL_READ_S
        )
        self._session: Optional[aiohttp.ClientSession] = None
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    @property
    def rasa_url(self) -> str:
        """Rasa's base URL."""
        return self._rasa_url

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Bodies are decompressed here and relayed plain (Engine.IO gzips larger payloads).
            # No cap on connections: every open chat holds one long poll to Rasa, and
            # aiohttp's default cap (100) would make the 101st chat wait for a free one.
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=0)
            )
        return self._session

    def upstream_url(self, request: web.Request) -> URL:
        """Return Rasa's URL for a request: the same path and query, still encoded."""
        return URL(self._rasa_url + request.rel_url.raw_path_qs, encoded=True)

    async def forward(self, request: web.Request) -> web.StreamResponse:
        """Relay a request to Rasa: a websocket if it asks for one, else plain HTTP."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if not self._websockets:
                return web.json_response(
                    {"error": "this server relays socket.io over long polling only"}, status=400
                )
            return await self._forward_websocket(request)
        return await self._forward_http(request)

    async def _forward_http(self, request: web.Request) -> web.Response:
        body = None
        if request.can_read_body:
            body = await read_capped(request, self.max_body_bytes)
            if body is None:
                return error(413, f"the request body is larger than {self.max_body_bytes} bytes")
            if request.path == SOCKET_PATH and not _is_utf8(body):
                return error(400, "the body is not UTF-8 text")
        headers = {
            name: request.headers[name]
            for name in _FORWARDED_REQUEST_HEADERS
            if name in request.headers
        }
        try:
            async with self._client().request(
                request.method, self.upstream_url(request), data=body, headers=headers
            ) as upstream:
                payload = await upstream.read()
                if not self._websockets and _is_handshake(request, upstream.status):
                    payload = without_websocket_upgrade(payload)
                forwarded = {
                    name: upstream.headers[name]
                    for name in _FORWARDED_RESPONSE_HEADERS
                    if name in upstream.headers
                }
                return web.Response(status=upstream.status, body=payload, headers=forwarded)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("Rasa at %s is unreachable: %r", self._rasa_url, exc)
            return unreachable()

    async def _forward_websocket(self, request: web.Request) -> web.StreamResponse:
        url = self.upstream_url(request).with_scheme(
            "wss" if self._rasa_url.startswith("https") else "ws"
        )
        try:
            upstream = await self._client().ws_connect(url, max_msg_size=self.max_body_bytes)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("Rasa at %s refused the websocket: %r", self._rasa_url, exc)
            return unreachable()
        browser = web.WebSocketResponse(max_msg_size=self.max_body_bytes)
        await browser.prepare(request)
        self._sockets.add(browser)
        try:
            await _pump_both(browser, upstream)
        finally:
            await upstream.close()
            await browser.close()
        return browser

    async def close(self) -> None:
        """Close the browsers' websockets and the HTTP session (on shutdown)."""
        for socket in list(self._sockets):
            with contextlib.suppress(Exception):
                await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        if self._session is not None:
            await self._session.close()
            self._session = None


def _is_handshake(request: web.Request, status: int) -> bool:
    query = request.query
    return (
        status == 200
        and request.method == "GET"
        and query.get("EIO") == "4"
        and query.get("transport") == "polling"
        and "sid" not in query
    )


def without_websocket_upgrade(payload: bytes) -> bytes:
    """Remove the websocket upgrade from an Engine.IO handshake (its "open" packet).

    Args:
        payload: A polling payload whose first packet is ``0{"sid": ..., "upgrades": [...]}``.

    Returns:
        The payload with ``"upgrades": []``; anything else unchanged.
    """
    first, separator, rest = payload.partition(_RECORD_SEPARATOR)
    if not first.startswith(b"0{"):
        return payload
    try:
        handshake = json.loads(first[1:])
    except ValueError:
        return payload
    if not isinstance(handshake, dict):
        return payload
    handshake["upgrades"] = []
    opened = b"0" + json.dumps(handshake, separators=(",", ":")).encode()
    return opened + separator + rest


async def read_capped(request: web.Request, limit: int) -> Optional[bytes]:
    """Read a request's body, or None as soon as it is known to exceed ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def error(status: int, message: str) -> web.Response:
    """A JSON error answer: ``{"error": message}``."""
    return web.json_response({"error": message}, status=status)


def unreachable() -> web.Response:
    """The answer when Rasa cannot be reached."""
    return error(502, "the assistant is unreachable, try again in a moment")


async def _pump_both(
    browser: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
) -> None:
    """Copy messages both ways until either side closes."""
    tasks: Set[asyncio.Task] = {
        asyncio.ensure_future(_pump(browser, upstream)),
        asyncio.ensure_future(_pump(upstream, browser)),
    }
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _pump(source: WebSocket, target: WebSocket) -> None:
    async for message in source:  # ends when source closes
        if message.type == WSMsgType.TEXT:
            await target.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await target.send_bytes(message.data)
        else:  # ERROR
            return
