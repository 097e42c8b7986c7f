"""Customers on the four messaging platforms, for end-to-end tests.

A :class:`Customer` sends a message to Rasa's webhook exactly as its platform
would (payload shape, content type, signature header) and reads the bot's
replies to it from the fake platform APIs (:mod:`tests.bot.channels.platform_apis`),
each reduced to a :class:`Reply`. The signatures are computed here, not with
the code under test: HMAC by hand, Twilio's with its own ``RequestValidator``.
"""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import requests
from twilio.request_validator import RequestValidator

from tests.bot.channels.platform_apis import (
    FACEBOOK,
    SLACK,
    TELEGRAM,
    TWILIO,
    ApiCall,
    FakePlatformApis,
)

VALID, MISSING, WRONG = "valid", "missing", "wrong"


@dataclass(frozen=True)
class Reply:
    """A message the bot sent, whatever the platform.

    Attributes:
        text: Its text (a template's text for a Messenger button template).
        buttons: (title, payload) of each button.
        cards: The elements of a Messenger generic template.
    """

    text: Optional[str]
    buttons: Tuple[Tuple[str, str], ...] = ()
    cards: Tuple[Dict[str, Any], ...] = ()


@dataclass(frozen=True)
class PlatformSecrets:
    """What the platforms sign with, and the URLs they call."""

    rasa_url: str
    telegram_secret: str
    slack_signing_secret: str
    facebook_app_secret: str
    twilio_auth_token: str
    twilio_public_url: str


