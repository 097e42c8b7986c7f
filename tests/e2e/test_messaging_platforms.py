"""Telegram, Slack, Messenger and Twilio (SMS and WhatsApp) end to end.

Real servers: ``rasa run --enable-api`` with the trained model and the
credentials written by ``python -m bot.channels.credentials`` from platform
variables, and the action server, on a fresh SQLite database. The platforms'
APIs are local fakes that record what the bot sends; customers post
platform-shaped, signed requests to Rasa's webhooks. Twilio's webhook URL is a
public one (``https://bot.example.test/...``) while Rasa listens on 127.0.0.1,
as behind a proxy: requests are signed for the public URL.

For every platform: a greeting is answered through the platform's API;
unsigned and wrongly signed requests are refused and never reach the bot;
recommendations come as the platform can show them; and during a handoff an
agent's message, sent through Rasa's HTTP API as the handoff service sends it,
reaches the customer on the same platform (and fails loudly while the
platform's API is down, so that the handoff service retries).
"""

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence
from urllib.parse import quote

import pytest
import requests

from actions.db import Database
from actions.escalation import EscalationReason
from actions.handoff_messages import escalation_reply
from actions.recommender import messages
from actions.settings import Settings
from bot.handoff.rasa_gateway import HttpRasaGateway, OutboundMessage, RasaUnavailable
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HANDBACK_TEXT, HandoffStore
from tests.bot.channels.platform_apis import (
    FACEBOOK,
    SLACK,
    TELEGRAM,
    TWILIO,
    FakePlatformApis,
    ThreadedPlatformApis,
)
from tests.e2e.helpers import ROOT, free_port
from tests.e2e.platform_customers import MISSING, WRONG, Customer, PlatformSecrets, Reply
from tests.e2e.processes import (
    ServerGroup,
    action_server_command,
    assistant_environment,
    rasa_server_command,
)
from tests.e2e.test_rest_conversation import _variants

pytestmark = pytest.mark.slow

KINDS = ("telegram", "slack", "facebook", "sms", "whatsapp")
RECOMMENDATION_REQUEST = "I need noise cancelling headphones under 300 euros"
ASK_FOR_A_PERSON = "i want to talk to a human"
AGENT_REPLY = "Hi, I'm Dana from the support team. I'll look into this for you."
OFFICE = HandoffSettings.from_env({"HANDOFF_OFFICE_HOURS": "24/7"})
# Twilio's ids ("+43664...", "whatsapp:+43664...") must reach Rasa's HTTP API
# unescaped: Rasa does not decode the path, so "%2B43664..." would be another
# conversation (HttpRasaGateway.url_for).
HANDOFF_KINDS = KINDS


@dataclass(frozen=True)
class Rig:
    """The running servers, the fake APIs and the secrets the customers sign with."""

    secrets: PlatformSecrets
    apis: FakePlatformApis
    database_url: str
    servers: ServerGroup

    @property
    def rasa_url(self) -> str:
        return self.secrets.rasa_url

    def customer(self, kind: str, number: int) -> Customer:
        """Customer ``number`` (a different conversation per test) on ``kind``."""
        if kind == "telegram":
            return Customer(TELEGRAM, str(7_000_000 + number), self.secrets)
        if kind == "slack":
            return Customer(SLACK, f"U0E2E{number:04d}", self.secrets)
        if kind == "facebook":
            return Customer(FACEBOOK, str(6_873_492_113_450_000 + number), self.secrets)
        prefix = "whatsapp:" if kind == "whatsapp" else ""
        base = 2_000_000 if kind == "whatsapp" else 1_000_000
        return Customer(TWILIO, f"{prefix}+43664{base + number}", self.secrets)


