import json
from dataclasses import replace
from typing import Any, Dict, List, Optional

import pytest

from actions.recommender.payloads import Recommendation
from actions.recommender.rendering import (
    Channel,
    RenderedReply,
    channel_of,
    render_recommendations,
)


def item(
    sku: str, title: str, reasons: List[str], image_url: Optional[str] = None
) -> Recommendation:
    return Recommendation(
        sku=sku,
        title=title,
        category="headphones",
        brand=title.split()[0],
        price_cents=10000,
        currency="EUR",
        score=1.0,
        reasons=tuple(reasons),
        image_url=image_url,
    )


ITEMS = (
    item(
        "HP-1",
        "Sony WH-1000XM5",
        ["€329, €71 under your €400 budget", "noise cancelling"],
        "https://shop.example/hp-1.jpg",
    ),
    item("HP-4", "Sennheiser Momentum 4", ["€279", "rated 4.4/5 from 90 reviews"]),
)
UP1 = '/recommendation_feedback{"sku":"HP-1","vote":"up"}'
DOWN1 = '/recommendation_feedback{"sku":"HP-1","vote":"down"}'
UP4 = '/recommendation_feedback{"sku":"HP-4","vote":"up"}'
DOWN4 = '/recommendation_feedback{"sku":"HP-4","vote":"down"}'
LIKE1 = '/refine_recommendation{"refinement":"more_like","position":"1"}'
LIKE2 = '/refine_recommendation{"refinement":"more_like","position":"2"}'
CHEAPER = '/refine_recommendation{"refinement":"cheaper"}'
OTHERS = '/refine_recommendation{"refinement":"other_brands"}'
NOT_QUITE = "Not quite right? I can look for cheaper ones or other brands."
OTHER_CHOICES = [
    {"title": "Cheaper", "payload": CHEAPER},
    {"title": "Other brands", "payload": OTHERS},
]
LINES = (
    "1. Sony WH-1000XM5: €329, €71 under your €400 budget; noise cancelling",
    "2. Sennheiser Momentum 4: €279; rated 4.4/5 from 90 reviews",
)
PLAIN = (
    "Here's what I'd suggest:\n"
    f"{LINES[0]}\n{LINES[1]}\n"
    "Reply 'cheaper', 'more like 2' or 'other brands' for other suggestions, "
    "or say 'thumbs up for the first' or 'thumbs down on the second' to rate one."
)


def kwargs(reply: RenderedReply) -> List[Dict[str, Any]]:
    return [message.utter_kwargs() for message in reply.messages]


def generic(elements: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"type": "template", "payload": {"template_type": "generic", "elements": elements}}


def postbacks(*pairs: tuple) -> List[Dict[str, str]]:
    return [{"type": "postback", "title": title, "payload": payload} for title, payload in pairs]


ELEMENTS = [
    {
        "title": "Sony WH-1000XM5",
        "subtitle": "€329, €71 under your €400 budget; noise cancelling",
        "image_url": "https://shop.example/hp-1.jpg",
        "buttons": postbacks(
            ("👍 Like it", UP1), ("👎 Not for me", DOWN1), ("More like this", LIKE1)
        ),
    },
    {
        "title": "Sennheiser Momentum 4",
        "subtitle": "€279; rated 4.4/5 from 90 reviews",
        "buttons": postbacks(
            ("👍 Like it", UP4), ("👎 Not for me", DOWN4), ("More like this", LIKE2)
        ),
    },
]


@pytest.mark.parametrize(
    ("name", "channel"),
    [
        ("socketio", Channel.WEBCHAT),
        ("facebook", Channel.FACEBOOK),
        ("telegram", Channel.TELEGRAM),
        ("slack", Channel.SLACK),
        ("rest", Channel.REST),
        ("cmdline", Channel.REST),
        ("twilio", Channel.TEXT),
        ("callback", Channel.TEXT),
        ("", Channel.TEXT),
        (None, Channel.TEXT),
        (" Telegram ", Channel.TELEGRAM),
    ],
)
def test_channels_by_name(name: Optional[str], channel: Channel) -> None:
    assert channel_of(name) is channel


def test_the_web_widget_gets_text_a_carousel_attachment_and_quick_replies() -> None:
    reply = render_recommendations(ITEMS, "socketio")

    assert reply.channel is Channel.WEBCHAT
    assert kwargs(reply) == [
        {"text": "Here's what I'd suggest:"},
        {"attachment": generic(ELEMENTS)},
        {"text": NOT_QUITE, "buttons": OTHER_CHOICES},
    ]


def test_messenger_gets_the_generic_template_as_its_message() -> None:
    reply = render_recommendations(ITEMS, "facebook")

    assert kwargs(reply) == [
        {"text": "Here's what I'd suggest:"},
        {"json_message": {"attachment": generic(ELEMENTS)}},
        {"text": NOT_QUITE, "buttons": OTHER_CHOICES},
    ]


def test_messenger_limits_are_kept() -> None:
    long = item("HP-9", "Bose " + "QuietComfort " * 10, ["a reason that goes on " * 6])
    many = [replace_sku(long, f"HP-{n}") for n in range(12)]

    carousel = kwargs(render_recommendations(many, "facebook"))[1]["json_message"]
    elements = carousel["attachment"]["payload"]["elements"]

    assert len(elements) == 10  # ten cards at most
    element = elements[0]
    assert element["title"] == ("Bose " + "QuietComfort " * 6 + "Quiet")[:79] + "…"
    assert len(element["title"]) == 80
    assert element["subtitle"] == "a reason that goes on " * 3 + "a reason that…"
    assert len(element["buttons"]) == 3
    assert all(len(button["title"]) <= 20 for button in element["buttons"])


