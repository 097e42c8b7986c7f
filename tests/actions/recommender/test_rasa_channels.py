"""The rendered recommendations through Rasa itself, and a thumbs button end to end.

The action's messages go through JSON (as the action server sends them), Rasa's
``RemoteAction`` and the real output channels of Rasa 3.6 (socket.io,
Messenger, Telegram, Slack, REST); only the platform clients are fakes that
record what would go over the wire. A thumbs payload is then parsed by Rasa's
``RegexMessageHandler`` with the project's ``domain.yml`` and handed to
``action_recommendation_feedback`` in a real tracker.
"""

import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, SlotSet, UserUttered
from rasa_sdk.executor import CollectingDispatcher

from actions.recommender.actions import ActionRecommendationFeedback, ActionRecommendProducts
from actions.recommender.payloads import Vote
from actions.recommender.rendering import render_recommendations
from actions.recommender.service import Recommender
from tests.actions.recommender.test_rendering import ITEMS

pytest.importorskip("rasa")

from rasa.core.actions.action import RemoteAction  # noqa: E402
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel  # noqa: E402
from rasa.core.channels.facebook import MessengerBot  # noqa: E402
from rasa.core.channels.slack import SlackBot  # noqa: E402
from rasa.core.channels.socketio import SocketIOOutput  # noqa: E402
from rasa.core.channels.telegram import TelegramOutput  # noqa: E402
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
UP1 = '/recommendation_feedback{"sku":"HP-1","vote":"up"}'
DOWN1 = '/recommendation_feedback{"sku":"HP-1","vote":"down"}'
LIKE1 = '/refine_recommendation{"refinement":"more_like","position":"1"}'
CHEAPER = '/refine_recommendation{"refinement":"cheaper"}'
OTHERS = '/refine_recommendation{"refinement":"other_brands"}'
NOT_QUITE = "Not quite right? I can look for cheaper ones or other brands."


class FakeSocketServer:
    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []

    async def emit(self, event: str, data: Any = None, room: Optional[str] = None) -> None:
        self.sent.append({"event": event, "data": data, "room": room})


class FakeMessengerClient:
    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []

    def send(self, payload: Dict[str, Any], recipient_id: str, messaging_type: str) -> None:
        self.sent.append(json.loads(json.dumps(payload)))


class RecordingTelegram(TelegramOutput):
    def __init__(self) -> None:
        super().__init__("123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi")
        self.sent: List[Tuple[str, Any]] = []

    async def send_message(self, chat_id: Any, text: str, reply_markup: Any = None, **_: Any):  # type: ignore[override]
        self.sent.append((text, reply_markup.to_python() if reply_markup else None))


class RecordingSlack(SlackBot):
    def __init__(self) -> None:
        super().__init__("xoxb-test")
        self.sent: List[Dict[str, Any]] = []

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        self.sent.append(kwargs)


async def deliver(channel: str, output: OutputChannel) -> None:
    dispatcher = CollectingDispatcher()
    for message in render_recommendations(ITEMS, channel).messages:
        dispatcher.utter_message(**message.utter_kwargs())
    responses = json.loads(json.dumps(dispatcher.messages))  # the action server's response
    for uttered in await RemoteAction._utter_responses(responses, output, None, None):
        await output.send_response("customer-1", uttered.message())


@pytest.mark.asyncio
async def test_the_web_widget_receives_the_carousel_rasa_webchat_renders() -> None:
    server = FakeSocketServer()

    await deliver("socketio", SocketIOOutput(server, "bot_uttered"))

    intro, carousel, others = (sent["data"] for sent in server.sent)
    assert intro == {"text": "Here's what I'd suggest:"}
    attachment = carousel["attachment"]
    assert (attachment["type"], attachment["payload"]["template_type"]) == ("template", "generic")
    first = attachment["payload"]["elements"][0]
    assert first["image_url"] == "https://shop.example/hp-1.jpg"
    assert first["buttons"][:2] == [
        {"type": "postback", "title": "👍 Like it", "payload": UP1},
        {"type": "postback", "title": "👎 Not for me", "payload": DOWN1},
    ]
    assert others == {
        "text": NOT_QUITE,
        "quick_replies": [
            {"content_type": "text", "title": "Cheaper", "payload": CHEAPER},
            {"content_type": "text", "title": "Other brands", "payload": OTHERS},
        ],
    }