@pytest.fixture(scope="module")
def rig(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("platforms")
    actions_port, rasa_port = free_port(), free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    secrets = PlatformSecrets(
        rasa_url=rasa_url,
        telegram_secret="e2e_telegram-secret",
        slack_signing_secret="8f742231b10e8888abcd99yyyzzz85a5",
        facebook_app_secret="e2e facebook app secret",
        twilio_auth_token="9" * 32,
        twilio_public_url="https://bot.example.test/webhooks/twilio/webhook",
    )
    with ThreadedPlatformApis() as apis:
        env = assistant_environment(
            tmp,
            TELEGRAM_BOT_TOKEN="123456:e2e-telegram-token",
            TELEGRAM_SECRET_TOKEN=secrets.telegram_secret,
            TELEGRAM_WEBHOOK_URL=f"{rasa_url}/webhooks/telegram/webhook",
            TELEGRAM_API_URL=apis.url(TELEGRAM),
            SLACK_BOT_TOKEN="xoxb-e2e-token",
            SLACK_SIGNING_SECRET=secrets.slack_signing_secret,
            SLACK_API_URL=apis.url(SLACK),
            FACEBOOK_VERIFY_TOKEN="e2e-verify",
            FACEBOOK_APP_SECRET=secrets.facebook_app_secret,
            FACEBOOK_PAGE_ACCESS_TOKEN="EAAG-e2e-page-token",
            FACEBOOK_API_URL=apis.url(FACEBOOK),
            TWILIO_ACCOUNT_SID="AC" + "1" * 32,
            TWILIO_AUTH_TOKEN=secrets.twilio_auth_token,
            TWILIO_WEBHOOK_URL=secrets.twilio_public_url,
            TWILIO_SMS_NUMBER="+14155550100",
            TWILIO_WHATSAPP_NUMBER="+14155238886",
            TWILIO_API_URL=apis.url(TWILIO),
        )
        credentials = tmp / "credentials.yml"
        generated = subprocess.run(
            [sys.executable, "-m", "bot.channels.credentials", "--out", str(credentials)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert generated.returncode == 0, generated.stdout + generated.stderr
        assert [line for line in generated.stderr.splitlines() if ": " in line][:4] == [
            "telegram: on",
            "slack: on",
            "facebook: on",
            "twilio: on",
        ]
        endpoints = tmp / "endpoints.yml"
        endpoints.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n'
        )
        servers = ServerGroup(tmp, env)
        try:
            servers.start(
                "actions",
                action_server_command(actions_port),
                f"http://127.0.0.1:{actions_port}/health",
                90,
            )
            servers.start(
                "rasa",
                rasa_server_command(trained_model, endpoints, credentials, rasa_port),
                f"{rasa_url}/",
                300,
            )
            _wait_until_ready(apis, rasa_url)
            yield Rig(secrets, apis, env["ASSISTANT_DATABASE_URL"], servers)
        finally:
            servers.stop()


def _wait_until_ready(apis: ThreadedPlatformApis, rasa_url: str) -> None:
    """Wait for the start-up work that would otherwise race the first tests.

    Rasa answers its health check before the Telegram channel has registered
    its webhook, and the action server loads MiniLM on the first
    recommendation (long on a busy 2-core machine): one REST request for
    products, outside any platform's conversation, loads it.
    """
    deadline = time.monotonic() + 60
    while not apis.calls_to(TELEGRAM, "setWebhook"):
        assert time.monotonic() < deadline, "the Telegram channel never called setWebhook"
        time.sleep(0.25)
    warm_up = requests.post(
        f"{rasa_url}/webhooks/rest/webhook",
        json={"sender": "e2e-platforms-warm-up", "message": RECOMMENDATION_REQUEST},
        timeout=300,
    )
    assert warm_up.status_code == 200, warm_up.text


def _tracker(rig: Rig, sender_id: str) -> Dict[str, Any]:
    # Rasa's HTTP API does not percent-decode the conversation id: "+" and ":"
    # (Twilio's "whatsapp:+43...") must stay as they are.
    url = f"{rig.rasa_url}/conversations/{quote(sender_id, safe='+:')}/tracker"
    response = requests.get(url, timeout=30)
    response.raise_for_status()
    return response.json()


def _events(rig: Rig, sender_id: str) -> List[Dict[str, Any]]:
    return _tracker(rig, sender_id)["events"]


def _said(rig: Rig, sender_id: str, who: str) -> List[str]:
    return [event.get("text") for event in _events(rig, sender_id) if event["event"] == who]


def _slot(rig: Rig, sender_id: str, name: str) -> Any:
    return _tracker(rig, sender_id)["slots"][name]


def _deliver(rig: Rig, line: OutboundMessage) -> None:
    """Append the line's events as the handoff service's delivery loop does."""

    async def append() -> None:
        gateway = HttpRasaGateway(rig.rasa_url)
        try:
            await gateway.append_events(line.conversation_id, line.rasa_events())
        finally:
            await gateway.close()

    asyncio.run(append())


def _texts(replies: Sequence[Reply]) -> List[Any]:
    return [reply.text for reply in replies]


def test_telegram_webhook_was_registered_with_the_secret_token(rig: Rig) -> None:
    [call] = rig.apis.calls_to(TELEGRAM, "setWebhook")
    assert call.body["url"] == f"{rig.rasa_url}/webhooks/telegram/webhook"
    assert call.body["secret_token"] == rig.secrets.telegram_secret


@pytest.mark.parametrize("kind", KINDS)
def test_a_signed_greeting_is_answered_through_the_platform(rig: Rig, kind: str) -> None:
    customer = rig.customer(kind, 1)
    response = customer.send("hi")
    assert response.status_code == 200, response.text
    replies = customer.wait_for_replies(rig.apis, lambda replies: len(replies) >= 1)
    assert len(replies) == 1 and replies[0].text in _variants("utter_greet")
    assert _said(rig, customer.sender_id, "user") == ["hi"]


@pytest.mark.parametrize("kind", KINDS)
def test_unsigned_and_wrongly_signed_requests_never_reach_the_bot(rig: Rig, kind: str) -> None:
    customer = rig.customer(kind, 2)
    assert customer.send("hi", signature=MISSING).status_code == 401
    assert customer.send("hi", signature=WRONG).status_code == 403
    time.sleep(2)  # Slack's and Messenger's turns run after the answer: give them time
    assert _said(rig, customer.sender_id, "user") == []
    assert customer.replies(rig.apis) == []


def _other_choices() -> tuple:
    buttons = messages.refinement_buttons()
    return tuple((b["title"], b["payload"]) for b in buttons if b["title"] != "More like #1")


@pytest.mark.parametrize("kind", ("telegram", "slack"))
def test_recommendations_come_as_messages_with_buttons(rig: Rig, kind: str) -> None:
    customer = rig.customer(kind, 3)
    assert customer.send(RECOMMENDATION_REQUEST).status_code == 200
    replies = customer.wait_for_replies(
        rig.apis, lambda replies: messages.NOT_QUITE_RIGHT in _texts(replies)
    )
    *products, others = replies
    assert others == Reply(messages.NOT_QUITE_RIGHT, _other_choices())
    assert 1 <= len(products) <= 3
    assert products[0].text.startswith(f"{messages.INTRO}\n1. ")
    for position, product in enumerate(products, start=1):
        assert product.text.splitlines()[-1].startswith(f"{position}. ")
        titles = [title for title, _ in product.buttons]
        assert titles == [messages.THUMBS_UP, messages.THUMBS_DOWN, messages.MORE_LIKE_THIS]
        up, down, more = (payload for _, payload in product.buttons)
        assert up.startswith("/recommendation_feedback{") and up.endswith('"vote":"up"}')
        assert down.startswith("/recommendation_feedback{") and down.endswith('"vote":"down"}')
        assert more == messages.more_like_payload(position)


def test_recommendations_on_messenger_are_a_carousel(rig: Rig) -> None:
    customer = rig.customer("facebook", 3)
    assert customer.send(RECOMMENDATION_REQUEST).status_code == 200
    replies = customer.wait_for_replies(
        rig.apis, lambda replies: messages.NOT_QUITE_RIGHT in _texts(replies)
    )
    intro, carousel, others = replies
    assert intro == Reply(messages.INTRO)
    assert others == Reply(messages.NOT_QUITE_RIGHT, _other_choices())
    assert 1 <= len(carousel.cards) <= 3
    for position, card in enumerate(carousel.cards, start=1):
        assert 0 < len(card["title"]) <= 80 and len(card["subtitle"]) <= 80
        assert [(b["type"], b["title"]) for b in card["buttons"]] == [
            ("postback", messages.THUMBS_UP),
            ("postback", messages.THUMBS_DOWN),
            ("postback", messages.MORE_LIKE_THIS),
        ]
        assert card["buttons"][2]["payload"] == messages.more_like_payload(position)


@pytest.mark.parametrize("kind", ("sms", "whatsapp"))
def test_recommendations_by_sms_and_whatsapp_are_plain_text(rig: Rig, kind: str) -> None:
    customer = rig.customer(kind, 3)
    assert customer.send(RECOMMENDATION_REQUEST).status_code == 200
    [reply] = customer.wait_for_replies(rig.apis, lambda replies: len(replies) >= 1)
    lines = reply.text.splitlines()
    shown = len(lines) - 2
    assert 1 <= shown <= 3
    assert lines[0] == messages.INTRO
    assert [line.split(". ", 1)[0] for line in lines[1:-1]] == [str(n) for n in range(1, shown + 1)]
    assert lines[-1] == messages.follow_up_words(shown)
    assert reply.buttons == ()


@pytest.mark.parametrize("kind", HANDOFF_KINDS)
def test_an_agents_reply_reaches_the_customer_on_the_same_platform(rig: Rig, kind: str) -> None:
    customer = rig.customer(kind, 4)
    store = HandoffStore(Database(Settings(database_url=rig.database_url)), settings=OFFICE)

    assert customer.send(ASK_FOR_A_PERSON).status_code == 200
    [escalation] = customer.wait_for_replies(rig.apis, lambda replies: len(replies) >= 1)
    ticket_id = store.active_ticket_id(customer.sender_id)
    assert ticket_id is not None
    expected = escalation_reply(
        EscalationReason.REQUESTED_HUMAN, store.queue_status(ticket_id), OFFICE.office_hours
    )
    assert escalation.text == expected
    assert _slot(rig, customer.sender_id, "handoff_active") is True

    line = OutboundMessage(
        message_id=1,
        ticket_id=ticket_id,
        conversation_id=customer.sender_id,
        kind="reply",
        text=AGENT_REPLY,
        agent_name="Dana",
        channel=customer.platform,
    )
    # While the platform's API fails, Rasa refuses the events (and keeps none),
    # so the handoff service keeps the line in its outbox and retries.
    rig.apis.failing.add(customer.platform)
    try:
        with pytest.raises(RasaUnavailable, match="Rasa answered 500"):
            _deliver(rig, line)
    finally:
        rig.apis.failing.discard(customer.platform)
    assert AGENT_REPLY not in _said(rig, customer.sender_id, "bot")
    _deliver(rig, line)
    replies = customer.wait_for_replies(rig.apis, lambda replies: len(replies) >= 2)
    assert _texts(replies) == [expected, AGENT_REPLY]
    assert _said(rig, customer.sender_id, "bot").count(AGENT_REPLY) == 1

    handback = OutboundMessage(
        message_id=2,
        ticket_id=ticket_id,
        conversation_id=customer.sender_id,
        kind="handback",
        text=HANDBACK_TEXT,
        agent_name="Dana",
        channel=customer.platform,
    )
    _deliver(rig, handback)
    replies = customer.wait_for_replies(rig.apis, lambda replies: len(replies) >= 3)
    assert _texts(replies) == [expected, AGENT_REPLY, HANDBACK_TEXT]
    assert _slot(rig, customer.sender_id, "handoff_active") is False


@pytest.mark.parametrize("kind", ("sms", "whatsapp"))
def test_rasas_http_api_pushes_to_twilio_customers(rig: Rig, kind: str) -> None:
    # What HttpRasaGateway does, with the conversation id left as Rasa reads it.
    customer = rig.customer(kind, 5)
    assert customer.send("hi").status_code == 200
    customer.wait_for_replies(rig.apis, lambda replies: len(replies) >= 1)
    url = f"{rig.rasa_url}/conversations/{quote(customer.sender_id, safe='+:')}/tracker/events"
    params = {"output_channel": "latest", "execute_side_effects": "true"}
    events = [{"event": "bot", "text": AGENT_REPLY, "metadata": {"handoff": {"agent": "Dana"}}}]
    rig.apis.failing.add(TWILIO)
    try:
        assert requests.post(url, params=params, json=events, timeout=30).status_code == 500
    finally:
        rig.apis.failing.discard(TWILIO)
    assert requests.post(url, params=params, json=events, timeout=30).status_code == 200
    replies = customer.wait_for_replies(rig.apis, lambda replies: len(replies) >= 2)
    assert replies[1] == Reply(AGENT_REPLY)
    assert _said(rig, customer.sender_id, "bot").count(AGENT_REPLY) == 1
