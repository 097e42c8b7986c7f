"""The Telegram channel on a real Sanic server, against the fake Bot API.

Updates are shaped like Telegram's; the secret token travels in
``X-Telegram-Bot-Api-Secret-Token`` as Telegram sends it after ``setWebhook``.
"""

import json
import logging
from typing import AsyncIterator, Dict, List

import pytest
import pytest_asyncio
from rasa.core.channels.channel import UserMessage
from rasa.shared.exceptions import InvalidConfigException

from bot.channels.delivery import PlatformDeliveryError
from bot.channels.limits import RATE_REPLY, TOO_LONG_REPLY, ChannelLimits
from bot.channels.settings import ChannelLimitSettings
from bot.channels.telegram import TelegramInput, TelegramMessage, parse_update
from tests.bot.channels.harness import FakeAgent, Reply, post, serve
from tests.bot.channels.platform_apis import TELEGRAM, FakePlatformApis, wait_for_calls_async

TOKEN = "123456:ABC-test-token"
SECRET = "s3cret_Token-42"
WEBHOOK_URL = "https://bot.example.com/webhooks/telegram/webhook"
CHAT = 987654321


@pytest.fixture
def channel(apis: FakePlatformApis) -> TelegramInput:
    created = TelegramInput.from_credentials(
        {
            "access_token": TOKEN,
            "secret_token": SECRET,
            "webhook_url": WEBHOOK_URL,
            "api_url": apis.url(TELEGRAM),
        }
    )
    assert isinstance(created, TelegramInput)
    return created


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent()


@pytest_asyncio.fixture
async def url(channel: TelegramInput, agent: FakeAgent) -> AsyncIterator[str]:
    async with serve(channel, agent) as base:
        yield f"{base}/webhook"


def text_update(text: str, chat: int = CHAT) -> Dict:
    return {
        "update_id": 10001,
        "message": {
            "message_id": 5,
            "date": 1741946400,
            "from": {"id": chat, "is_bot": False, "first_name": "Ana", "language_code": "de"},
            "chat": {"id": chat, "first_name": "Ana", "type": "private"},
            "text": text,
        },
    }


def button_update(data: str) -> Dict:
    return {
        "update_id": 10002,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ana"},
            "message": {
                "message_id": 6,
                "date": 1741946401,
                "chat": {"id": CHAT, "type": "private"},
                "text": "1. Sony WH-1000XM5",
            },
            "chat_instance": "-123",
            "data": data,
        },
    }


def signed(secret: str = SECRET) -> Dict[str, str]:
    return {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}


def sent_messages(apis: FakePlatformApis) -> List[Dict]:
    return [call.body for call in apis.calls_to(TELEGRAM, "sendMessage")]


@pytest.mark.asyncio
async def test_the_webhook_is_registered_with_the_secret_token_at_start(
    url: str, apis: FakePlatformApis
) -> None:
    [call] = apis.calls_to(TELEGRAM, "setWebhook")
    assert call.path == f"/bot{TOKEN}/setWebhook"
    assert call.body == {
        "url": WEBHOOK_URL,
        "secret_token": SECRET,
        "allowed_updates": '["message", "edited_message", "callback_query"]',
    }