@pytest.mark.asyncio
async def test_messenger_receives_a_generic_template_and_a_button_template() -> None:
    client = FakeMessengerClient()

    await deliver("facebook", MessengerBot(client))

    intro, carousel, others = client.sent
    assert intro == {"text": "Here's what I'd suggest:"}
    assert carousel["attachment"]["payload"]["template_type"] == "generic"
    assert [len(e["buttons"]) for e in carousel["attachment"]["payload"]["elements"]] == [3, 3]
    assert others == {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "button",
                "text": NOT_QUITE,
                "buttons": [
                    {"title": "Cheaper", "payload": CHEAPER, "type": "postback"},
                    {"title": "Other brands", "payload": OTHERS, "type": "postback"},
                ],
            },
        }
    }


@pytest.mark.asyncio
async def test_telegram_receives_inline_keyboards_within_64_bytes() -> None:
    bot = RecordingTelegram()

    await deliver("telegram", bot)

    assert [text.split("\n")[-1][:2] for text, _ in bot.sent] == ["1.", "2.", "No"]
    first_keyboard = bot.sent[0][1]["inline_keyboard"]
    assert first_keyboard == [
        [
            {"text": "👍 Like it", "callback_data": UP1},
            {"text": "👎 Not for me", "callback_data": DOWN1},
            {"text": "More like this", "callback_data": LIKE1},
        ]
    ]
    for _, markup in bot.sent:
        for row in markup["inline_keyboard"]:
            assert all(len(b["callback_data"].encode()) <= 64 for b in row)


