"""Hostile input against the REST channel (webhook and inbox) and socket.io (Engine.IO).

Each channel runs on a real Sanic server; messages go to an agent that stores
them in Rasa's SQL tracker store (SQLite) and echoes them:

* text that is odd but valid (markup, SQL, control characters, template
  syntax) is accepted, stored verbatim and returned as JSON data;
* a 1 MB body, invalid UTF-8, malformed JSON and bodies of the wrong shape
  get a 4xx with ``{"error": ...}`` and nothing is stored.

The messaging platforms are in ``test_hostile_platforms.py``.
"""

import json
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Optional, Tuple
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.tracker_store import SQLTrackerStore

from bot.channels.limits import ChannelLimits
from bot.channels.rest import HandoffRestInput
from bot.channels.settings import ChannelLimitSettings
from bot.channels.socketio import SocketIOInput
from tests.bot.channels.harness import serve
from tests.bot.channels.hostile import (
    BODY_TOO_LARGE,
    INVALID_UTF8,
    MALFORMED_JSON,
    MEGABYTE,
    ODD_IDS,
    ODD_TEXTS,
    StoringAgent,
    request,
    stored,
    tracker_store,
    unlimited,
    wait_stored,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture
def store(tmp_path: Path) -> SQLTrackerStore:
    return tracker_store(tmp_path)


# --- REST ---------------------------------------------------------------------------


@pytest_asyncio.fixture
async def rest(store: SQLTrackerStore) -> AsyncIterator[str]:
    async with serve(unlimited(HandoffRestInput(), "rest"), StoringAgent(store)) as base:
        yield base


def rest_body(message: Any, sender: Any = "hostile", **extra: Any) -> bytes:
    return json.dumps({"sender": sender, "message": message, **extra}).encode()


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("text", ODD_TEXTS, ids=ODD_IDS)
async def test_rest_stores_odd_text_verbatim_and_returns_it_as_json(
    rest: str, store: SQLTrackerStore, text: str
) -> None:
    assert await request("POST", f"{rest}/webhook", rest_body(text), JSON) == (
        200,
        "application/json",
        [{"recipient_id": "hostile", "text": f"echo: {text}"}],
    )
    assert await stored(store, "hostile") == [text]


@pytest.mark.parametrize(
    "body, status, error",
    [
        (rest_body(MEGABYTE), 413, BODY_TOO_LARGE["error"]),
        (rest_body("y" * 4001), 413, "the message is longer than 4000 characters"),
        (INVALID_UTF8, 400, "the body must be JSON (UTF-8)"),
        (MALFORMED_JSON, 400, "the body must be JSON (UTF-8)"),
        (b"", 400, "the body must be JSON (UTF-8)"),
        (b"[" * 50_000, 400, "the body must be JSON (UTF-8)"),  # nested past the recursion limit
        (b'["hostile", "hi"]', 400, "the body must be a JSON object"),
        (rest_body("hi", sender=None), 400, None),
        (rest_body("hi", sender=["a"]), 400, None),
        (rest_body("hi", sender="x" * 256), 400, None),
        (rest_body("hi", sender="a\x00b"), 400, None),
        (rest_body(["hi"]), 400, "'message' must be a string"),
        (b'{"sender": "hostile", "message": "\\ud800"}', 400, None),
        (rest_body("hi", metadata=[1]), 400, "'metadata' must be a JSON object"),
        (rest_body("hi", input_channel="twilio"), 400, None),
    ],
    ids=[
        "1MB",
        "long-text",
        "invalid-utf8",
        "malformed-json",
        "empty",
        "deep-nesting",
        "not-an-object",
        "no-sender",
        "sender-list",
        "sender-too-long",
        "sender-control",
        "message-list",
        "lone-surrogate",
        "metadata-list",
        "other-channel",
    ],
)
async def test_rest_refuses_malformed_bodies_and_stores_nothing(
    rest: str, store: SQLTrackerStore, body: bytes, status: int, error: Optional[str]
) -> None:
    answer = await request("POST", f"{rest}/webhook", body, JSON)
    assert answer[:2] == (status, "application/json")
    assert set(answer[2]) == {"error"}
    if error is not None:
        assert answer[2]["error"] == error
    assert await stored(store, "hostile") == []


async def test_rest_error_messages_are_exact(rest: str) -> None:
    sender_rule = "'sender' must be a string of 1 to 255 characters without control characters"
    assert (await request("POST", f"{rest}/webhook", rest_body("hi", sender=""), JSON))[2] == {
        "error": sender_rule
    }
    surrogate = b'{"sender": "hostile", "message": "\\ud800"}'
    assert (await request("POST", f"{rest}/webhook", surrogate, JSON))[2] == {
        "error": "'message' is not valid Unicode (it has a lone surrogate)"
    }
    other = rest_body("hi", input_channel="twilio")
    assert (await request("POST", f"{rest}/webhook", other, JSON))[2] == {
        "error": "'input_channel' can only be 'rest' on this channel"
    }


async def test_rest_a_sender_over_the_rate_gets_429_and_nothing_is_stored(
    store: SQLTrackerStore,
) -> None:
    channel = HandoffRestInput()
    channel.limits = ChannelLimits(ChannelLimitSettings(rate_per_minute=1, burst=2), "rest")
    async with serve(channel, StoringAgent(store)) as base:
        answers = [
            await request("POST", f"{base}/webhook", rest_body(f"m{n}"), JSON) for n in range(3)
        ]
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/webhook", data=rest_body("m3"), headers=JSON) as last:
                retry_after = last.headers["Retry-After"]
    assert [status for status, _, _ in answers] == [200, 200, 429]
    assert answers[2][2] == {
        "error": "too many messages from this sender (at most 1 a minute, 2 at once); "
        "try again in 60 s"
    }
    assert retry_after == "60"
    assert await stored(store, "hostile") == ["m0", "m1"]


@pytest.mark.parametrize(
    "sender, status, body",
    [
        ("<script>alert(1)</script>", 200, {"messages": []}),
        ("'; DROP TABLE events; --", 200, {"messages": []}),
        ("a\x00b", 400, None),
        ("a\x1bb", 400, None),
    ],
    ids=["script", "sql", "nul", "escape"],
)
async def test_rest_inbox_takes_any_printable_sender_as_data(
    rest: str, sender: str, status: int, body: Optional[Dict]
) -> None:
    answer = await request("GET", f"{rest}/inbox/{quote(sender, safe='')}")
    assert answer[:2] == (status, "application/json")
    if body is not None:
        assert answer[2] == body
    else:
        assert answer[2] == {
            "error": "sender_id must be 1 to 255 characters without control characters"
        }


async def test_rest_inbox_refuses_hostile_after_values(rest: str) -> None:
    sql = "'; DROP TABLE events; --"
    assert await request("GET", f"{rest}/inbox/a?after={quote(sql)}") == (
        400,
        "application/json",
        {
            "error": "'after' must be an ISO 8601 time such as 2025-03-14T10:00:00Z, got "
            + repr(sql)
        },
    )
    status, _, _ = await request("GET", f"{rest}/inbox/a?after={'1' * 20_000}")
    assert status == 413  # Sanic refuses a request line over its header limit


# --- socket.io (Engine.IO long polling) ---------------------------------------------


@pytest_asyncio.fixture
async def engine_io(store: SQLTrackerStore) -> AsyncIterator[Tuple[str, str]]:
    """The Engine.IO URL and the session id of a connected socket.io client."""
    channel = SocketIOInput(session_persistence=True)
    async with serve(unlimited(channel, "socketio"), StoringAgent(store)) as base:
        url = base.split("/webhooks/")[0] + "/socket.io/?EIO=4&transport=polling"
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as opened:
                sid = json.loads((await opened.text())[1:])["sid"]
            async with session.post(f"{url}&sid={sid}", data=b"40") as connected:
                assert connected.status == 200
        yield url, sid


async def say(url: str, sid: str, data: bytes) -> Tuple[int, Optional[str], Any]:
    return await request("POST", f"{url}&sid={sid}", data, {"Content-Type": "text/plain"})


async def test_socketio_refuses_large_and_non_utf8_bodies(
    engine_io: Tuple[str, str], store: SQLTrackerStore
) -> None:
    url, sid = engine_io
    megabyte = ('42["user_uttered",{"session_id":"hostile","message":"' + MEGABYTE + '"}]').encode()
    assert await say(url, sid, megabyte) == (413, "application/json", BODY_TOO_LARGE)
    invalid = b'42["user_uttered",{"session_id":"hostile","message":"\xff\xfe"}]'
    assert await say(url, sid, invalid) == (
        400,
        "application/json",
        {"error": "the body is not UTF-8 text"},
    )
    assert await stored(store, "hostile") == []


@pytest.mark.parametrize("text", ODD_TEXTS, ids=ODD_IDS)
async def test_socketio_stores_odd_text_verbatim(
    engine_io: Tuple[str, str], store: SQLTrackerStore, text: str
) -> None:
    url, sid = engine_io
    packet = "42" + json.dumps(["user_uttered", {"session_id": "hostile", "message": text}])
    assert (await say(url, sid, packet.encode()))[0] == 200
    assert await wait_stored(store, "hostile", 1) == [text]


async def test_socketio_drops_malformed_packets_and_keeps_the_connection(
    engine_io: Tuple[str, str], store: SQLTrackerStore
) -> None:
    url, sid = engine_io
    for packet in (
        b'42["user_uttered",{"session_id":"hostile","message":"hi"',  # malformed JSON
        b'42["user_uttered",["hostile","hi"]]',
        b'42["user_uttered",{"session_id":{"$ne":1},"message":"hi"}]',
        b'42["user_uttered",{"session_id":"hostile","message":{"$gt":""}}]',
    ):
        assert (await say(url, sid, packet))[0] == 200  # Engine.IO acknowledges every POST
    good = b'42["user_uttered",{"session_id":"hostile","message":"still here"}]'
    assert (await say(url, sid, good))[0] == 200
    assert await wait_stored(store, "hostile", 1) == ["still here"]
