"""Handlers of the agent HTTP API and the agents' websocket.

Every database call runs in a thread pool. Errors are ``{"error": message}``
with the status codes of ``docs/handoff.md``; the mapping of the store's
refusals to status codes is :data:`REFUSALS`.
"""

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple, Type, TypeVar

from aiohttp import WSMsgType, web

from bot.handoff.auth import AgentAccounts, LoginLimiter
from bot.handoff.delivery import DeliveryLoop
from bot.handoff.errors import (
    InvalidText,
    NotTicketOwner,
    TextTooLong,
    TicketConflict,
    TicketNotFound,
)
from bot.handoff.events import EventHub
from bot.handoff.store import HandoffStore
from bot.handoff.views import AgentView

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_TICKET_ID = 2**31 - 1
WS_MAX_MESSAGE_BYTES = 4096
WS_CLOSE_UNAUTHORISED = 4401
REFUSALS: Tuple[Tuple[Type[Exception], int], ...] = (
    (TicketNotFound, 404),
    (NotTicketOwner, 403),
    (TicketConflict, 409),
    (TextTooLong, 413),
    (InvalidText, 400),
    (ValueError, 400),
)


class ApiError(Exception):
    """Answer the request with ``{"error": message}`` and ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Services:
    """What the handlers work with; kept on the application."""

    store: HandoffStore
    accounts: AgentAccounts
    limiter: LoginLimiter
    delivery: DeliveryLoop
    hub: EventHub


SERVICES = web.AppKey("services", Services)
AGENT = "agent"
TOKEN = "token"


def error(status: int, message: str, **headers: str) -> web.Response:
    """Return ``{"error": message}`` with ``status``."""
    return web.json_response({"error": message}, status=status, headers=headers or None)


async def blocking(function: Callable[..., T], *args: Any) -> T:
    """Run a blocking call (database, password hashing) in the thread pool."""
    return await asyncio.to_thread(function, *args)


async def read_object(request: web.Request) -> Dict[str, Any]:
    """Read the body as a JSON object.

    Raises:
        web.HTTPRequestEntityTooLarge: Above the application's ``client_max_size``.
        ApiError: 400 when the body is not a UTF-8 JSON object.
    """
    raw = await request.read()  # aiohttp answers 413 above client_max_size
    try:
        payload = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not valid UTF-8") from None
    except (ValueError, RecursionError):
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return payload


def string_field(payload: Dict[str, Any], name: str) -> str:
    """Return a string field of the body, or answer 400."""
    value = payload.get(name)
    if not isinstance(value, str):
        raise ApiError(400, f'"{name}" must be a string')
    return value


def bearer_token(request: web.Request) -> Optional[str]:
    """Return the token of ``Authorization: Bearer <token>``, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def current_agent(request: web.Request) -> AgentView:
    """Return the agent the auth middleware found."""
    return request[AGENT]


def ticket_id(request: web.Request) -> int:
    """Return the ticket id of the path, or answer 404."""
    value = int(request.match_info["ticket_id"])
    if value > MAX_TICKET_ID:
        raise ApiError(404, "no such ticket")
    return value


async def ticket_call(function: Callable[..., Any], *args: Any) -> Any:
    """Run a store call, answering its refusals with their status codes."""
    try:
        return await blocking(function, *args)
    except Exception as exc:
        for kind, status in REFUSALS:
            if isinstance(exc, kind):
                message = "no such ticket" if isinstance(exc, TicketNotFound) else str(exc)
                raise ApiError(status, message) from None
        raise


# -- handlers -----------------------------------------------------------------------


