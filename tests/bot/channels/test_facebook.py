"""The Messenger channel on a real Sanic server, against the fake Graph API.

Webhook bodies are shaped like Meta's page subscriptions and signed as Meta
signs them (``X-Hub-Signature-256``, computed here independently).
"""

import hashlib
import hmac
import json
import logging
from typing import Any, AsyncIterator, Dict, List

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.channels.channel import UserMessage
from rasa.shared.exceptions import InvalidConfigException

from bot.channels.delivery import PlatformDeliveryError
from bot.channels.facebook import FacebookInput, messaging_events
from bot.channels.limits import RATE_REPLY, TOO_LONG_REPLY, ChannelLimits
from bot.channels.settings import ChannelLimitSettings
from tests.bot.channels.harness import FakeAgent, Reply, post, serve
from tests.bot.channels.platform_apis import FACEBOOK, FakePlatformApis

APP_SECRET = "d41d8cd98f00b204e9800998ecf8427e"
VERIFY = "my-verify-token"
PAGE_TOKEN = "EAAGm0PX4ZCpsBAtest"
PAGE = "1067280970047460"
PSID = "6873492113456722"


def make_channel(apis: FakePlatformApis) -> FacebookInput:
    created = FacebookInput.from_credentials(
        {
            "verify": VERIFY,
            "secret": APP_SECRET,
            "page-access-token": PAGE_TOKEN,
            "api_url": apis.url(FACEBOOK),
        }
    )
    assert isinstance(created, FacebookInput)
    return created


@pytest.fixture
def channel(apis: FakePlatformApis) -> FacebookInput:
    return make_channel(apis)


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent()


@pytest_asyncio.fixture
async def url(channel: FacebookInput, agent: FakeAgent) -> AsyncIterator[str]:
    async with serve(channel, agent) as base:
        yield f"{base}/webhook"


def event(**content: Any) -> Dict[str, Any]:
    return {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": 1741946400000,
        **content,
    }


def batch(*events: Dict[str, Any]) -> bytes:
    entry = {"id": PAGE, "time": 1741946400000, "messaging": list(events)}
    # Meta escapes non-ASCII characters and signs the body as sent.
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def text(value: str) -> Dict[str, Any]:
    return event(message={"mid": f"m_{value}", "text": value})


def signed(body: bytes, secret: str = APP_SECRET) -> Dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def sent(apis: FakePlatformApis) -> List[Dict[str, Any]]:
    """The messages (not the typing indicators) sent to the Send API."""
    return [c.body for c in apis.calls_to(FACEBOOK) if "message" in c.body]


@pytest.mark.asyncio
async def test_a_signed_message_reaches_the_bot_and_the_reply_messenger(
    url: str, channel: FacebookInput, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    body = batch(text("hello"))
    assert await post(url, body, signed(body)) == (200, "EVENT_RECEIVED")
    await channel.turns.join()
    assert agent.texts() == [(PSID, "hello", "facebook")]
    calls = apis.calls_to(FACEBOOK)
    assert [c.body.get("sender_action") for c in calls] == [
        "mark_seen",
        "typing_on",
        None,
        "typing_off",
    ]
    assert calls[2].query == {"access_token": PAGE_TOKEN}
    assert calls[2].body == {
        "messaging_type": "RESPONSE",
        "notification_type": "REGULAR",
        "recipient": {"id": PSID},
        "message": {"text": "echo: hello"},
    }


@pytest.mark.asyncio
async def test_every_event_of_a_batch_is_handled_in_order(
    url: str, channel: FacebookInput, agent: FakeAgent
) -> None:
    postback = event(postback={"title": "Cheaper", "payload": "/refine_recommendation"})
    quick = event(message={"mid": "m_q", "text": "Yes", "quick_reply": {"payload": "/affirm"}})
    body = batch(text("grüß dich"), postback, quick)
    assert await post(url, body, signed(body)) == (200, "EVENT_RECEIVED")
    await channel.turns.join()
    assert [m.text for m in agent.received] == ["grüß dich", "/refine_recommendation", "/affirm"]


@pytest.mark.asyncio
async def test_unsigned_wrongly_signed_and_sha1_only_requests_are_refused(
    url: str, channel: FacebookInput, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    body = batch(text("hello"))
    missing = {"error": "the request is not signed (X-Hub-Signature-256 missing)"}
    invalid = {"error": "the request's X-Hub-Signature-256 is not valid"}
    assert await post(url, body, {"Content-Type": "application/json"}) == (401, missing)
    sha1 = "sha1=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert await post(url, body, {"X-Hub-Signature": sha1}) == (401, missing)
    assert await post(url, body, signed(body, secret="another app")) == (403, invalid)
    assert await post(url, batch(text("hi from a forger")), signed(body)) == (403, invalid)
    await channel.turns.join()
    assert agent.received == []
    assert apis.calls_to(FACEBOOK) == []


@pytest.mark.asyncio
async def test_bodies_that_are_not_page_batches_are_a_400(url: str, agent: FakeAgent) -> None:
    not_page = 'the body must be a JSON object with "object": "page"'
    for body, error in (
        (b"{oops", "the body is not JSON"),
        (b'{"object": "instagram", "entry": []}', not_page),
        (b"[]", not_page),
        (b'{"object": "page"}', 'the body must have an "entry" list'),
        (
            b'{"object": "page", "entry": [{"messaging": 5}]}',
            'an entry\'s "messaging" must be a list',
        ),
    ):
        assert await post(url, body, signed(body)) == (400, {"error": error})
    assert agent.received == []


@pytest.mark.asyncio
async def test_the_subscription_is_verified_with_the_verify_token(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY,
            "hub.challenge": "1158201444",
        }
        async with session.get(url, params=params) as answer:
            assert (answer.status, await answer.text()) == (200, "1158201444")
        params["hub.verify_token"] = "guess"
        async with session.get(url, params=params) as answer:
            assert (answer.status, await answer.json()) == (
                403,
                {"error": "the verify token does not match"},
            )


@pytest.mark.asyncio
async def test_a_generic_template_is_sent_as_the_message(apis: FakePlatformApis) -> None:
    template = {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "generic",
                "elements": [
                    {
                        "title": "Sony WH-1000XM5",
                        "subtitle": "€299.00",
                        "buttons": [{"type": "postback", "title": "👍", "payload": "/up"}],
                    }
                ],
            },
        }
    }

    def carousel(message: UserMessage) -> List[Reply]:
        return [{"custom": template}]

    channel = make_channel(apis)
    async with serve(channel, FakeAgent(carousel)) as base:
        body = batch(text("headphones"))
        await post(f"{base}/webhook", body, signed(body))
        await channel.turns.join()
    assert [m["message"] for m in sent(apis)] == [template]


