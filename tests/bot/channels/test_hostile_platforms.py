"""Hostile input against the messaging platforms' webhooks (Telegram, Slack, Messenger, Twilio).

As in ``test_hostile_input.py``: odd but valid text is stored verbatim; 1 MB
bodies, invalid UTF-8, malformed JSON and misshapen bodies get a 4xx and
nothing is stored. Unsigned requests are refused (401) before being read.
"""

import json
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple
from urllib.parse import parse_qs, urlencode

import pytest
from rasa.core.channels.channel import InputChannel
from rasa.core.tracker_store import SQLTrackerStore

from bot.channels.facebook import FacebookInput
from bot.channels.signatures import facebook_signature, slack_signature, twilio_signature
from bot.channels.slack import SlackInput
from bot.channels.telegram import TelegramInput
from bot.channels.twilio import EMPTY_TWIML, TwilioInput
from tests.bot.channels.harness import serve
from tests.bot.channels.hostile import (
    BODY_TOO_LARGE,
    INVALID_UTF8,
    MALFORMED_JSON,
    MEGABYTE,
    ODD_TEXTS,
    StoringAgent,
    request,
    stored,
    tracker_store,
    unlimited,
    wait_stored,
)
from tests.bot.channels.platform_apis import (
    FACEBOOK,
    SLACK,
    TELEGRAM,
    TWILIO,
    FakePlatformApis,
)

pytestmark = pytest.mark.asyncio

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FACEBOOK_SECRET = "d41d8cd98f00b204e9800998ecf8427e"
TELEGRAM_SECRET = "s3cret_Token-42"
TWILIO_TOKEN = "12345678901234567890123456789012"
TWILIO_URL = "https://bot.example.com/webhooks/twilio/webhook"


@pytest.fixture
def store(tmp_path: Path) -> SQLTrackerStore:
    return tracker_store(tmp_path)


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
