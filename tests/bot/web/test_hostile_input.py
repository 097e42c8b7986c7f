"""Hostile input against every route of the web widget server (and its relay to Rasa).

A fake Rasa records what reaches it. Refused requests must not reach it at
all; accepted ones must reach it byte for byte (the relay interprets nothing).
"""

import asyncio
import json
from pathlib import Path
from typing import Tuple

import pytest
from aiohttp.test_utils import TestClient

from tests.bot.web.support import running_rasa, settings_for, widget_client

pytestmark = pytest.mark.asyncio

POLL = "/socket.io/?EIO=4&transport=polling&sid=abc"
TEXT = {"Content-Type": "text/plain;charset=UTF-8"}
ODD_TEXTS = [
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "'; DROP TABLE events; --",
    "a\\u0000b\x07c\x1bd\u202ee\x7ff",
    "{{7*7}} ${jndi:ldap://x} %s%n ../../etc/passwd",
]


@pytest.fixture
def widget_js(tmp_path: Path) -> Path:
    path = tmp_path / "index.js"
    path.write_text("window.WebChat = {};")
    return path


def packet(text: str) -> bytes:
    return ("42" + json.dumps(["user_uttered", {"message": text, "session_id": "s1"}])).encode()


async def raw_get(client: TestClient, target: str) -> Tuple[int, bytes]:
    """Send a request line exactly as given (no client-side normalisation)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


async def test_a_megabyte_is_refused_with_or_without_a_length(widget_js: Path) -> None:
    megabyte = packet("x" * 1_000_000)

    async def chunks():  # no Content-Length: the body arrives chunked
        for start in range(0, len(megabyte), 100_000):
            yield megabyte[start : start + 100_000]

    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        for body in (megabyte, chunks()):
            answer = await client.post(POLL, data=body, headers=TEXT)
            assert (answer.status, await answer.json()) == (
                413,
                {"error": "the request body is larger than 65536 bytes"},
            )
    assert rasa.requests == []


async def test_a_socketio_body_that_is_not_utf8_is_a_400(widget_js: Path) -> None:
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        answer = await client.post(POLL, data=b'42["user_uttered",{"message":"\xff\xfe"}]')
        assert (answer.status, await answer.json()) == (
            400,
            {"error": "the body is not UTF-8 text"},
        )
    assert rasa.requests == []


async def test_odd_and_malformed_packets_are_relayed_byte_for_byte(widget_js: Path) -> None:
    bodies = [packet(text) for text in ODD_TEXTS] + [
        b'42["user_uttered",{"message":"hi"',  # malformed: Rasa's channel drops it
        b'42["user_uttered",{"session_id":{"$ne":1},"message":"hi"}]',
    ]
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        for body in bodies:
            answer = await client.post(POLL, data=body, headers=TEXT)
            assert answer.status == 200
    assert [request["body"].encode() for request in rasa.requests] == bodies


@pytest.mark.parametrize(
    "sender",
    [
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "'%3B%20DROP%20TABLE%20events%3B%20--",
        "a%00b",
        "..%2F..%2Fconversations%2Fx%2Ftracker",
    ],
    ids=["script", "sql", "nul", "encoded-traversal"],
)
async def test_inbox_sender_ids_are_relayed_still_encoded(widget_js: Path, sender: str) -> None:
    target = f"/webhooks/rest/inbox/{sender}?after=%27%3B--"
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        status, body = await raw_get(client, target)
        assert (status, json.loads(body)) == (200, {"messages": []})
    # raw_path is what arrived; query is aiohttp's (partly decoded) reading of it.
    assert rasa.requests == [{"method": "GET", "raw_path": target, "query": "after='%3B--"}]


async def test_dot_segments_cannot_reach_other_rasa_routes(widget_js: Path) -> None:
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        status, body = await raw_get(
            client, "/webhooks/rest/inbox/../../../conversations/x/tracker"
        )
        assert (status, json.loads(body)) == (404, {"error": "Not Found"})
        status, body = await raw_get(client, "/socket.io/../conversations/x/tracker")
        assert (status, json.loads(body)) == (404, {"error": "Not Found"})
    assert rasa.requests == []


async def test_unknown_routes_and_methods_are_json_errors_that_echo_nothing(
    widget_js: Path,
) -> None:
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        missing = await client.get("/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        assert (missing.status, await missing.json()) == (404, {"error": "Not Found"})
        posted = await client.post("/webhooks/rest/inbox/s1", data=b"'; DROP TABLE x; --")
        assert (posted.status, await posted.json()) == (405, {"error": "Method Not Allowed"})
        page = await client.get("/?q=<script>alert(1)</script>")
        assert page.status == 200
        assert "alert(1)" not in await page.text()
        assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert rasa.requests == []


async def test_a_hostile_origin_is_refused_as_data(widget_js: Path) -> None:
    async with running_rasa() as rasa:
        settings = settings_for(rasa.url, widget_js, allowed_origins=("https://shop.example",))
        async with widget_client(settings) as client:
            origin = "https://evil.example/<script>"
            answer = await client.post(POLL, data=packet("hi"), headers={"Origin": origin})
            assert answer.status == 403
            assert answer.content_type == "application/json"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert await answer.json() == {
                "error": f"pages from {origin} may not use this chat server "
                "(see WEB_ALLOWED_ORIGINS)"
            }
    assert rasa.requests == []
