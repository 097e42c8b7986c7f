"""Recommendations rendered for the channel the customer writes from.

:func:`render_recommendations` turns the products to show into a
:class:`RenderedReply`: the messages to send, each a :class:`Message` whose
:meth:`Message.utter_kwargs` go to ``dispatcher.utter_message``. By the input
channel of the latest message (``tracker.get_latest_input_channel()``):

* ``socketio`` (the web widget, rasa-webchat): a short text, a carousel as an
  ``attachment`` in the generic-template format rasa-webchat renders (one card
  per product: title, price and reasons as subtitle, the picture if the
  catalogue has one, buttons 👍 / 👎 / "More like this"), then "Cheaper" and
  "Other brands" as quick replies.
* ``facebook``: the same generic template as a ``json_message`` (Rasa's
  Messenger channel sends it as the message), within Messenger's limits:
  titles and subtitles of 80 characters, button titles of 20, three buttons
  per card, ten cards; "Cheaper" and "Other brands" as a button template.
* ``telegram`` and ``slack``: one message per product (its line of text with
  👍 / 👎 / "More like this" buttons, which Rasa turns into an inline keyboard
  or Block Kit buttons), then "Cheaper" and "Other brands". Telegram's callback
  data holds at most 64 bytes: a thumbs button whose SKU would not fit names
  the product by its place in the list instead. Slack takes at most five
  buttons a message and 75 characters of button text.
* ``rest`` and ``cmdline`` (REST clients receive the JSON): the plain text
  below with "Cheaper", "More like #1" and "Other brands" as buttons, then a
  second message with the thumbs buttons of every product.
* ``twilio`` (SMS) and anything else: plain text only, the products numbered,
  and the follow-ups spelled out in words ("reply 'cheaper', 'more like 2' or
  'other brands' ...; 'thumbs up for the first' ...").

Every thumbs button sends ``/recommendation_feedback{"sku": ..., "vote":
"up"|"down"}``, which ``action_recommendation_feedback`` records.
"""

import copy
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, List, Optional, Sequence, Tuple

from actions.recommender import messages
from actions.recommender.payloads import Recommendation, Vote

TELEGRAM_MAX_CALLBACK_BYTES = 64
SLACK_MAX_BUTTON_TEXT = 75
SLACK_MAX_BUTTONS = 5
MESSENGER_MAX_TITLE = 80
MESSENGER_MAX_SUBTITLE = 80
MESSENGER_MAX_BUTTON_TITLE = 20
MESSENGER_MAX_CARD_BUTTONS = 3
MESSENGER_MAX_CARDS = 10


class Channel(str, Enum):
    """How a channel can show recommendations."""

    WEBCHAT = "socketio"
    FACEBOOK = "facebook"
    TELEGRAM = "telegram"
    SLACK = "slack"
    REST = "rest"
    TEXT = "text"
    """SMS (``twilio``) and every channel not named here: plain text."""


_CHANNELS = {
    "socketio": Channel.WEBCHAT,
    "facebook": Channel.FACEBOOK,
    "telegram": Channel.TELEGRAM,
    "slack": Channel.SLACK,
    "rest": Channel.REST,
    "cmdline": Channel.REST,  # rasa shell talks to the REST webhook
}


def channel_of(input_channel: Optional[str]) -> Channel:
    """Map Rasa's input channel name ("socketio", "twilio", None, ...) to a :class:`Channel`."""
    return _CHANNELS.get((input_channel or "").strip().lower(), Channel.TEXT)


