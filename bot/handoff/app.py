"""The handoff service: the agent API, the console and the background loops.

:func:`create_app` wires the parts together; ``python -m bot.handoff serve``
runs it. While the application runs, three loops work in the background: the
delivery of agents' messages to Rasa, the live events for the agents'
websockets, and (when configured) the webhook.
"""

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, List, Optional

from aiohttp import WSCloseCode, web

from actions.db import Database, DatabaseUnavailable, utc_now
from bot.handoff import api
from bot.handoff.auth import AgentAccounts, LoginLimiter
from bot.handoff.delivery import DeliveryLoop, Outbox
from bot.handoff.events import EventHub, EventLog
from bot.handoff.rasa_gateway import RasaGateway
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HandoffStore
from bot.handoff.webhook import WebhookCursor, WebhookSender

logger = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent / "console"
MAX_BODY_BYTES = 64 * 1024
"""Larger request bodies are refused with 413 before they are read."""
PUBLIC_PATHS = ("/api/login", "/api/ws")
"""API paths that check credentials themselves."""
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BACKGROUND = web.AppKey("background", List[asyncio.Task])
GATEWAY = web.AppKey("gateway", RasaGateway)
WEBHOOK = web.AppKey("webhook", Optional[WebhookSender])


def create_app(
    database: Database,
    settings: HandoffSettings,
    gateway: RasaGateway,
    *,
    console_dir: Path = CONSOLE_DIR,
) -> web.Application:
    """Build the service.

    Args:
        database: The project database (shared with the action server).
        settings: The handoff settings.
        gateway: Where agents' messages go (Rasa).
        console_dir: The agent console's static files.

    Returns:
        The application; its background loops start with it and stop with it.
    """
    store = HandoffStore(database, settings=settings, clock=utc_now)
    log = EventLog(database, store)
    services = api.Services(
        store=store,
        accounts=AgentAccounts(database, token_ttl_s=settings.token_ttl_s),
        limiter=LoginLimiter(settings.login_max_failures, settings.login_window_s),
        delivery=DeliveryLoop(
            Outbox(database, retry_max_s=settings.retry_max_s),
            gateway,
            poll_interval_s=settings.poll_interval_s,
        ),
        hub=EventHub(log, poll_interval_s=settings.poll_interval_s),
    )
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[_errors_middleware, _auth_middleware]
    )
    app[api.SERVICES] = services
    app[GATEWAY] = gateway
    app[WEBHOOK] = None
    if settings.webhook_url and settings.webhook_secret:
        app[WEBHOOK] = WebhookSender(
            log,
            WebhookCursor(database),
            url=settings.webhook_url,
            secret=settings.webhook_secret,
            poll_interval_s=settings.poll_interval_s,
            retry_max_s=settings.retry_max_s,
        )
    _add_routes(app, console_dir)
    app.cleanup_ctx.append(_background_loops)
    app.on_shutdown.append(_close_websockets)
    return app


def _add_routes(app: web.Application, console_dir: Path) -> None:
    ticket = r"/api/tickets/{ticket_id:\d{1,12}}"
    app.router.add_post("/api/login", api.login)
    app.router.add_post("/api/logout", api.logout)
    app.router.add_get("/api/me", api.me)
    app.router.add_get("/api/tickets", api.list_tickets)
    app.router.add_get(ticket, api.get_ticket)
    app.router.add_post(ticket + "/claim", api.claim)
    app.router.add_post(ticket + "/messages", api.post_message)
    app.router.add_post(ticket + "/notes", api.post_note)
    app.router.add_post(ticket + "/handback", api.hand_back)
    app.router.add_post(ticket + "/close", api.close)
    app.router.add_get("/api/ws", api.websocket)
    app.router.add_get("/health", _health)
    index = console_dir / "index.html"

    async def console(_request: web.Request) -> web.StreamResponse:
        if not index.is_file():
            return web.Response(status=404, text="The agent console is not installed.\n")
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.router.add_get("/", console)
    if console_dir.is_dir():
        app.router.add_static("/static/", console_dir, follow_symlinks=False)


async def _health(request: web.Request) -> web.Response:
    """``GET /health``: ``{"status": "ok"}``, or 503 when the database is down."""
    try:
        await api.blocking(request.app[api.SERVICES].store.agents_online)
    except DatabaseUnavailable as exc:
        return web.json_response({"status": "unavailable", "error": str(exc)}, status=503)
    return web.json_response({"status": "ok"})


@web.middleware
async def _errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer API errors as ``{"error": ...}`` and add protective headers."""
    is_api = request.path.startswith("/api/")
    try:
        response = await handler(request)
    except api.ApiError as exc:
        response = api.error(exc.status, exc.message)
    except web.HTTPRequestEntityTooLarge:
        response = api.error(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
    except web.HTTPException as exc:
        if not is_api or exc.status < 400:
            raise
        response = api.error(exc.status, exc.reason.lower())
    except DatabaseUnavailable as exc:
        logger.warning("Database unavailable: %s", exc)
        response = api.error(503, "the database is unavailable; please try again shortly")
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("Unexpected error answering %s %s", request.method, request.path)
        response = api.error(500, "internal error")
    if not response.prepared:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if is_api:
            response.headers.setdefault("Cache-Control", "no-store")
        else:
            response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    return response


@web.middleware
async def _auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require a valid bearer token on the API, except login and the websocket."""
    if not request.path.startswith("/api/") or request.path in PUBLIC_PATHS:
        return await handler(request)
    token = api.bearer_token(request)
    if token is None:
        raise api.ApiError(401, "a bearer token is required")
    agent = await api.blocking(request.app[api.SERVICES].accounts.authenticate, token)
    if agent is None:
        raise api.ApiError(401, "the token is invalid or expired; please log in again")
    request[api.AGENT] = agent
    request[api.TOKEN] = token
    return await handler(request)


async def _close_websockets(app: web.Application) -> None:
    # Runs before aiohttp waits for open handlers: an open agent socket would
    # otherwise hold a shutdown (SIGTERM) for aiohttp's whole grace period.
    for socket in list(app[api.SERVICES].hub.sockets):
        await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


async def _background_loops(app: web.Application) -> AsyncIterator[None]:
    services = app[api.SERVICES]
    loops = [services.delivery.run(), services.hub.run()]
    webhook = app[WEBHOOK]
    if webhook is not None:
        loops.append(webhook.run())
    app[BACKGROUND] = [asyncio.create_task(loop) for loop in loops]
    yield
    for task in app[BACKGROUND]:
        task.cancel()
    for task in app[BACKGROUND]:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for socket in list(services.hub.sockets):
        await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
    await app[GATEWAY].close()
