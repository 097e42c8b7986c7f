import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from bot.web.app import RELAY, create_app
from bot.web.proxy import without_websocket_upgrade
from tests.bot.web.support import running_rasa, settings_for, widget_client

pytestmark = pytest.mark.asyncio


@pytest.fixture
def widget_js(tmp_path: Path) -> Path:
    path = tmp_path / "index.js"
    path.write_text("window.WebChat = {};")
    return path


async def test_long_polling_is_relayed_unchanged(widget_js: Path) -> None:
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        polled = await client.get("/socket.io/?EIO=4&transport=polling&t=Nabc&sid=abc")
        posted = await client.post(
            "/socket.io/?EIO=4&transport=polling&sid=abc",
            data='42["user_uttered",{"message":"hi","session_id":"s1"}]',
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )

        assert (polled.status, await polled.text()) == (200, '0{"sid":"abc"}')
        assert polled.headers["Content-Type"] == "text/plain"
        assert polled.headers["Cache-Control"] == "x"
        assert posted.status == 200
    assert rasa.requests == [
        {
            "method": "GET",
            "path": "/socket.io/",
            "query": "EIO=4&transport=polling&t=Nabc&sid=abc",
            "body": "",
            "content_type": None,
        },
        {
            "method": "POST",
            "path": "/socket.io/",
            "query": "EIO=4&transport=polling&sid=abc",
            "body": '42["user_uttered",{"message":"hi","session_id":"s1"}]',
            "content_type": "text/plain;charset=UTF-8",
        },
    ]


async def test_a_compressed_payload_is_relayed_plain(widget_js: Path) -> None:
    async with running_rasa() as rasa:
        rasa.handshake = ('42["bot_uttered",{"text":"' + "é" * 3000 + '"}]').encode()
        async with widget_client(settings_for(rasa.url, widget_js)) as client:
            polled = await client.get(
                "/socket.io/?EIO=4&transport=polling&sid=abc",
                headers={"Accept-Encoding": "identity"},
            )
            assert "Content-Encoding" not in polled.headers
            assert await polled.read() == rasa.handshake


async def test_the_handshake_offers_no_websocket_upgrade_by_default(widget_js: Path) -> None:
    async with running_rasa() as rasa:
        rasa.handshake = (
            b'0{"sid":"abc","upgrades":["websocket"],"pingTimeout":20000,'
            b'"pingInterval":25000,"maxPayload":1000000}\x1e40'
        )
        async with widget_client(settings_for(rasa.url, widget_js)) as client:
            opened = await (await client.get("/socket.io/?EIO=4&transport=polling&t=1")).read()
            polled = await (await client.get("/socket.io/?EIO=4&transport=polling&sid=a")).read()
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect("/socket.io/?EIO=4&transport=websocket&sid=abc")
        async with widget_client(settings_for(rasa.url, widget_js, websockets=True)) as client:
            enabled = await (await client.get("/socket.io/?EIO=4&transport=polling&t=2")).read()

        assert opened == (
            b'0{"sid":"abc","upgrades":[],"pingTimeout":20000,'
            b'"pingInterval":25000,"maxPayload":1000000}\x1e40'
        )
        assert polled == rasa.handshake  # only the handshake is changed
        assert refused.value.status == 400
        assert enabled == rasa.handshake
    assert rasa.socket_messages == []


@pytest.mark.parametrize(
    "payload",
    [b"", b"40", b"0not json", b"0[1,2]", b'6\x1e0{"upgrades":["websocket"]}'],
)
async def test_other_payloads_are_left_alone(payload: bytes) -> None:
    assert without_websocket_upgrade(payload) == payload