class Customer:
    """One person writing to the bot from one platform.

    Args:
        platform: "telegram", "slack", "facebook" or "twilio".
        sender_id: The conversation's id in Rasa (chat id, user id, PSID, phone).
        secrets: The shared secrets and URLs.
    """

    def __init__(self, platform: str, sender_id: str, secrets: PlatformSecrets) -> None:
        self.platform = platform
        self.sender_id = sender_id
        self.secrets = secrets
        self.webhook = f"{secrets.rasa_url}/webhooks/{platform}/webhook"

    # --- sending -------------------------------------------------------------------

    def send(self, text: str, signature: str = VALID) -> requests.Response:
        """POST ``text`` to the platform's webhook, signed, unsigned or wrongly signed."""
        body, headers = getattr(self, f"_{self.platform}")(text, signature)
        return requests.post(self.webhook, data=body, headers=headers, timeout=120)

    def _telegram(self, text: str, signature: str) -> Tuple[bytes, Dict[str, str]]:
        chat = int(self.sender_id)
        update = {
            "update_id": int(time.time() * 1000) % 2**31,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "from": {"id": chat, "is_bot": False, "first_name": "Ana"},
                "chat": {"id": chat, "first_name": "Ana", "type": "private"},
                "text": text,
            },
        }
        headers = {"Content-Type": "application/json"}
        if signature != MISSING:
            secret = self.secrets.telegram_secret
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret if signature == VALID else "guess"
        return json.dumps(update).encode(), headers

    def _slack(self, text: str, signature: str) -> Tuple[bytes, Dict[str, str]]:
        event = {
            "type": "message",
            "channel": self.dm_channel,
            "user": self.sender_id,
            "text": text,
            "ts": f"{time.time():.6f}",
            "channel_type": "im",
        }
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": "T061EG9R6",
                "event": event,
                "authorizations": [{"user_id": "UBOTUSER", "is_bot": True}],
                "event_id": f"Ev{time.time_ns()}",
                "event_time": int(time.time()),
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if signature != MISSING:
            stamp = str(int(time.time()))
            secret = self.secrets.slack_signing_secret if signature == VALID else "guess"
            digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
            headers["X-Slack-Request-Timestamp"] = stamp
            headers["X-Slack-Signature"] = f"v0={digest.hexdigest()}"
        return body, headers

    def _facebook(self, text: str, signature: str) -> Tuple[bytes, Dict[str, str]]:
        event = {
            "sender": {"id": self.sender_id},
            "recipient": {"id": "1067280970047460"},
            "timestamp": int(time.time() * 1000),
            "message": {"mid": f"m_{time.time_ns()}", "text": text},
        }
        entry = {"id": "1067280970047460", "time": int(time.time() * 1000), "messaging": [event]}
        body = json.dumps({"object": "page", "entry": [entry]}).encode()
        headers = {"Content-Type": "application/json"}
        if signature != MISSING:
            secret = self.secrets.facebook_app_secret if signature == VALID else "guess"
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={digest}"
        return body, headers

    def _twilio(self, text: str, signature: str) -> Tuple[bytes, Dict[str, str]]:
        whatsapp = self.sender_id.startswith("whatsapp:")
        params = {
            "ToCountry": "US",
            "ToCity": "",
            "SmsStatus": "received",
            "Body": text,
            "FromCountry": "AT",
            "To": "whatsapp:+14155238886" if whatsapp else "+14155550100",
            "NumMedia": "0",
            "MessageSid": f"SM{time.time_ns():032d}"[:34],
            "AccountSid": "AC" + "1" * 32,
            "From": self.sender_id,
            "ApiVersion": "2010-04-01",
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature != MISSING:
            token = self.secrets.twilio_auth_token if signature == VALID else "0" * 32
            validator = RequestValidator(token)
            signed = validator.compute_signature(self.secrets.twilio_public_url, params)
            headers["X-Twilio-Signature"] = signed
        return urlencode(params).encode(), headers

    @property
    def dm_channel(self) -> str:
        """Slack: the direct-message channel the customer writes in."""
        return "D" + self.sender_id[1:]

    # --- reading replies -------------------------------------------------------------

    def replies(self, apis: FakePlatformApis) -> List[Reply]:
        """The bot's messages to this customer that the platform accepted, oldest first."""
        method = {
            TELEGRAM: "sendMessage",
            SLACK: "chat.postMessage",
            FACEBOOK: "me/messages",
            TWILIO: "Messages.json",
        }[self.platform]
        reader = getattr(self, f"_read_{self.platform}")
        return [
            reply
            for call in apis.calls_to(self.platform, method)
            if call.accepted and (reply := reader(call))
        ]

    def _read_telegram(self, call: ApiCall) -> Optional[Reply]:
        if call.body.get("chat_id") != self.sender_id:
            return None
        markup = json.loads(call.body.get("reply_markup") or "{}")
        buttons = tuple(
            (button["text"], button["callback_data"])
            for row in markup.get("inline_keyboard", [])
            for button in row
        )
        return Reply(call.body.get("text"), buttons)

    def _read_slack(self, call: ApiCall) -> Optional[Reply]:
        if call.body.get("channel") not in (self.sender_id, self.dm_channel):
            return None
        buttons = tuple(
            (element["text"]["text"], element["value"])
            for block in call.body.get("blocks", [])
            if block.get("type") == "actions"
            for element in block["elements"]
        )
        return Reply(call.body.get("text"), buttons)

    def _read_facebook(self, call: ApiCall) -> Optional[Reply]:
        message = call.body.get("message")
        if call.body.get("recipient", {}).get("id") != self.sender_id or message is None:
            return None
        if "attachment" not in message:
            return Reply(message.get("text"))
        payload = message["attachment"]["payload"]
        if payload["template_type"] == "generic":
            return Reply(None, cards=tuple(payload["elements"]))
        buttons = tuple((b["title"], b["payload"]) for b in payload["buttons"])
        return Reply(payload["text"], buttons)

    def _read_twilio(self, call: ApiCall) -> Optional[Reply]:
        return Reply(call.body["Body"]) if call.body.get("To") == self.sender_id else None

    def wait_for_replies(
        self,
        apis: FakePlatformApis,
        until: Callable[[List[Reply]], bool],
        seconds: float = 120,
    ) -> List[Reply]:
        """Poll the fake API until ``until(replies)``; return the replies.

        Raises:
            AssertionError: With the replies so far, if it does not happen in time.
        """
        deadline = time.monotonic() + seconds
        replies = self.replies(apis)
        while time.monotonic() < deadline:
            replies = self.replies(apis)
            if until(replies):
                return replies
            time.sleep(0.25)
        raise AssertionError(f"{self.platform} {self.sender_id}: replies so far {replies}")
