"""Local fakes of the four platforms' APIs, recording what the bot sends.

One small aiohttp server per platform, on a free port of 127.0.0.1:

* Telegram Bot API: ``POST /bot<token>/<method>`` (form fields, as aiogram sends them);
* Slack Web API: ``POST /api/<method>`` (JSON, as slack_sdk sends ``chat.postMessage``);
* Graph API: ``POST /v19.0/me/messages`` (JSON, as fbmessenger sends it);
* Twilio: ``POST /2010-04-01/Accounts/<sid>/Messages.json`` (form fields).

Each answers like the platform does, closely enough for the clients to parse
it; a platform named in :attr:`FakePlatformApis.failing` answers with an error
instead. :class:`ThreadedPlatformApis` runs them in a thread of their own for
synchronous tests.
"""

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set

from aiohttp import web

from tests.e2e.helpers import free_port

TELEGRAM, SLACK, FACEBOOK, TWILIO = "telegram", "slack", "facebook", "twilio"
GRAPH_VERSION = "v19.0"


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made to a platform's API.

    Attributes:
        platform: "telegram", "slack", "facebook" or "twilio".
        method: The API method: Telegram's and Slack's method name, "me/messages"
            for the Graph API, "Messages.json" for Twilio.
        path: The request path.
        query: The query parameters.
        headers: The request headers.
        body: The form fields or the JSON body.
        accepted: Whether the fake answered success (False while the platform fails).
    """

    platform: str
    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    body: Any
    accepted: bool = True


@dataclass
class FakePlatformApis:
    """The four fake APIs; :meth:`start` them in a running event loop."""

    calls: List[ApiCall] = field(default_factory=list)
    failing: Set[str] = field(default_factory=set)
    ports: Dict[str, int] = field(default_factory=dict)
    _runners: List[web.AppRunner] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, platform: str) -> str:
        """The base URL to configure as the channel's ``api_url``."""
        base = f"http://127.0.0.1:{self.ports[platform]}"
        return {SLACK: f"{base}/api/", FACEBOOK: f"{base}/{GRAPH_VERSION}"}.get(platform, base)

    async def start(self) -> None:
        """Start the four servers on free ports."""
        routes = {
            TELEGRAM: web.post("/bot{token}/{method}", self._telegram),
            SLACK: web.post("/api/{method}", self._slack),
            FACEBOOK: web.post(f"/{GRAPH_VERSION}/me/messages", self._facebook),
            TWILIO: web.post("/2010-04-01/Accounts/{sid}/Messages.json", self._twilio),
        }
        for platform, route in routes.items():
            app = web.Application()
            app.add_routes([route])
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            self._runners.append(runner)
            self.ports[platform] = port

    async def close(self) -> None:
        """Stop the servers."""
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    def calls_to(self, platform: str, method: Optional[str] = None) -> List[ApiCall]:
        """The calls to one platform (and method), oldest first."""
        with self._lock:
            return [
                call
                for call in self.calls
                if call.platform == platform and (method is None or call.method == method)
            ]

    async def _record(self, platform: str, method: str, request: web.Request) -> ApiCall:
        if request.content_type == "application/json":
            body: Any = await request.json()
        else:
            body = {key: value for key, value in (await request.post()).items()}
        call = ApiCall(
            platform=platform,
            method=method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
            accepted=platform not in self.failing,
        )
        with self._lock:
            self.calls.append(call)
        return call

    async def _telegram(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = await self._record(TELEGRAM, method, request)
        if TELEGRAM in self.failing:
            body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
            return web.json_response(body, status=500)
        result: Any = True
        if method == "sendMessage":
            result = {
                "message_id": len(self.calls),
                "date": int(time.time()),
                "chat": {"id": int(call.body["chat_id"]), "type": "private"},
                "text": call.body.get("text", ""),
            }
        elif method == "getMe":
            result = {"id": 1, "is_bot": True, "first_name": "Shop", "username": "shop_bot"}
        return web.json_response({"ok": True, "result": result})

    async def _slack(self, request: web.Request) -> web.Response:
        call = await self._record(SLACK, request.match_info["method"], request)
        if SLACK in self.failing:
            return web.json_response({"ok": False, "error": "fatal_error"})
        channel = call.body.get("channel") if isinstance(call.body, dict) else None
        return web.json_response({"ok": True, "channel": channel, "ts": f"{time.time():.6f}"})

    async def _facebook(self, request: web.Request) -> web.Response:
        call = await self._record(FACEBOOK, "me/messages", request)
        if FACEBOOK in self.failing:
            error = {"message": "An unknown error has occurred.", "type": "OAuthException"}
            return web.json_response({"error": {**error, "code": 1}}, status=500)
        recipient = call.body.get("recipient", {}).get("id")
        return web.json_response({"recipient_id": recipient, "message_id": f"m_{len(self.calls)}"})

    async def _twilio(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        call = await self._record(TWILIO, "Messages.json", request)
        if TWILIO in self.failing:
            error = {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}
            return web.json_response({**error, "status": 400}, status=400)
        return web.json_response(
            {
                "sid": f"SM{len(self.calls):032d}",
                "account_sid": sid,
                "to": call.body.get("To"),
                "from": call.body.get("From"),
                "body": call.body.get("Body"),
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
            },
            status=201,
        )


class ThreadedPlatformApis:
    """:class:`FakePlatformApis` on an event loop in a background thread."""

    def __init__(self) -> None:
        self.apis = FakePlatformApis()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> FakePlatformApis:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.apis.start(), self._loop).result(timeout=30)
        return self.apis

    def __exit__(self, *_: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.apis.close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()


def wait_for_calls(
    apis: FakePlatformApis,
    platform: str,
    method: str,
    where: Callable[[ApiCall], bool],
    count: int = 1,
    seconds: float = 60,
) -> List[ApiCall]:
    """Poll (blocking) until ``count`` calls match; return the matching calls.

    Raises:
        AssertionError: If they do not arrive within ``seconds``.
    """
    deadline = time.monotonic() + seconds
    matching: List[ApiCall] = []
    while time.monotonic() < deadline:
        matching = [call for call in apis.calls_to(platform, method) if where(call)]
        if len(matching) >= count:
            return matching
        time.sleep(0.2)
    seen = json.dumps([call.body for call in apis.calls_to(platform)], default=str)[:3000]
    raise AssertionError(f"{count} {platform} {method} call(s) did not arrive; calls: {seen}")


async def wait_for_calls_async(
    apis: FakePlatformApis,
    platform: str,
    method: str,
    where: Callable[[ApiCall], bool] = lambda _: True,
    count: int = 1,
    seconds: float = 10,
) -> List[ApiCall]:
    """Like :func:`wait_for_calls`, without blocking the event loop."""
    deadline = time.monotonic() + seconds
    matching: List[ApiCall] = []
    while time.monotonic() < deadline:
        matching = [call for call in apis.calls_to(platform, method) if where(call)]
        if len(matching) >= count:
            return matching
        await asyncio.sleep(0.05)
    seen = json.dumps([call.body for call in apis.calls_to(platform)], default=str)[:3000]
    raise AssertionError(f"{count} {platform} {method} call(s) did not arrive; calls: {seen}")