@dataclass(frozen=True)
class Button:
    """A button that sends ``payload`` when pressed."""

    title: str
    payload: str

    def as_dict(self) -> Dict[str, str]:
        """The button as Rasa's ``buttons`` take it."""
        return {"title": self.title, "payload": self.payload}

    def as_postback(self) -> Dict[str, str]:
        """The button of a generic-template card (Messenger, rasa-webchat)."""
        return {"type": "postback", "title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class Card:
    """One product in a carousel."""

    title: str
    subtitle: str
    buttons: Tuple[Button, ...]
    image_url: Optional[str] = None

    def as_element(self) -> Dict[str, Any]:
        """The card as an element of a generic template."""
        element: Dict[str, Any] = {"title": self.title, "subtitle": self.subtitle}
        if self.image_url:
            element["image_url"] = self.image_url
        element["buttons"] = [button.as_postback() for button in self.buttons]
        return element


class CarouselVia(str, Enum):
    """Which ``utter_message`` argument carries a carousel."""

    ATTACHMENT = "attachment"
    """rasa-webchat: Rasa's socket.io channel emits ``{"attachment": ...}``."""
    JSON_MESSAGE = "json_message"
    """Messenger: Rasa's channel sends the custom JSON as the message itself."""


@dataclass(frozen=True)
class Message:
    """One bot message: text with buttons, or a carousel.

    Attributes:
        text: The text, if any.
        buttons: Buttons under the text.
        cards: The carousel's cards, if the message is a carousel.
        carousel_via: How the carousel is sent (required with ``cards``).
    """

    text: Optional[str] = None
    buttons: Tuple[Button, ...] = ()
    cards: Tuple[Card, ...] = ()
    carousel_via: Optional[CarouselVia] = None

    def template(self) -> Dict[str, Any]:
        """The carousel as a generic template attachment."""
        return {
            "type": "template",
            "payload": {
                "template_type": "generic",
                "elements": [card.as_element() for card in self.cards],
            },
        }

    def utter_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments for ``dispatcher.utter_message`` (fresh copies)."""
        kwargs: Dict[str, Any] = {}
        if self.text is not None:
            kwargs["text"] = self.text
        if self.buttons:
            kwargs["buttons"] = [button.as_dict() for button in self.buttons]
        if self.cards:
            if self.carousel_via is CarouselVia.JSON_MESSAGE:
                kwargs["json_message"] = {"attachment": self.template()}
            else:
                kwargs["attachment"] = self.template()
        return copy.deepcopy(kwargs)


@dataclass(frozen=True)
class RenderedReply:
    """The messages that show recommendations on one channel."""

    channel: Channel
    messages: Tuple[Message, ...]


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _fits_telegram(payload: str) -> bool:
    return len(payload.encode("utf-8")) <= TELEGRAM_MAX_CALLBACK_BYTES


def thumbs_buttons(item: Recommendation, position: int, channel: Channel) -> Tuple[Button, ...]:
    """The thumbs-up and thumbs-down buttons of one product.

    Args:
        item: The product.
        position: Its 1-based place in the list shown.
        channel: Where they go; on Telegram a payload over 64 bytes names the
            position instead of the SKU.
    """
    buttons = []
    for vote, title in ((Vote.UP, messages.THUMBS_UP), (Vote.DOWN, messages.THUMBS_DOWN)):
        payload = messages.feedback_payload(item.sku, vote)
        if channel is Channel.TELEGRAM and not _fits_telegram(payload):
            payload = messages.feedback_position_payload(position, vote)
        buttons.append(Button(title, payload))
    return tuple(buttons)


def _card_buttons(item: Recommendation, position: int, channel: Channel) -> Tuple[Button, ...]:
    more_like = Button(messages.MORE_LIKE_THIS, messages.more_like_payload(position))
    return (*thumbs_buttons(item, position, channel), more_like)


def _other_choices() -> Tuple[Button, ...]:
    return tuple(
        Button(button["title"], button["payload"])
        for button in messages.refinement_buttons()
        if button["title"] != messages.MORE_LIKE_FIRST
    )


def _carousel(items: Sequence[Recommendation], channel: Channel) -> Message:
    cards = []
    for position, item in enumerate(items[:MESSENGER_MAX_CARDS], start=1):
        buttons = _card_buttons(item, position, channel)[:MESSENGER_MAX_CARD_BUTTONS]
        cards.append(
            Card(
                title=_cut(item.title, MESSENGER_MAX_TITLE),
                subtitle=_cut("; ".join(item.reasons), MESSENGER_MAX_SUBTITLE),
                buttons=tuple(
                    Button(_cut(b.title, MESSENGER_MAX_BUTTON_TITLE), b.payload) for b in buttons
                ),
                image_url=item.image_url,
            )
        )
    via = CarouselVia.JSON_MESSAGE if channel is Channel.FACEBOOK else CarouselVia.ATTACHMENT
    return Message(cards=tuple(cards), carousel_via=via)


def _per_product(items: Sequence[Recommendation], channel: Channel) -> List[Message]:
    limit = SLACK_MAX_BUTTON_TEXT if channel is Channel.SLACK else None
    result = []
    for position, item in enumerate(items, start=1):
        line = messages.recommendation_line(position, item)
        text = f"{messages.INTRO}\n{line}" if position == 1 else line
        buttons = _card_buttons(item, position, channel)
        if channel is Channel.TELEGRAM:
            buttons = tuple(b for b in buttons if _fits_telegram(b.payload))
        if limit is not None:
            buttons = tuple(Button(_cut(b.title, limit), b.payload) for b in buttons)
        result.append(Message(text=text, buttons=buttons[:SLACK_MAX_BUTTONS]))
    return result


def render_recommendations(
    items: Sequence[Recommendation], input_channel: Optional[str]
) -> RenderedReply:
    """Render the products to show for the customer's channel.

    Args:
        items: The products, best first (at least one).
        input_channel: Rasa's name of the channel of the latest message.

    Returns:
        The messages to send, in order.

    Raises:
        ValueError: If there are no products.
    """
    if not items:
        raise ValueError("nothing to render")
    channel = channel_of(input_channel)
    others = Message(text=messages.NOT_QUITE_RIGHT, buttons=_other_choices())
    if channel in (Channel.WEBCHAT, Channel.FACEBOOK):
        intro = Message(text=messages.INTRO)
        return RenderedReply(channel, (intro, _carousel(items, channel), others))
    if channel in (Channel.TELEGRAM, Channel.SLACK):
        return RenderedReply(channel, (*_per_product(items, channel), others))
    text = messages.recommendations_text(items) + "\n" + messages.follow_up_words(len(items))
    if channel is Channel.REST:
        refine = tuple(Button(b["title"], b["payload"]) for b in messages.refinement_buttons())
        thumbs = tuple(
            Button(f"{b.title} #{position}", b.payload)
            for position, item in enumerate(items, start=1)
            for b in thumbs_buttons(item, position, channel)
        )
        rate = Message(text=messages.RATE_THEM, buttons=thumbs)
        return RenderedReply(channel, (Message(text=text, buttons=refine), rate))
    return RenderedReply(channel, (Message(text=text),))
