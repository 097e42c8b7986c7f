"""The Slack channel on a real Sanic server, against the fake Slack Web API.

Requests are shaped like Slack's Events API and interactivity payloads and
signed as Slack signs them (computed here independently of the channel code).
"""

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import AsyncIterator, Dict, List, Optional
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from rasa.core.channels.channel import UserMessage
from rasa.shared.exceptions import InvalidConfigException

from bot.channels.delivery import PlatformDeliveryError
from bot.channels.limits import RATE_REPLY, TOO_LONG_REPLY, ChannelLimits
from bot.channels.settings import ChannelLimitSettings
from bot.channels.slack import SlackInput
from tests.bot.channels.harness import FakeAgent, Reply, post, serve
from tests.bot.channels.platform_apis import SLACK, FakePlatformApis, wait_for_calls_async

TOKEN = "xoxb-1111-2222-test"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
USER = "U2147483697"
DM = "D024BE91L"


def make_channel(apis: FakePlatformApis) -> SlackInput:
    created = SlackInput.from_credentials(
        {"slack_token": TOKEN, "slack_signing_secret": SIGNING_SECRET, "api_url": apis.url(SLACK)}
    )
    assert isinstance(created, SlackInput)
    return created


@pytest.fixture
def channel(apis: FakePlatformApis) -> SlackInput:
    return make_channel(apis)


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent()


@pytest_asyncio.fixture
async def url(channel: SlackInput, agent: FakeAgent) -> AsyncIterator[str]:
    async with serve(channel, agent) as base:
        yield f"{base}/webhook"


def message_event(text: str) -> bytes:
    return json.dumps(
        {
            "token": "XXYYZZ",
            "team_id": "T061EG9R6",
            "api_app_id": "A0PNCHHK2",
            "event": {
                "type": "message",
                "channel": DM,
                "user": USER,
                "text": text,
                "ts": "1741946400.000200",
                "event_ts": "1741946400.000200",
                "channel_type": "im",
            },
            "type": "event_callback",
            "authorizations": [{"user_id": "UBOTUSER", "is_bot": True}],
            "event_id": "Ev0PV52K21",
            "event_time": 1741946400,
        }
    ).encode()


