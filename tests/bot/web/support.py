"""Helpers for the widget server tests: a fake Rasa and the server under test."""

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from bot.web.app import create_app
from bot.web.settings import WebSettings


class FakeRasa:
    """Rasa's routes the widget server relays to; records what reached it."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.socket_messages: List[str] = []
        self.handshake = b'0{"sid":"abc"}'
        self.hold: Optional[asyncio.Event] = None
        self.waiting = 0
        self.server: Optional[TestServer] = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_get("/", self.root)
        app.router.add_route("*", "/socket.io/", self.socket_io)
        app.router.add_get("/webhooks/rest/inbox/{sender_id:.+}", self.inbox)
        return app

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def root(self, _: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def socket_io(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            socket = web.WebSocketResponse()
            await socket.prepare(request)
            await socket.send_str(f"0{json.dumps({'query': request.query_string})}")
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self.socket_messages.append(message.data)
                    if message.data == "close please":
                        await socket.close()
                    else:
                        await socket.send_str(f"echo:{message.data}")
            return socket
        if self.hold is not None:  # a long poll: answer when released
            self.waiting += 1
            await self.hold.wait()
        body = await request.read()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "body": body.decode(),
                "content_type": request.headers.get("Content-Type"),
            }
        )
        response = web.Response(
            body=self.handshake, content_type="text/plain", headers={"Cache-Control": "x"}
        )
        if len(self.handshake) > 1024:
            response.enable_compression()  # as Engine.IO does for larger payloads
        return response

    async def inbox(self, request: web.Request) -> web.Response:
        self.requests.append(
            {"method": request.method, "raw_path": request.raw_path, "query": request.query_string}
        )
        return web.json_response({"messages": []})


def settings_for(rasa_url: str, widget_js: Path, **changes: Any) -> WebSettings:
    return WebSettings(rasa_url=rasa_url, widget_js=widget_js, **changes)


@contextlib.asynccontextmanager
async def running_rasa() -> AsyncIterator[FakeRasa]:
    rasa = FakeRasa()
    rasa.server = TestServer(rasa.app())
    await rasa.server.start_server()
    try:
        yield rasa
    finally:
        await rasa.server.close()


@contextlib.asynccontextmanager
async def widget_client(settings: WebSettings) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