def replace_sku(recommendation: Recommendation, sku: str) -> Recommendation:
    return replace(recommendation, sku=sku)


def test_telegram_gets_a_message_with_an_inline_keyboard_per_product() -> None:
    assert kwargs(render_recommendations(ITEMS, "telegram")) == [
        {
            "text": f"Here's what I'd suggest:\n{LINES[0]}",
            "buttons": [
                {"title": "👍 Like it", "payload": UP1},
                {"title": "👎 Not for me", "payload": DOWN1},
                {"title": "More like this", "payload": LIKE1},
            ],
        },
        {
            "text": LINES[1],
            "buttons": [
                {"title": "👍 Like it", "payload": UP4},
                {"title": "👎 Not for me", "payload": DOWN4},
                {"title": "More like this", "payload": LIKE2},
            ],
        },
        {"text": NOT_QUITE, "buttons": OTHER_CHOICES},
    ]


def test_telegram_names_a_long_sku_by_its_position() -> None:
    long_sku = "CATALOGUE-2026-X-0000001"  # 24 characters: 72 bytes of callback data
    reply = render_recommendations([ITEMS[0], replace_sku(ITEMS[1], long_sku)], "telegram")

    second = kwargs(reply)[1]["buttons"]
    assert second == [
        {"title": "👍 Like it", "payload": '/recommendation_feedback{"position":"2","vote":"up"}'},
        {
            "title": "👎 Not for me",
            "payload": '/recommendation_feedback{"position":"2","vote":"down"}',
        },
        {"title": "More like this", "payload": LIKE2},
    ]
    for message in kwargs(reply):
        assert all(len(b["payload"].encode()) <= 64 for b in message.get("buttons", []))
    # Other channels keep the SKU, which stays right even for an older list.
    assert kwargs(render_recommendations([replace_sku(ITEMS[1], long_sku)], "slack"))[0]["buttons"][
        0
    ]["payload"] == (f'/recommendation_feedback{{"sku":"{long_sku}","vote":"up"}}')


def test_slack_gets_block_kit_sized_buttons() -> None:
    messages = kwargs(render_recommendations(ITEMS, "slack"))

    assert messages == kwargs(render_recommendations(ITEMS, "telegram"))
    for message in messages:
        assert len(message["buttons"]) <= 5
        assert all(len(button["title"]) <= 75 for button in message["buttons"])


def test_rest_gets_plain_text_with_buttons_and_the_thumbs_separately() -> None:
    assert kwargs(render_recommendations(ITEMS, "rest")) == [
        {
            "text": PLAIN,
            "buttons": [
                {"title": "Cheaper", "payload": CHEAPER},
                {"title": "More like #1", "payload": LIKE1},
                {"title": "Other brands", "payload": OTHERS},
            ],
        },
        {
            "text": "Tell me what you think of them:",
            "buttons": [
                {"title": "👍 Like it #1", "payload": UP1},
                {"title": "👎 Not for me #1", "payload": DOWN1},
                {"title": "👍 Like it #2", "payload": UP4},
                {"title": "👎 Not for me #2", "payload": DOWN4},
            ],
        },
    ]


@pytest.mark.parametrize("channel", ["twilio", "callback", None])
def test_sms_and_unknown_channels_get_plain_text_only(channel: Optional[str]) -> None:
    assert kwargs(render_recommendations(ITEMS, channel)) == [{"text": PLAIN}]


def test_one_product_is_spelled_out_in_the_singular() -> None:
    assert kwargs(render_recommendations(ITEMS[:1], "twilio")) == [
        {
            "text": "Here's what I'd suggest:\n"
            f"{LINES[0]}\n"
            "Reply 'cheaper', 'more like 1' or 'other brands' for other suggestions, "
            "or say 'thumbs up for the first' or 'thumbs down on the first' to rate one."
        }
    ]


def test_hostile_product_data_stays_inside_its_fields() -> None:
    nasty = item('X"1\\', "<b>Big</b>\n\nTitle\t", ['"quoted"\nline'])

    (message,) = kwargs(render_recommendations([nasty], "socketio"))[1:2]
    (element,) = message["attachment"]["payload"]["elements"]

    assert (element["title"], element["subtitle"]) == ("<b>Big</b> Title", '"quoted" line')
    payload = element["buttons"][0]["payload"]
    assert json.loads(payload[len("/recommendation_feedback") :]) == {"sku": 'X"1\\', "vote": "up"}


def test_messages_are_fresh_copies() -> None:
    reply = render_recommendations(ITEMS, "facebook")
    first = reply.messages[1].utter_kwargs()
    first["json_message"]["attachment"]["payload"]["elements"][0]["buttons"].clear()

    assert reply.messages[1].utter_kwargs()["json_message"] == {"attachment": generic(ELEMENTS)}


def test_nothing_to_render_is_an_error() -> None:
    with pytest.raises(ValueError, match="nothing to render"):
        render_recommendations([], "rest")