def button_click(value: str) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": USER, "username": "ana"},
        "channel": {"id": DM, "name": "directmessage"},
        "message": {"ts": "1741946401.000300", "text": "1. Sony WH-1000XM5"},
        "actions": [{"type": "button", "action_id": "a1", "value": value, "block_id": "b1"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def headers(
    body: bytes,
    secret: str = SIGNING_SECRET,
    timestamp: Optional[int] = None,
    content_type: str = "application/json",
) -> Dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


def posted(apis: FakePlatformApis) -> List[Dict]:
    return [call.body for call in apis.calls_to(SLACK, "chat.postMessage")]


@pytest.mark.asyncio
async def test_a_signed_message_reaches_the_bot_and_the_reply_slack(
    url: str, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    body = message_event("hello")
    assert await post(url, body, headers(body)) == (200, "")
    [call] = await wait_for_calls_async(apis, SLACK, "chat.postMessage")
    assert agent.texts() == [(USER, "hello", "slack")]
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.body == {"channel": DM, "as_user": True, "text": "echo: hello", "type": "mrkdwn"}


@pytest.mark.asyncio
async def test_unsigned_wrongly_signed_and_stale_requests_are_refused(
    url: str, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    body = message_event("hello")
    unsigned = {"Content-Type": "application/json"}
    assert await post(url, body, unsigned) == (
        401,
        {"error": "the request is not signed (X-Slack-Signature missing)"},
    )
    invalid = {"error": "the request's X-Slack-Signature is not valid"}
    assert await post(url, body, headers(body, secret="another app's secret")) == (403, invalid)
    assert await post(url, body, headers(body, timestamp=int(time.time()) - 301)) == (403, invalid)
    tampered = message_event("hello, I am someone else")
    assert await post(url, tampered, headers(body)) == (403, invalid)
    assert agent.received == []
    assert apis.calls_to(SLACK) == []


@pytest.mark.asyncio
async def test_the_url_verification_is_answered_with_its_challenge(url: str) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps(
        {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge, "type": "url_verification"}
    ).encode()
    assert await post(url, body, headers(body)) == (200, {"challenge": challenge})
    assert await post(url, body, {"Content-Type": "application/json"}) == (
        401,
        {"error": "the request is not signed (X-Slack-Signature missing)"},
    )


@pytest.mark.asyncio
async def test_a_button_click_sends_its_value(
    url: str, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    body = button_click("/refine_recommendation")
    form = "application/x-www-form-urlencoded"
    assert await post(url, body, headers(body, content_type=form)) == (200, "")
    await wait_for_calls_async(apis, SLACK, "chat.postMessage")
    assert agent.texts() == [(USER, "/refine_recommendation", "slack")]


@pytest.mark.asyncio
async def test_buttons_become_block_kit_buttons(apis: FakePlatformApis) -> None:
    def with_buttons(message: UserMessage) -> List[Reply]:
        buttons = [{"title": "Cheaper", "payload": "/refine_recommendation"}]
        return [{"text": "Not quite right?", "buttons": buttons}]

    agent = FakeAgent(with_buttons)
    async with serve(make_channel(apis), agent) as base:
        body = message_event("headphones")
        await post(f"{base}/webhook", body, headers(body))
        [call] = await wait_for_calls_async(apis, SLACK, "chat.postMessage")
    assert call.body["blocks"] == [
        {"type": "section", "text": {"type": "plain_text", "text": "Not quite right?"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Cheaper"},
                    "value": "/refine_recommendation",
                }
            ],
        },
    ]


@pytest.mark.asyncio
async def test_rasas_output_channel_posts_to_the_customer(
    channel: SlackInput, apis: FakePlatformApis
) -> None:
    # What Rasa's HTTP API does for output_channel=latest: the sender id is the user.
    await channel.get_output_channel().send_response(USER, {"text": "Hi, I'm Dana."})
    assert posted(apis) == [
        {"channel": USER, "as_user": True, "text": "Hi, I'm Dana.", "type": "mrkdwn"}
    ]


@pytest.mark.asyncio
async def test_a_failing_slack_api_fails_pushed_messages_but_keeps_the_customers_turn(
    url: str, channel: SlackInput, apis: FakePlatformApis, agent: FakeAgent, caplog
) -> None:
    apis.failing.add(SLACK)
    with pytest.raises(PlatformDeliveryError, match=f"slack did not accept a message for {USER}"):
        await channel.get_output_channel().send_response(USER, {"text": "agent reply"})
    body = message_event("hello")
    with caplog.at_level(logging.ERROR, logger="bot.channels.delivery"):
        assert (await post(url, body, headers(body)))[0] == 200
        await wait_for_calls_async(apis, SLACK, "chat.postMessage", count=2)
        for _ in range(50):
            if "conversation goes on" in caplog.text:
                break
            await asyncio.sleep(0.05)
    assert agent.texts() == [(USER, "hello", "slack")]
    assert f"slack did not accept a message for {USER}" in caplog.text


def test_credentials_need_a_token_and_a_signing_secret() -> None:
    with pytest.raises(InvalidConfigException, match="needs slack_token"):
        SlackInput.from_credentials({"slack_signing_secret": SIGNING_SECRET})
    with pytest.raises(InvalidConfigException, match="missing a configured signing secret"):
        SlackInput.from_credentials({"slack_token": TOKEN})
    channel = SlackInput.from_credentials({"slack_token": TOKEN, "slack_signing_secret": "s"})
    assert isinstance(channel, SlackInput)
    assert channel.api_url == "https://slack.com/api/"
    assert channel.get_output_channel().client.base_url == "https://slack.com/api/"


@pytest.mark.asyncio
async def test_messages_over_the_limits_are_dropped_answered_200_and_explained(
    channel: SlackInput, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    settings = ChannelLimitSettings(rate_per_minute=1, burst=3, max_message_chars=20)
    channel.limits = ChannelLimits(settings, "slack")
    async with serve(channel, agent) as base:
        for text in ("one", "x" * 21, "three", "four", "five"):
            body = message_event(text)
            assert await post(f"{base}/webhook", body, headers(body)) == (200, "")
        huge = message_event("y" * 70_000)
        assert await post(f"{base}/webhook", huge, headers(huge)) == (
            413,
            {"error": "the request body is larger than 65536 bytes"},
        )
        await wait_for_calls_async(apis, SLACK, "chat.postMessage", count=4)
    assert agent.texts() == [(USER, "one", "slack"), (USER, "three", "slack")]
    assert [message["text"] for message in posted(apis)] == [
        "echo: one",
        TOO_LONG_REPLY.format(limit=20),
        "echo: three",
        RATE_REPLY,
    ]