async def login(request: web.Request) -> web.Response:
    """``POST /api/login``: a token for valid credentials."""
    services = request.app[SERVICES]
    payload = await read_object(request)
    username, password = string_field(payload, "username"), string_field(payload, "password")
    address = request.remote or "unknown"
    wait = services.limiter.retry_after(address, username)
    if wait is not None:
        return error(429, "too many failed logins; try again later", **{"Retry-After": str(wait)})
    result = await blocking(services.accounts.login, username, password)
    if result is None:
        services.limiter.failed(address, username)
        return error(401, "wrong username or password")
    services.limiter.succeeded(address, username)
    token, agent = result
    return web.json_response({"token": token, "agent": agent.to_json()})


async def logout(request: web.Request) -> web.Response:
    """``POST /api/logout``: revoke the token."""
    await blocking(request.app[SERVICES].accounts.logout, request[TOKEN])
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    """``GET /api/me``: the agent the token belongs to."""
    return web.json_response(current_agent(request).to_json())


async def list_tickets(request: web.Request) -> web.Response:
    """``GET /api/tickets?status=open|queued|assigned|mine|closed``."""
    view = request.query.get("status", "open")
    summaries = await ticket_call(
        request.app[SERVICES].store.list_tickets, view, current_agent(request)
    )
    return web.json_response({"tickets": [summary.to_json() for summary in summaries]})


async def get_ticket(request: web.Request) -> web.Response:
    """``GET /api/tickets/{id}``."""
    detail = await ticket_call(request.app[SERVICES].store.ticket_detail, ticket_id(request))
    return web.json_response(detail.to_json())


async def claim(request: web.Request) -> web.Response:
    """``POST /api/tickets/{id}/claim``."""
    store = request.app[SERVICES].store
    detail = await ticket_call(store.claim, ticket_id(request), current_agent(request))
    return web.json_response(detail.to_json())


async def post_message(request: web.Request) -> web.Response:
    """``POST /api/tickets/{id}/messages``: a reply for the customer."""
    services = request.app[SERVICES]
    number = ticket_id(request)
    text = string_field(await read_object(request), "text")
    message = await ticket_call(services.store.reply, number, current_agent(request), text)
    services.delivery.wake()
    return web.json_response(message.to_json(), status=201)


async def post_note(request: web.Request) -> web.Response:
    """``POST /api/tickets/{id}/notes``: an internal note."""
    store = request.app[SERVICES].store
    number = ticket_id(request)
    text = string_field(await read_object(request), "text")
    message = await ticket_call(store.add_note, number, current_agent(request), text)
    return web.json_response(message.to_json(), status=201)


async def hand_back(request: web.Request) -> web.Response:
    """``POST /api/tickets/{id}/handback``."""
    services = request.app[SERVICES]
    detail = await ticket_call(services.store.hand_back, ticket_id(request), current_agent(request))
    services.delivery.wake()
    return web.json_response(detail.to_json())


async def close(request: web.Request) -> web.Response:
    """``POST /api/tickets/{id}/close``."""
    services = request.app[SERVICES]
    detail = await ticket_call(services.store.close, ticket_id(request), current_agent(request))
    services.delivery.wake()
    return web.json_response(detail.to_json())


async def websocket(request: web.Request) -> web.StreamResponse:
    """``GET /api/ws?token=...``: live events; ``ping`` marks the agent online."""
    services = request.app[SERVICES]
    token = request.query.get("token") or bearer_token(request) or ""
    if await blocking(services.accounts.authenticate, token) is None:
        return error(401, "a valid token is required")
    socket = web.WebSocketResponse(heartbeat=30, max_msg_size=WS_MAX_MESSAGE_BYTES)
    await socket.prepare(request)
    services.hub.add(socket)
    try:
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                kind = json.loads(message.data).get("type")
            except (ValueError, AttributeError):
                kind = None
            if kind != "ping":
                await socket.send_json({"type": "error", "error": 'send {"type": "ping"}'})
                continue
            if await blocking(services.accounts.authenticate, token) is None:
                await socket.close(code=WS_CLOSE_UNAUTHORISED, message=b"token expired")
                break
            await socket.send_json({"type": "pong"})
    finally:
        services.hub.remove(socket)
    return socket
