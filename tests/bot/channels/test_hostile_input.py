"""Hostile input against every HTTP endpoint of the Rasa channels.

Each channel runs on a real Sanic server. Its messages go to an agent that
stores them in Rasa's SQL tracker store (SQLite) and echoes them, so the tests
can check both what a client gets back and what was kept:

* text that is odd but valid (markup, SQL, control characters, template
  syntax) is accepted, stored verbatim and returned as JSON data;
* a 1 MB body, invalid UTF-8, malformed JSON and bodies of the wrong shape
  get a 4xx with ``{"error": ...}`` and nothing is stored;
* the platforms' webhooks refuse all of it unsigned (401) before reading it.
"""

import asyncio
import json
import time
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, quote, urlencode

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from sanic import Sanic

from bot.channels.facebook import FacebookInput
from bot.channels.limits import ChannelLimits
from bot.channels.rest import HandoffRestInput
from bot.channels.settings import ChannelLimitSettings
from bot.channels.signatures import facebook_signature, slack_signature, twilio_signature
from bot.channels.slack import SlackInput
from bot.channels.socketio import SocketIOInput
from bot.channels.telegram import TelegramInput
from bot.channels.twilio import EMPTY_TWIML, TwilioInput
from tests.bot.channels.harness import serve
from tests.bot.channels.platform_apis import (
    FACEBOOK,
    SLACK,
    TELEGRAM,
    TWILIO,
    FakePlatformApis,
)

pytestmark = pytest.mark.asyncio

ODD_TEXTS = [
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "'; DROP TABLE events; --",
    "1' OR '1'='1\" UNION SELECT * FROM users --",
    "a\x00b\x07c\x1bd\u202ee\x7ff",  # NUL, BEL, ESC, right-to-left override, DEL
    "{{7*7}} ${jndi:ldap://x} %s%n \\u0000 ../../etc/passwd",
]
ODD_IDS = ["script", "sql", "sql-union", "control", "templates"]
MEGABYTE = "x" * 1_000_000
BODY_TOO_LARGE = {"error": "the request body is larger than 65536 bytes"}
INVALID_UTF8 = b'{"sender": "hostile", "message": "caf\xe9 \xff\xfe"}'
MALFORMED_JSON = b'{"sender": "hostile", "message": "hi"'
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FACEBOOK_SECRET = "d41d8cd98f00b204e9800998ecf8427e"
TELEGRAM_SECRET = "s3cret_Token-42"
TWILIO_TOKEN = "12345678901234567890123456789012"
TWILIO_URL = "https://bot.example.com/webhooks/twilio/webhook"
DOMAIN = Domain.empty()


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)


class StoringAgent:
    """Stores each message in the tracker store, then echoes it (as Rasa sends replies)."""

    def __init__(self, store: SQLTrackerStore) -> None:
        self.tracker_store = store

    async def handle_message(self, message: UserMessage) -> None:
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, input_channel=message.input_channel))
        await self.tracker_store.save(tracker)
        reply = {"text": f"echo: {message.text}"}
        await message.output_channel.send_response(message.sender_id, reply)


@pytest_asyncio.fixture
async def store(tmp_path: Any) -> SQLTrackerStore:
    return SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "trackers.db"))


async def stored(store: SQLTrackerStore, sender: str) -> List[str]:
    tracker = await store.retrieve(sender)
    if tracker is None:
        return []
    return [event.text for event in tracker.events if isinstance(event, UserUttered)]


async def wait_stored(store: SQLTrackerStore, sender: str, count: int) -> List[str]:
    for _ in range(100):
        texts = await stored(store, sender)
        if len(texts) >= count:
            return texts
        await asyncio.sleep(0.05)
    return await stored(store, sender)


def unlimited(channel: InputChannel, name: str) -> InputChannel:
    channel.limits = ChannelLimits(ChannelLimitSettings(rate_per_minute=0), name)  # type: ignore[attr-defined]
    return channel


async def request(
    method: str, url: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None
) -> Tuple[int, Optional[str], Any]:
    """(status, content type, body as JSON when it is JSON, else text)."""
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, data=body, headers=headers) as answer:
            if answer.content_type == "application/json":
                return answer.status, answer.content_type, await answer.json()
            return answer.status, answer.content_type, await answer.text()


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


# --- messaging platforms ------------------------------------------------------------


