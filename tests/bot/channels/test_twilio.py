"""The Twilio channel (SMS and WhatsApp) on a real Sanic server, against the fake Twilio API.

Webhook bodies carry the parameters Twilio sends (blank ones included) and are
signed with Twilio's own ``RequestValidator`` for the public URL configured at
Twilio, while the server itself listens on 127.0.0.1 as it would behind a proxy.
"""

import base64
import logging
from typing import AsyncIterator, Dict, Optional
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from rasa.shared.exceptions import InvalidConfigException
from twilio.request_validator import RequestValidator

from bot.channels.delivery import PlatformDeliveryError
from bot.channels.limits import RATE_REPLY, TOO_LONG_REPLY, ChannelLimits
from bot.channels.settings import ChannelLimitSettings
from bot.channels.twilio import EMPTY_TWIML, TwilioInput, message_text
from tests.bot.channels.harness import FakeAgent, post, serve
from tests.bot.channels.platform_apis import TWILIO, FakePlatformApis

SID = "AC" + "1" * 32
AUTH_TOKEN = "12345678901234567890123456789012"
PUBLIC_URL = "https://bot.example.com/webhooks/twilio/webhook"
SMS_NUMBER = "+14155550100"
WHATSAPP_NUMBER = "whatsapp:+14155238886"
CUSTOMER = "+436641234567"


@pytest.fixture
def channel(apis: FakePlatformApis) -> TwilioInput:
    created = TwilioInput.from_credentials(
        {
            "account_sid": SID,
            "auth_token": AUTH_TOKEN,
            "webhook_url": PUBLIC_URL,
            "twilio_number": SMS_NUMBER,
            "whatsapp_number": "+14155238886",
            "api_url": apis.url(TWILIO),
        }
    )
    assert isinstance(created, TwilioInput)
    return created


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent()


@pytest_asyncio.fixture
async def url(channel: TwilioInput, agent: FakeAgent) -> AsyncIterator[str]:
    async with serve(channel, agent) as base:
        yield f"{base}/webhook"


def sms(body: str, sender: str = CUSTOMER, to: str = SMS_NUMBER) -> Dict[str, str]:
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": "SM" + "a" * 32,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": "SM" + "a" * 32,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "AT",
        "To": to,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


def whatsapp(body: str) -> Dict[str, str]:
    return {
        **sms(body, sender=f"whatsapp:{CUSTOMER}", to=WHATSAPP_NUMBER),
        "ProfileName": "Ana",
        "WaId": CUSTOMER.lstrip("+"),
    }


def signed(
    params: Dict[str, str], url: str = PUBLIC_URL, token: str = AUTH_TOKEN
) -> Dict[str, str]:
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": RequestValidator(token).compute_signature(url, params),
    }


def form(params: Dict[str, str]) -> bytes:
    return urlencode(params).encode()


def messages(apis: FakePlatformApis) -> list:
    return [(c.body["From"], c.body["To"], c.body["Body"]) for c in apis.calls_to(TWILIO)]