@pytest.mark.asyncio
async def test_a_message_with_the_secret_token_reaches_the_bot_and_the_reply_telegram(
    url: str, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    status, body = await post(url, json.dumps(text_update("hello")).encode(), signed())
    assert (status, body) == (200, {"status": "ok"})
    assert agent.texts() == [(str(CHAT), "hello", "telegram")]
    assert sent_messages(apis) == [{"chat_id": str(CHAT), "text": "echo: hello"}]


@pytest.mark.asyncio
async def test_unsigned_and_wrongly_signed_updates_are_refused(
    url: str, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    body = json.dumps(text_update("hello")).encode()
    assert await post(url, body, {"Content-Type": "application/json"}) == (
        401,
        {"error": "the request is not signed (X-Telegram-Bot-Api-Secret-Token missing)"},
    )
    assert await post(url, body, signed("not-the-secret")) == (
        403,
        {"error": "the request's X-Telegram-Bot-Api-Secret-Token is not valid"},
    )
    assert await post(url, body, signed(SECRET + "x")) == (
        403,
        {"error": "the request's X-Telegram-Bot-Api-Secret-Token is not valid"},
    )
    assert agent.received == []
    assert sent_messages(apis) == []


@pytest.mark.asyncio
async def test_bodies_that_are_not_updates_are_a_400(url: str, agent: FakeAgent) -> None:
    assert await post(url, b"{not json", signed()) == (400, {"error": "the body is not JSON"})
    assert await post(url, b"\xff\xfe", signed()) == (400, {"error": "the body is not JSON"})
    assert await post(url, b"[1, 2]", signed()) == (
        400,
        {"error": "a Telegram update must be a JSON object"},
    )
    no_chat = {"update_id": 1, "message": {"message_id": 1, "text": "hi"}}
    assert await post(url, json.dumps(no_chat).encode(), signed()) == (
        400,
        {"error": "the message has no chat.id"},
    )
    assert agent.received == []


@pytest.mark.asyncio
async def test_updates_without_text_are_acknowledged_and_ignored(
    url: str, agent: FakeAgent
) -> None:
    photo = text_update("")
    del photo["message"]["text"]
    size = {"file_id": "AgAD", "file_unique_id": "x", "width": 9, "height": 9}
    photo["message"]["photo"] = [size]
    poll = {"update_id": 3, "poll": {"id": "1", "question": "?", "options": []}}
    for update in (photo, poll):
        assert await post(url, json.dumps(update).encode(), signed()) == (
            200,
            {"status": "ignored"},
        )
    assert agent.received == []


@pytest.mark.asyncio
async def test_start_greets_and_buttons_send_their_payload(
    url: str, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    await post(url, json.dumps(text_update("/start")).encode(), signed())
    payload = '/recommendation_feedback{"sku":"SKU-1","vote":"up"}'
    await post(url, json.dumps(button_update(payload)).encode(), signed())
    assert agent.texts() == [(str(CHAT), "/greet", "telegram"), (str(CHAT), payload, "telegram")]
    [ack] = apis.calls_to(TELEGRAM, "answerCallbackQuery")
    assert ack.body == {"callback_query_id": "4382bfdwdsb323b2d9"}


@pytest.mark.asyncio
async def test_buttons_become_an_inline_keyboard(apis: FakePlatformApis) -> None:
    def with_buttons(message: UserMessage) -> List[Reply]:
        buttons = [
            {"title": "👍", "payload": '/recommendation_feedback{"sku":"S1","vote":"up"}'},
            {"title": "Cheaper", "payload": "/refine_recommendation"},
        ]
        return [{"text": "1. Sony WH-1000XM5", "buttons": buttons}]

    agent = FakeAgent(with_buttons)
    channel = TelegramInput(TOKEN, SECRET, WEBHOOK_URL, api_url=apis.url(TELEGRAM))
    async with serve(channel, agent) as base:
        await post(f"{base}/webhook", json.dumps(text_update("headphones")).encode(), signed())
    [message] = sent_messages(apis)
    assert message["text"] == "1. Sony WH-1000XM5"
    assert json.loads(message["reply_markup"]) == {
        "inline_keyboard": [
            [
                {"text": "👍", "callback_data": '/recommendation_feedback{"sku":"S1","vote":"up"}'},
                {"text": "Cheaper", "callback_data": "/refine_recommendation"},
            ]
        ]
    }


@pytest.mark.asyncio
async def test_rasas_output_channel_sends_from_inside_the_running_server(
    url: str, channel: TelegramInput, apis: FakePlatformApis
) -> None:
    # What Rasa's HTTP API does for output_channel=latest (an agent's reply).
    output = channel.get_output_channel()
    assert output is channel.get_output_channel()
    await output.send_response(str(CHAT), {"text": "Hi, I'm Dana from the support team."})
    assert sent_messages(apis) == [
        {"chat_id": str(CHAT), "text": "Hi, I'm Dana from the support team."}
    ]


@pytest.mark.asyncio
async def test_a_failing_bot_api_fails_pushed_messages_but_keeps_the_customers_turn(
    url: str, channel: TelegramInput, apis: FakePlatformApis, agent: FakeAgent, caplog
) -> None:
    apis.failing.add(TELEGRAM)
    with pytest.raises(PlatformDeliveryError, match="telegram did not accept a message for 42"):
        await channel.get_output_channel().send_response("42", {"text": "agent reply"})
    with caplog.at_level(logging.ERROR, logger="bot.channels.delivery"):
        status, _ = await post(url, json.dumps(text_update("hello")).encode(), signed())
    assert status == 200
    assert agent.texts() == [(str(CHAT), "hello", "telegram")]
    assert f"telegram did not accept a message for {CHAT}" in caplog.text
    await wait_for_calls_async(apis, TELEGRAM, "sendMessage", count=2)


@pytest.mark.asyncio
async def test_set_webhook_answers_502_when_telegram_refuses(
    url: str, apis: FakePlatformApis
) -> None:
    set_webhook = url.removesuffix("/webhook") + "/set_webhook"
    apis.failing.add(TELEGRAM)
    assert await post(set_webhook, b"", {}) == (
        502,
        {"error": "Telegram did not accept the webhook"},
    )
    apis.failing.clear()
    assert await post(set_webhook, b"", {}) == (
        200,
        {"webhook": WEBHOOK_URL},
    )


def test_credentials_must_name_the_token_the_secret_and_the_webhook() -> None:
    with pytest.raises(InvalidConfigException, match="needs secret_token, webhook_url"):
        TelegramInput.from_credentials({"access_token": TOKEN})
    with pytest.raises(InvalidConfigException, match="1 to 256 of the characters"):
        TelegramInput(TOKEN, "has spaces in it", WEBHOOK_URL)
    with pytest.raises(InvalidConfigException, match="1 to 256 of the characters"):
        TelegramInput(TOKEN, "x" * 257, WEBHOOK_URL)


def test_parse_update() -> None:
    location = text_update("")
    del location["message"]["text"]
    location["message"]["location"] = {"latitude": 48.2, "longitude": 16.37}
    assert parse_update(location) == TelegramMessage(str(CHAT), '{"lng":16.37, "lat":48.2}')
    edited = {"update_id": 2, "edited_message": text_update("where is ORD-1?")["message"]}
    assert parse_update(edited) == TelegramMessage(str(CHAT), "where is ORD-1?")
    assert parse_update(text_update("/start@shop_bot deep-link")) == TelegramMessage(
        str(CHAT), "/greet"
    )
    assert parse_update(text_update("/startle")) == TelegramMessage(str(CHAT), "/startle")
    inline = button_update("x")
    del inline["callback_query"]["message"]
    assert parse_update(inline) is None
    with pytest.raises(ValueError, match="no chat.id"):
        parse_update({"message": {"chat": {"id": True}, "text": "hi"}})


@pytest.mark.asyncio
async def test_messages_over_the_limits_are_dropped_answered_200_and_explained(
    channel: TelegramInput, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    settings = ChannelLimitSettings(rate_per_minute=1, burst=3, max_message_chars=20)
    channel.limits = ChannelLimits(settings, "telegram")
    async with serve(channel, agent) as base:
        for text in ("one", "x" * 21, "three", "four", "five"):
            body = json.dumps(text_update(text)).encode()
            assert await post(f"{base}/webhook", body, signed()) == (200, {"status": "ok"})
        huge = json.dumps(text_update("y" * 70_000)).encode()
        assert await post(f"{base}/webhook", huge, signed()) == (
            413,
            {"error": "the request body is larger than 65536 bytes"},
        )
    assert agent.texts() == [(str(CHAT), "one", "telegram"), (str(CHAT), "three", "telegram")]
    assert [message["text"] for message in sent_messages(apis)] == [
        "echo: one",
        TOO_LONG_REPLY.format(limit=20),
        "echo: three",
        RATE_REPLY,  # told once, not again for "five"
    ]