@pytest_asyncio.fixture
async def apis() -> AsyncIterator[FakePlatformApis]:
    fakes = FakePlatformApis()
    await fakes.start()
    yield fakes
    await fakes.close()


def telegram_update(text: str) -> bytes:
    message = {"message_id": 1, "date": 1741946400, "chat": {"id": 42, "type": "private"}}
    return json.dumps({"update_id": 1, "message": {**message, "text": text}}).encode()


def slack_event(text: str) -> bytes:
    event = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U42"}
    return json.dumps({"type": "event_callback", "event": {**event, "text": text}}).encode()


def messenger_batch(text: str) -> bytes:
    event = {
        "sender": {"id": "42"},
        "recipient": {"id": "1"},
        "message": {"mid": "m", "text": text},
    }
    return json.dumps({"object": "page", "entry": [{"id": "1", "messaging": [event]}]}).encode()


def twilio_form(text: str) -> Dict[str, str]:
    return {"From": "+4366400042", "To": "+14155550100", "Body": text, "AccountSid": "AC1"}


class Platform:
    """One platform: its channel, how it signs, what it answers, its sender id."""

    def __init__(self, name: str, apis: FakePlatformApis) -> None:
        self.name = name
        self.sender = {
            TELEGRAM: "42",
            SLACK: "U42",
            FACEBOOK: "42",
            TWILIO: "+4366400042",
        }[name]
        self.channel: InputChannel = {
            TELEGRAM: lambda: TelegramInput(
                "1:tok", TELEGRAM_SECRET, "https://x/webhook", api_url=apis.url(TELEGRAM)
            ),
            SLACK: lambda: SlackInput.from_credentials(
                {
                    "slack_token": "xoxb-1",
                    "slack_signing_secret": SLACK_SECRET,
                    "api_url": apis.url(SLACK),
                }
            ),
            FACEBOOK: lambda: FacebookInput(
                "verify", FACEBOOK_SECRET, "EAA-page", api_url=apis.url(FACEBOOK)
            ),
            TWILIO: lambda: TwilioInput(
                "AC1", TWILIO_TOKEN, TWILIO_URL, "+14155550100", api_url=apis.url(TWILIO)
            ),
        }[name]()
        unlimited(self.channel, name)

    def body(self, text: str) -> bytes:
        if self.name == TWILIO:
            return urlencode(twilio_form(text)).encode()
        return {TELEGRAM: telegram_update, SLACK: slack_event, FACEBOOK: messenger_batch}[
            self.name
        ](text)

    def signed(self, body: bytes) -> Dict[str, str]:
        if self.name == TELEGRAM:
            return {
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
            }
        if self.name == SLACK:
            stamp = str(int(time.time()))
            return {
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": slack_signature(SLACK_SECRET, stamp, body),
            }
        if self.name == FACEBOOK:
            return {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": facebook_signature(FACEBOOK_SECRET, body),
            }
        params = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, TWILIO_URL, params),
        }

    def accepted(self) -> Tuple[int, Any]:
        return {
            TELEGRAM: (200, {"status": "ok"}),
            SLACK: (200, ""),
            FACEBOOK: (200, "EVENT_RECEIVED"),
            TWILIO: (200, EMPTY_TWIML),
        }[self.name]


PLATFORMS = [TELEGRAM, SLACK, FACEBOOK, TWILIO]


@pytest.mark.parametrize("name", PLATFORMS)
async def test_platforms_store_odd_text_verbatim(
    apis: FakePlatformApis, store: SQLTrackerStore, name: str
) -> None:
    platform = Platform(name, apis)
    async with serve(platform.channel, StoringAgent(store)) as base:
        for count, text in enumerate(ODD_TEXTS, start=1):
            body = platform.body(text)
            status, _, answer = await request(
                "POST", f"{base}/webhook", body, platform.signed(body)
            )
            assert (status, answer) == platform.accepted()
            # Slack and Messenger handle messages after answering: one at a time.
            assert len(await wait_stored(store, platform.sender, count)) == count
        if isinstance(platform.channel, FacebookInput):
            await platform.channel.turns.join()
    assert await stored(store, platform.sender) == ODD_TEXTS