async def test_the_websocket_is_relayed_both_ways_when_enabled(widget_js: Path) -> None:
    async with (
        running_rasa() as rasa,
        widget_client(settings_for(rasa.url, widget_js, websockets=True)) as client,
    ):
        socket = await client.ws_connect("/socket.io/?EIO=4&transport=websocket&sid=abc")
        opened = await socket.receive_str(timeout=5)
        await socket.send_str('42["user_uttered",{"message":"ünï"}]')
        echoed = await socket.receive_str(timeout=5)
        await socket.send_str("close please")  # Rasa closes: so does the browser's socket
        closed = await socket.receive(timeout=5)
        await socket.close()

    assert json.loads(opened[1:]) == {"query": "EIO=4&transport=websocket&sid=abc"}
    assert echoed == 'echo:42["user_uttered",{"message":"ünï"}]'
    assert closed.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert rasa.socket_messages == ['42["user_uttered",{"message":"ünï"}]', "close please"]


async def test_more_than_a_hundred_open_polls_all_reach_rasa(widget_js: Path) -> None:
    """Each open chat holds a long poll; none may wait for another's to end."""
    polls = 120
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        rasa.hold = asyncio.Event()
        url = f"http://{client.host}:{client.port}/socket.io/?EIO=4&transport=polling&sid=abc"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as browsers:

            async def poll() -> int:
                async with browsers.get(url) as response:
                    return response.status

            tasks = [asyncio.ensure_future(poll()) for _ in range(polls)]
            for _ in range(100):
                if rasa.waiting == polls:
                    break
                await asyncio.sleep(0.05)
            assert rasa.waiting == polls
            rasa.hold.set()
            assert await asyncio.gather(*tasks) == [200] * polls


async def test_the_inbox_is_relayed_with_the_sender_id_still_encoded(widget_js: Path) -> None:
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        response = await client.get(
            "/webhooks/rest/inbox/a%2Fb%20c?after=2025-03-14T10%3A00%3A00%2B00%3A00"
        )
        assert response.status == 200
        assert await response.json() == {"messages": []}
    # "/" in the id and "+" in the time stay encoded (the client may spell ":" either way).
    assert rasa.requests == [
        {
            "method": "GET",
            "raw_path": "/webhooks/rest/inbox/a%2Fb%20c?after=2025-03-14T10:00:00%2B00:00",
            "query": "after=2025-03-14T10:00:00%2B00:00",
        }
    ]


async def test_an_unreachable_rasa_is_reported(widget_js: Path) -> None:
    settings = settings_for("http://127.0.0.1:1", widget_js, rasa_timeout_s=1)
    expected = {"error": "the assistant is unreachable, try again in a moment"}
    async with widget_client(settings) as client:
        polled = await client.get("/socket.io/?EIO=4&transport=polling")
        inbox = await client.get("/webhooks/rest/inbox/s1")
        assert (polled.status, await polled.json()) == (502, expected)
        assert (inbox.status, await inbox.json()) == (502, expected)
    async with widget_client(settings_for(settings.rasa_url, widget_js, websockets=True)) as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/socket.io/?EIO=4&transport=websocket")
        assert refused.value.status == 502


async def test_a_body_over_the_cap_is_refused_before_rasa_sees_it(widget_js: Path) -> None:
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        at_cap = await client.post("/socket.io/?EIO=4&transport=polling", data="4" * 65536)
        over = await client.post("/socket.io/?EIO=4&transport=polling", data="4" * 65537)
        assert at_cap.status == 200
        assert (over.status, await over.json()) == (
            413,
            {"error": "the request body is larger than 65536 bytes"},
        )
    assert [len(request["body"]) for request in rasa.requests] == [65536]


async def test_shutdown_closes_the_browsers_sockets(widget_js: Path) -> None:
    async with running_rasa() as rasa:
        app = create_app(settings_for(rasa.url, widget_js, websockets=True))
        client = TestClient(TestServer(app))
        await client.start_server()
        socket = await client.ws_connect("/socket.io/?EIO=4&transport=websocket")
        await socket.receive_str(timeout=5)
        await app[RELAY].close()
        closed = await asyncio.wait_for(socket.receive(), timeout=5)
        assert (closed.type, closed.data) == (WSMsgType.CLOSE, aiohttp.WSCloseCode.GOING_AWAY)
        await client.close()
