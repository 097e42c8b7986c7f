"""The web widget server: the chat page, the widget's scripts, and the relay to Rasa.

Routes:

* ``GET /``: the chat page (``static/index.html``), the widget in a panel.
* ``GET /static/support-widget.js`` and ``.css``: the project's loader for
  rasa-webchat (configuration, agent labels, catching up after a reconnect).
* ``GET /vendor/rasa-webchat.js``: rasa-webchat's bundle from ``node_modules``.
* ``/socket.io/`` and ``GET /webhooks/rest/inbox/<sender_id>``: relayed to
  Rasa (:mod:`bot.web.proxy`).
* ``GET /health``: 200 ``{"status": "ok", "rasa": "ok"}``, or 503 with
  ``{"status": "unavailable", "error": ...}`` while Rasa is unreachable.

Pages on other sites may embed the widget (README, "Web chat widget"); the
relay answers them only if their origin is in ``WEB_ALLOWED_ORIGINS``.
"""

import asyncio
import logging
from pathlib import Path
from typing import Awaitable, Callable, Dict, Optional
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.web.proxy import INBOX_PREFIX, SOCKET_PATH, RasaRelay
from bot.web.settings import WebSettings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
HEALTH_TIMEOUT_S = 5
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; "
    # rasa-webchat injects its stylesheet in <style> elements.
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; connect-src 'self'; font-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSETS: Dict[str, str] = {
    "/static/support-widget.js": "support-widget.js",
    "/static/support-widget.css": "support-widget.css",
    "/static/page.css": "page.css",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RELAY = web.AppKey("relay", RasaRelay)
SETTINGS = web.AppKey("settings", WebSettings)


class WidgetMissing(Exception):
    """rasa-webchat's bundle is not installed."""


def create_app(
    settings: WebSettings, *, relay: Optional[RasaRelay] = None, static_dir: Path = STATIC_DIR
) -> web.Application:
    """Build the server.

    Args:
        settings: Where Rasa is, which sites may embed the widget, where the bundle is.
        relay: The relay to Rasa; one for ``settings.rasa_url`` by default.
        static_dir: The page and the loader.

    Returns:
        The application.

    Raises:
        WidgetMissing: If rasa-webchat's bundle is not at ``settings.widget_js``.
    """
    if not settings.widget_js.is_file():
        raise WidgetMissing(
            f"rasa-webchat is not installed ({settings.widget_js} is missing): run `make setup`"
        )
    relay = relay or RasaRelay(
        settings.rasa_url,
        connect_timeout_s=settings.rasa_timeout_s,
        websockets=settings.websockets,
    )
    app = web.Application(middlewares=[_security_headers, _origin_check])
    app[RELAY] = relay
    app[SETTINGS] = settings

    async def page(_: web.Request) -> web.StreamResponse:
        return _file(static_dir / "index.html", "text/html")

    async def asset(request: web.Request) -> web.StreamResponse:
        return _file(static_dir / _ASSETS[request.path])

    async def widget(_: web.Request) -> web.StreamResponse:
        return _file(settings.widget_js, "application/javascript")

    async def relayed(request: web.Request) -> web.StreamResponse:
        return await relay.forward(request)

    app.router.add_get("/", page)
    for path in _ASSETS:
        app.router.add_get(path, asset)
    app.router.add_get("/vendor/rasa-webchat.js", widget)
    app.router.add_get("/health", _health)
    app.router.add_route("*", SOCKET_PATH, relayed)
    app.router.add_route("GET", INBOX_PREFIX + "{sender_id}", relayed)
    app.router.add_route("OPTIONS", INBOX_PREFIX + "{sender_id}", relayed)
    app.on_shutdown.append(_close_relay)
    return app


def _file(path: Path, content_type: Optional[str] = None) -> web.FileResponse:
    headers = {"Cache-Control": "no-cache"}
    if content_type:
        headers["Content-Type"] = f"{content_type}; charset=utf-8"
    return web.FileResponse(path, headers=headers)


async def _health(request: web.Request) -> web.Response:
    relay = request.app[RELAY]
    timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(relay.rasa_url + "/") as response:
                if response.status != 200:
                    raise aiohttp.ClientResponseError(
                        response.request_info, (), status=response.status
                    )
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        error = f"Rasa at {relay.rasa_url} is unreachable: {exc!r}"
        return web.json_response({"status": "unavailable", "error": error}, status=503)
    return web.json_response({"status": "ok", "rasa": "ok"})


def _is_relayed(path: str) -> bool:
    return path == SOCKET_PATH or path.startswith(INBOX_PREFIX)


def _same_origin(request: web.Request, origin: str) -> bool:
    return urlsplit(origin).netloc == request.host


@web.middleware
async def _origin_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let pages from allowed sites use the relay (CORS), refuse the others."""
    if not _is_relayed(request.path):
        return await handler(request)
    origin = request.headers.get("Origin")
    cross_site = origin is not None and not _same_origin(request, origin)
    if cross_site and not request.app[SETTINGS].origin_allowed(origin or ""):
        message = f"pages from {origin} may not use this chat server (see WEB_ALLOWED_ORIGINS)"
        return web.json_response({"error": message}, status=403)
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            },
        )
    else:
        response = await handler(request)
    if cross_site and not response.prepared:  # a relayed websocket is already open
        response.headers["Access-Control-Allow-Origin"] = origin or ""
        response.headers["Vary"] = "Origin"
    return response


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # 404, 405, 413: JSON like every other error
        return web.json_response({"error": exc.reason}, status=exc.status)
    if not response.prepared:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.path == "/":
            response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


async def _close_relay(app: web.Application) -> None:
    await app[RELAY].close()