@pytest.mark.asyncio
async def test_slack_receives_block_kit_buttons() -> None:
    bot = RecordingSlack()

    await deliver("slack", bot)

    assert len(bot.sent) == 3  # none dropped for having more than five buttons
    actions = bot.sent[0]["blocks"][1]
    assert actions["type"] == "actions"
    assert [(e["text"]["text"], e["value"]) for e in actions["elements"]] == [
        ("👍 Like it", UP1),
        ("👎 Not for me", DOWN1),
        ("More like this", LIKE1),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(("channel", "buttons"), [("rest", 3), ("twilio", 0)])
async def test_rest_and_sms_receive_the_numbered_text(channel: str, buttons: int) -> None:
    output = CollectingOutputChannel()

    await deliver(channel, output)

    first = output.messages[0]
    assert first["text"].splitlines()[1:3] == [
        "1. Sony WH-1000XM5: €329, €71 under your €400 budget; noise cancelling",
        "2. Sennheiser Momentum 4: €279; rated 4.4/5 from 90 reviews",
    ]
    assert len(first.get("buttons") or []) == buttons
    assert len(output.messages) == (2 if channel == "rest" else 1)


# --- a thumbs button, end to end -----------------------------------------------------


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def parse_payload(payload: str, domain: Domain) -> Dict[str, Any]:
    (parsed,) = RegexMessageHandler().process([Message(data={"text": payload})], domain)
    return parsed.as_dict()


def test_the_domain_and_rules_know_the_feedback_intent_and_its_entities(domain: Domain) -> None:
    assert "recommendation_feedback" in domain.intents
    assert {"sku", "vote", "position"} <= set(domain.entities)
    assert "action_recommendation_feedback" in domain.user_actions
    rules = yaml.safe_load((ROOT / "bot" / "data" / "rules.yml").read_text(encoding="utf-8"))
    steps = [rule["steps"] for rule in rules["rules"]]
    assert [
        {"intent": "recommendation_feedback"},
        {"action": "action_recommendation_feedback"},
    ] in steps


Track = Callable[..., Tracker]


@pytest.fixture
def customer_says(
    build_tracker: Callable[..., Tracker], parse_data: Callable[..., Dict[str, Any]]
) -> Track:
    """A tracker whose latest message came from a channel, after products were shown."""

    def build(parsed: Dict[str, Any], channel: str, shown: Optional[List[str]] = None) -> Tracker:
        message = parse_data(parsed["text"], parsed["intent"]["name"], parsed["entities"])
        events: List[Dict[str, Any]] = [ActionExecuted("action_listen")]
        if shown is not None:
            earlier = parse_data("headphones", "request_recommendation")
            events += [
                UserUttered("headphones", earlier, input_channel=channel),
                ActionExecuted("action_recommend_products"),
                SlotSet("recommended_skus", shown),
                ActionExecuted("action_listen"),
            ]
        events.append(UserUttered(parsed["text"], message, input_channel=channel))
        return build_tracker(events, latest_message=message)

    return build


def button_payloads(messages: List[Dict[str, Any]]) -> Iterator[str]:
    """Every button payload of the messages: plain buttons and carousel cards."""
    for message in messages:
        for button in message["buttons"]:
            yield button["payload"]
        template = message["attachment"] or message["custom"].get("attachment") or {}
        for element in template.get("payload", {}).get("elements", []):
            for button in element["buttons"]:
                yield button["payload"]


NEED = {
    "text": "noise cancelling headphones under 400 euros",
    "intent": {"name": "request_recommendation"},
    "entities": [],
}


@pytest.mark.asyncio
@pytest.mark.parametrize("channel", ["socketio", "facebook", "telegram", "slack", "rest"])
async def test_a_thumbs_down_button_is_recorded_and_the_product_is_not_shown_again(
    recommender: Recommender, domain: Domain, customer_says: Track, channel: str
) -> None:
    first = customer_says(NEED, channel)
    dispatcher = CollectingDispatcher()
    events = await ActionRecommendProducts(recommender).run(dispatcher, first, {})
    shown = events[0]["value"]
    assert shown == ["HP-1", "HP-4", "HP-6"]
    thumbs = [p for p in button_payloads(dispatcher.messages) if "recommendation_feedback" in p]
    assert thumbs == [
        f'/recommendation_feedback{{"sku":"{sku}","vote":"{vote}"}}'
        for sku in shown
        for vote in ("up", "down")
    ]
    down = thumbs[1]

    parsed = parse_payload(down, domain)
    assert parsed["intent"]["name"] == "recommendation_feedback"
    assert {(e["entity"], e["value"]) for e in parsed["entities"]} == {
        ("sku", "HP-1"),
        ("vote", "down"),
    }
    thanks = CollectingDispatcher()
    await ActionRecommendationFeedback(recommender).run(
        thanks, customer_says(parsed, channel, shown), {}
    )

    assert thanks.messages[0]["text"] == (
        "Got it, I won't suggest the Sony WH-1000XM5 Noise Cancelling Headphones again."
    )
    (vote,) = recommender.feedback.for_conversation("customer-1")
    assert (vote.sku, vote.vote) == ("HP-1", Vote.DOWN)
    again = await ActionRecommendProducts(recommender).run(CollectingDispatcher(), first, {})
    assert again[0]["value"] == ["HP-4", "HP-6", "HP-3"]


@pytest.mark.asyncio
async def test_a_thumbs_up_by_position_from_telegram_is_recorded(
    recommender: Recommender, domain: Domain, customer_says: Track
) -> None:
    parsed = parse_payload('/recommendation_feedback{"position":"2","vote":"up"}', domain)

    await ActionRecommendationFeedback(recommender).run(
        CollectingDispatcher(), customer_says(parsed, "telegram", ["HP-1", "HP-4"]), {}
    )

    (vote,) = recommender.feedback.for_conversation("customer-1")
    assert (vote.sku, vote.vote) == ("HP-4", Vote.UP)