@pytest.mark.asyncio
async def test_rasas_output_channel_sends_to_the_customer(
    channel: FacebookInput, apis: FakePlatformApis
) -> None:
    await channel.get_output_channel().send_response(PSID, {"text": "Hi, I'm Dana."})
    assert [(m["recipient"], m["message"]) for m in sent(apis)] == [
        ({"id": PSID}, {"text": "Hi, I'm Dana."})
    ]


@pytest.mark.asyncio
async def test_a_failing_graph_api_fails_pushed_messages_but_keeps_the_customers_turn(
    url: str, channel: FacebookInput, apis: FakePlatformApis, agent: FakeAgent, caplog
) -> None:
    apis.failing.add(FACEBOOK)
    with pytest.raises(PlatformDeliveryError, match="the Graph API answered 500"):
        await channel.get_output_channel().send_response(PSID, {"text": "agent reply"})
    body = batch(text("hello"))
    with caplog.at_level(logging.ERROR, logger="bot.channels.delivery"):
        assert await post(url, body, signed(body)) == (200, "EVENT_RECEIVED")
        await channel.turns.join()
    assert agent.texts() == [(PSID, "hello", "facebook")]
    assert f"facebook did not accept a message for {PSID}" in caplog.text


def test_credentials_need_all_three_secrets() -> None:
    with pytest.raises(InvalidConfigException, match="needs secret, page-access-token"):
        FacebookInput.from_credentials({"verify": VERIFY})


def test_messaging_events_skips_entries_without_messaging() -> None:
    payload = {"object": "page", "entry": [{"id": PAGE, "changes": []}, {"messaging": [text("a")]}]}
    assert messaging_events(payload) == [text("a")]


@pytest.mark.asyncio
async def test_messages_over_the_limits_are_dropped_and_explained(
    channel: FacebookInput, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    settings = ChannelLimitSettings(rate_per_minute=1, burst=3, max_message_chars=20)
    channel.limits = ChannelLimits(settings, "facebook")
    async with serve(channel, agent) as base:
        body = batch(*(text(value) for value in ("one", "x" * 21, "three", "four", "five")))
        assert await post(f"{base}/webhook", body, signed(body)) == (200, "EVENT_RECEIVED")
        await channel.turns.join()
        huge = batch(text("y" * 70_000))
        assert await post(f"{base}/webhook", huge, signed(huge)) == (
            413,
            {"error": "the request body is larger than 65536 bytes"},
        )
    assert agent.texts() == [(PSID, "one", "facebook"), (PSID, "three", "facebook")]
    assert [message["message"]["text"] for message in sent(apis)] == [
        "echo: one",
        TOO_LONG_REPLY.format(limit=20),
        "echo: three",
        RATE_REPLY,
    ]