@pytest.mark.asyncio
async def test_a_signed_sms_reaches_the_bot_and_the_reply_twilio(
    url: str, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    params = sms("hello")
    assert await post(url, form(params), signed(params)) == (200, EMPTY_TWIML)
    assert agent.texts() == [(CUSTOMER, "hello", "twilio")]
    [call] = apis.calls_to(TWILIO)
    assert call.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    credentials = base64.b64encode(f"{SID}:{AUTH_TOKEN}".encode()).decode()
    assert call.headers["Authorization"] == f"Basic {credentials}"
    assert call.body == {"To": CUSTOMER, "From": SMS_NUMBER, "Body": "echo: hello"}


@pytest.mark.asyncio
async def test_a_whatsapp_message_is_answered_from_the_whatsapp_number(
    url: str, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    params = whatsapp("hi there")
    assert await post(url, form(params), signed(params)) == (200, EMPTY_TWIML)
    assert agent.texts() == [(f"whatsapp:{CUSTOMER}", "hi there", "twilio")]
    assert messages(apis) == [(WHATSAPP_NUMBER, f"whatsapp:{CUSTOMER}", "echo: hi there")]


@pytest.mark.asyncio
async def test_unsigned_and_wrongly_signed_requests_are_refused(
    url: str, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    params = sms("hello")
    missing = {"error": "the request is not signed (X-Twilio-Signature missing)"}
    invalid = {"error": "the request's X-Twilio-Signature is not valid"}
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    assert await post(url, form(params), unsigned) == (401, missing)
    assert await post(url, form(params), signed(params, token="0" * 32)) == (403, invalid)
    forged = {**params, "From": "+15005550006"}
    assert await post(url, form(forged), signed(params)) == (403, invalid)
    # Signed for the URL the server sees rather than the one configured at Twilio.
    assert await post(url, form(params), signed(params, url=url)) == (403, invalid)
    assert await post(url, b"Body=\xff", {"X-Twilio-Signature": "x"}) == (403, invalid)
    assert agent.received == []
    assert apis.calls_to(TWILIO) == []


@pytest.mark.asyncio
async def test_the_query_string_is_part_of_the_signed_url(url: str, agent: FakeAgent) -> None:
    params = sms("hello")
    headers = signed(params, url=f"{PUBLIC_URL}?lang=de")
    assert await post(f"{url}?lang=de", form(params), headers) == (200, EMPTY_TWIML)
    assert agent.texts() == [(CUSTOMER, "hello", "twilio")]


@pytest.mark.asyncio
async def test_messages_without_text_are_acknowledged_and_a_missing_sender_is_a_400(
    url: str, agent: FakeAgent
) -> None:
    media = {**sms(""), "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/ME1"}
    assert await post(url, form(media), signed(media)) == (200, EMPTY_TWIML)
    no_sender = {key: value for key, value in sms("hello").items() if key != "From"}
    assert await post(url, form(no_sender), signed(no_sender)) == (
        400,
        {"error": "the request has no From"},
    )
    assert agent.received == []


@pytest.mark.asyncio
async def test_rasas_output_channel_sends_sms_and_whatsapp(
    channel: TwilioInput, apis: FakePlatformApis
) -> None:
    output = channel.get_output_channel()
    await output.send_response(CUSTOMER, {"text": "Hi, I'm Dana."})
    await output.send_response(f"whatsapp:{CUSTOMER}", {"text": "Hi again."})
    assert messages(apis) == [
        (SMS_NUMBER, CUSTOMER, "Hi, I'm Dana."),
        (WHATSAPP_NUMBER, f"whatsapp:{CUSTOMER}", "Hi again."),
    ]


@pytest.mark.asyncio
async def test_a_failing_twilio_api_fails_pushed_messages_but_keeps_the_customers_turn(
    url: str, channel: TwilioInput, apis: FakePlatformApis, agent: FakeAgent, caplog
) -> None:
    apis.failing.add(TWILIO)
    with pytest.raises(PlatformDeliveryError, match="unsubscribed recipient"):
        await channel.get_output_channel().send_response(CUSTOMER, {"text": "agent reply"})
    params = sms("hello")
    with caplog.at_level(logging.ERROR, logger="bot.channels.delivery"):
        assert await post(url, form(params), signed(params)) == (200, EMPTY_TWIML)
    assert agent.texts() == [(CUSTOMER, "hello", "twilio")]
    # The channel masks phone numbers in the process's logs (bot.privacy).
    assert "twilio did not accept a message for +**********67;" in caplog.text


@pytest.mark.asyncio
async def test_without_a_whatsapp_number_whatsapp_replies_fail(apis: FakePlatformApis) -> None:
    channel = TwilioInput(
        SID, AUTH_TOKEN, PUBLIC_URL, twilio_number=SMS_NUMBER, api_url=apis.url(TWILIO)
    )
    with pytest.raises(PlatformDeliveryError, match="no whatsapp_number is configured"):
        await channel.get_output_channel().send_response(f"whatsapp:{CUSTOMER}", {"text": "x"})
    assert apis.calls_to(TWILIO) == []


def test_credentials_need_the_account_the_webhook_url_and_a_number() -> None:
    with pytest.raises(
        InvalidConfigException, match="needs webhook_url, twilio_number or whatsapp_number"
    ):
        TwilioInput.from_credentials({"account_sid": SID, "auth_token": AUTH_TOKEN})
    only_whatsapp = TwilioInput(SID, AUTH_TOKEN, PUBLIC_URL, whatsapp_number="+14155238886")
    assert only_whatsapp.whatsapp_number == WHATSAPP_NUMBER


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"Body": ["where is my order?"]}, "where is my order?"),
        ({"Body": ["mail me at ana¡example.com"]}, "mail me at ana@example.com"),
        ({"Body": ["  "]}, None),
        ({}, None),
        (
            {"Body": [""], "Latitude": ["48.2"], "Longitude": ["16.37"]},
            "/locationData{'Latitude': 48.2,'Longitude': 16.37}",
        ),
    ],
)
def test_message_text(params: Dict, expected: Optional[str]) -> None:
    assert message_text(params) == expected


@pytest.mark.asyncio
async def test_messages_over_the_limits_are_dropped_answered_with_twiml_and_explained(
    channel: TwilioInput, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    settings = ChannelLimitSettings(rate_per_minute=1, burst=3, max_message_chars=20)
    channel.limits = ChannelLimits(settings, "twilio")
    async with serve(channel, agent) as base:
        for value in ("one", "x" * 21, "three", "four", "five"):
            params = sms(value)
            assert await post(f"{base}/webhook", form(params), signed(params)) == (
                200,
                EMPTY_TWIML,
            )
        params = sms("y" * 70_000)
        assert await post(f"{base}/webhook", form(params), signed(params)) == (
            413,
            {"error": "the request body is larger than 65536 bytes"},
        )
    assert agent.texts() == [(CUSTOMER, "one", "twilio"), (CUSTOMER, "three", "twilio")]
    assert [body for _, _, body in messages(apis)] == [
        "echo: one",
        TOO_LONG_REPLY.format(limit=20),
        "echo: three",
        RATE_REPLY,
    ]


@pytest.mark.asyncio
async def test_refusals_can_be_kept_quiet_on_paid_channels(
    channel: TwilioInput, apis: FakePlatformApis, agent: FakeAgent
) -> None:
    settings = ChannelLimitSettings(rate_per_minute=1, burst=1, limit_replies=False)
    channel.limits = ChannelLimits(settings, "twilio")
    async with serve(channel, agent) as base:
        for value in ("one", "two"):
            params = sms(value)
            assert await post(f"{base}/webhook", form(params), signed(params)) == (
                200,
                EMPTY_TWIML,
            )
    assert [body for _, _, body in messages(apis)] == ["echo: one"]