@pytest.mark.parametrize("name", PLATFORMS)
async def test_platforms_refuse_unsigned_hostile_bodies_before_reading_them(
    apis: FakePlatformApis, store: SQLTrackerStore, name: str
) -> None:
    platform = Platform(name, apis)
    async with serve(platform.channel, StoringAgent(store)) as base:
        for body in (platform.body(ODD_TEXTS[0]), INVALID_UTF8, MALFORMED_JSON):
            status, content_type, answer = await request(
                "POST", f"{base}/webhook", body, {"Content-Type": "application/json"}
            )
            assert (status, content_type, set(answer)) == (401, "application/json", {"error"})
        huge = platform.body(MEGABYTE)
        assert await request("POST", f"{base}/webhook", huge, platform.signed(huge)) == (
            413,
            "application/json",
            BODY_TOO_LARGE,
        )
    assert await stored(store, platform.sender) == []


@pytest.mark.parametrize(
    "name, error",
    [
        (TELEGRAM, "the body is not JSON"),
        (SLACK, "the body is not JSON"),
        (FACEBOOK, "the body is not JSON"),
    ],
)
@pytest.mark.parametrize("body", [INVALID_UTF8, MALFORMED_JSON], ids=["invalid-utf8", "malformed"])
async def test_platforms_answer_signed_unreadable_bodies_with_400(
    apis: FakePlatformApis, store: SQLTrackerStore, name: str, error: str, body: bytes
) -> None:
    platform = Platform(name, apis)
    async with serve(platform.channel, StoringAgent(store)) as base:
        assert await request("POST", f"{base}/webhook", body, platform.signed(body)) == (
            400,
            "application/json",
            {"error": error},
        )
    assert await stored(store, platform.sender) == []


@pytest.mark.parametrize(
    "name, body, error",
    [
        (TELEGRAM, b'["not", "an", "update"]', "a Telegram update must be a JSON object"),
        (TELEGRAM, b'{"message": {"text": "hi"}}', "the message has no chat.id"),
        (SLACK, b'{"type": "event_callback", "event": "hi"}', "'event' must be an object"),
        (SLACK, b'{"type": "event_callback", "event": {"text": ["hi"]}}', None),
        (FACEBOOK, b'{"object": "page", "entry": {"messaging": []}}', None),
        (FACEBOOK, b'{"object": "user"}', None),
    ],
    ids=["tg-list", "tg-no-chat", "slack-event", "slack-text", "fb-entry", "fb-object"],
)
async def test_platforms_answer_signed_bodies_of_the_wrong_shape_with_400(
    apis: FakePlatformApis, store: SQLTrackerStore, name: str, body: bytes, error: Optional[str]
) -> None:
    platform = Platform(name, apis)
    async with serve(platform.channel, StoringAgent(store)) as base:
        status, content_type, answer = await request(
            "POST", f"{base}/webhook", body, platform.signed(body)
        )
    assert (status, content_type, set(answer)) == (400, "application/json", {"error"})
    if error is not None:
        assert answer == {"error": error}
    assert await stored(store, platform.sender) == []


async def test_twilio_refuses_bodies_it_cannot_have_signed(
    apis: FakePlatformApis, store: SQLTrackerStore
) -> None:
    platform = Platform(TWILIO, apis)
    async with serve(platform.channel, StoringAgent(store)) as base:
        invalid = b"From=%2B4366400042&Body=caf\xe9"
        signed_anyway = {**platform.signed(invalid)}
        assert await request("POST", f"{base}/webhook", invalid, signed_anyway) == (
            403,
            "application/json",
            {"error": "the request's X-Twilio-Signature is not valid"},
        )
        no_sender = urlencode({"Body": "hi"}).encode()
        assert await request("POST", f"{base}/webhook", no_sender, platform.signed(no_sender)) == (
            400,
            "application/json",
            {"error": "the request has no From"},
        )
    assert await stored(store, platform.sender) == []


async def test_messenger_verification_with_a_wrong_token_is_refused(
    apis: FakePlatformApis, store: SQLTrackerStore
) -> None:
    platform = Platform(FACEBOOK, apis)
    async with serve(platform.channel, StoringAgent(store)) as base:
        query = urlencode(
            {
                "hub.mode": "subscribe",
                "hub.verify_token": "'; DROP TABLE x; --",
                "hub.challenge": "<script>alert(1)</script>",
            }
        )
        assert await request("GET", f"{base}/webhook?{query}") == (
            403,
            "application/json",
            {"error": "the verify token does not match"},
        )
