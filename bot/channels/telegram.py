"""Telegram, with the webhook's secret token checked on every request.

Rasa's connector does not check who posts to its webhook (it calls ``getMe``
for every update and compares the bot's own username with the configured one,
which says nothing about the sender), and its
``get_output_channel`` calls ``asyncio.run`` to set the webhook, which fails
inside the running server: a message pushed through Rasa's HTTP API (an
agent's reply during a handoff) never reached Telegram. This channel:

* registers the webhook once, when the server starts, with ``setWebhook``'s
  ``secret_token``; Telegram then sends it back in the
  ``X-Telegram-Bot-Api-Secret-Token`` header, and a request without it is
  refused with 401, with a different one with 403;
* reuses one Bot API client per process, created in the server's event loop;
* sends to ``api_url`` (default ``https://api.telegram.org``), so tests and a
  self-hosted Bot API server can stand in for Telegram;
* applies the channel limits (:mod:`bot.channels.limits`): a body over the
  cap is 413; a message over the rate or length limit is answered 200 (Telegram
  would resend it otherwise), dropped, and the customer told why.

Credentials (``credentials.yml``)::

    bot.channels.telegram.TelegramInput:
      access_token: ${TELEGRAM_BOT_TOKEN}      # from @BotFather
      secret_token: ${TELEGRAM_SECRET_TOKEN}   # 1-256 of A-Z a-z 0-9 _ -
      webhook_url: ${TELEGRAM_WEBHOOK_URL}     # https://<public host>/webhooks/telegram/webhook
      api_url: https://api.telegram.org        # optional

The URLs stay Rasa's: ``/webhooks/telegram/webhook`` (and ``/set_webhook`` to
register again by hand).
"""

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

from aiogram import Bot
from aiogram.bot.api import TelegramAPIServer
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput as RasaTelegramInput
from rasa.core.channels.telegram import TelegramOutput as RasaTelegramOutput
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.delivery import OnNewMessage, ReportingOutput
from bot.channels.limits import LimitedChannel, limited
from bot.channels.signatures import check_telegram, refusal

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
API_TIMEOUT_S = 15
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
# Telegram sends "/start" when a customer opens the chat; it greets them.
START_COMMAND = re.compile(r"^/start(@\w+)?(\s.*)?$", re.DOTALL)
START_TEXT = "/greet"
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True)
class TelegramMessage:
    """What the bot takes from one Telegram update.

    Attributes:
        chat_id: The chat, as a string; Rasa's sender id and where replies go.
        text: The text for Rasa (a button's callback data, a location as JSON).
        callback_query_id: The id of the button press to acknowledge, if any.
    """

    chat_id: str
    text: str
    callback_query_id: Optional[str] = None


def _chat_id(message: Any) -> str:
    chat = message.get("chat") if isinstance(message, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    if isinstance(chat_id, bool) or not isinstance(chat_id, (int, str)) or chat_id == "":
        raise ValueError("the message has no chat.id")
    return str(chat_id)


def parse_update(update: Any) -> Optional[TelegramMessage]:
    """Pick the customer's message out of a Telegram update.

    Args:
        update: The decoded JSON body of the webhook request.

    Returns:
        The message; None for updates the bot does not answer (photos,
        stickers, button presses on inline-mode messages, other update types).

    Raises:
        ValueError: If the update is not an object or a message lacks its chat.
    """
    if not isinstance(update, dict):
        raise ValueError("a Telegram update must be a JSON object")
    query = update.get("callback_query")
    if isinstance(query, dict):
        data, message = query.get("data"), query.get("message")
        if not isinstance(data, str) or message is None:
            return None
        return TelegramMessage(_chat_id(message), data, str(query.get("id") or "") or None)
    message = update.get("message") or update.get("edited_message")
    if message is None:
        return None
    chat_id = _chat_id(message)
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        return TelegramMessage(chat_id, START_TEXT if START_COMMAND.match(text) else text)
    location = message.get("location")
    if isinstance(location, dict) and "latitude" in location and "longitude" in location:
        # The same text Rasa's own connector makes of a location.
        text = '{{"lng":{}, "lat":{}}}'.format(location["longitude"], location["latitude"])
        return TelegramMessage(chat_id, text)
    return None


class TelegramOutput(ReportingOutput, RasaTelegramOutput):
    """Rasa's Telegram output, sending to ``api_url``; see :class:`ReportingOutput`."""

    def __init__(self, access_token: str, api_url: str = DEFAULT_API_URL) -> None:
        # Not Rasa's __init__: it cannot take another API server.
        Bot.__init__(
            self,
            access_token,
            server=TelegramAPIServer.from_base(api_url),
            timeout=API_TIMEOUT_S,
        )


class TelegramInput(RasaTelegramInput, LimitedChannel):
    """Telegram's webhook with the secret-token check; see the module docstring."""

    @classmethod
    def name(cls) -> str:
        """Rasa's name for Telegram, which also makes the URLs ``/webhooks/telegram/...``."""
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        """Create the channel from its ``credentials.yml`` section.

        Raises:
            InvalidConfigException: If a required key is missing or invalid.
        """
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(
            access_token=str(credentials.get("access_token") or ""),
            secret_token=str(credentials.get("secret_token") or ""),
            webhook_url=str(credentials.get("webhook_url") or ""),
            api_url=str(credentials.get("api_url") or DEFAULT_API_URL),
        )

    def __init__(
        self,
        access_token: str,
        secret_token: str,
        webhook_url: str,
        api_url: str = DEFAULT_API_URL,
    ) -> None:
        """Create the channel.

        Args:
            access_token: The bot's token from @BotFather.
            secret_token: Sent to ``setWebhook``; Telegram sends it back with
                every update. 1 to 256 of ``A-Z a-z 0-9 _ -``.
            webhook_url: The public HTTPS URL of ``/webhooks/telegram/webhook``.
            api_url: The Bot API server.

        Raises:
            InvalidConfigException: If a value is missing or invalid.
        """
        missing = [
            key
            for key, value in (
                ("access_token", access_token),
                ("secret_token", secret_token),
                ("webhook_url", webhook_url),
            )
            if not value
        ]
        if missing:
            raise InvalidConfigException(
                f"The Telegram channel needs {', '.join(missing)} in its credentials "
                "(see credentials.example.yml and docs/channels/telegram.md)."
            )
        if not _SECRET_TOKEN.match(secret_token):
            raise InvalidConfigException(
                "Telegram's secret_token must be 1 to 256 of the characters A-Z, a-z, 0-9, _ and -."
            )
        super().__init__(access_token, None, webhook_url, debug_mode=False)
        self.secret_token = secret_token
        self.api_url = api_url
        self._outputs: Dict[bool, TelegramOutput] = {}

    def output(self, strict: bool = True) -> TelegramOutput:
        """The process's Bot API client: ``strict`` for Rasa's HTTP API, lenient for replies.

        Made on first use, in the running event loop; see :mod:`bot.channels.delivery`.
        """
        if strict not in self._outputs:
            channel = TelegramOutput(self.access_token, self.api_url)
            channel.strict = strict
            self._outputs[strict] = channel
        return self._outputs[strict]

    def get_output_channel(self) -> TelegramOutput:
        """The strict output channel (Rasa's HTTP API, e.g. ``output_channel=latest``)."""
        return self.output(strict=True)

    async def register_webhook(self) -> bool:
        """Call ``setWebhook`` with the URL, the secret token and the update types.

        Returns:
            Whether Telegram accepted it; a failure is logged.
        """
        try:
            await self.output().request(
                "setWebhook",
                {
                    "url": self.webhook_url,
                    "secret_token": self.secret_token,
                    "allowed_updates": json.dumps(list(ALLOWED_UPDATES)),
                },
            )
        except Exception as exc:  # aiogram raises its own errors for network and API failures
            logger.error(
                "Telegram did not accept the webhook %s: %s. Updates will not arrive until "
                "it does; POST /webhooks/telegram/set_webhook to try again.",
                self.webhook_url,
                exc,
            )
            return False
        logger.info("Telegram sends updates to %s.", self.webhook_url)
        return True

    async def close(self) -> None:
        """Close the Bot API clients' HTTP sessions."""
        for channel in self._outputs.values():
            if channel._session is not None:
                await channel._session.close()
        self._outputs.clear()

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The routes: ``GET /``, ``POST /webhook`` and ``GET|POST /set_webhook``."""
        telegram_webhook = Blueprint("telegram_webhook", __name__)
        handle_message = limited(on_new_message, self.channel_limits())

        @telegram_webhook.listener("after_server_start")
        async def register(*_: Any) -> None:
            await self.register_webhook()

        @telegram_webhook.listener("before_server_stop")
        async def close(*_: Any) -> None:
            await self.close()

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @telegram_webhook.route("/set_webhook", methods=["GET", "POST"])
        async def set_webhook(_: Request) -> HTTPResponse:
            if await self.register_webhook():
                return response.json({"webhook": self.webhook_url})
            return response.json({"error": "Telegram did not accept the webhook"}, 502)

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            return await self.handle(request, handle_message)

        return telegram_webhook

    async def handle(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Answer one webhook request.

        Returns:
            200 once the message is handled (or ignored), 400 for a body that is
            not an update, 401/403 for a missing or wrong secret token, 413 for
            a body over the size cap.
        """
        too_large = self.channel_limits().body_refusal(request)
        if too_large is not None:
            return too_large.response()
        refused = refusal(
            check_telegram(self.secret_token, request.headers.get(SECRET_HEADER)), SECRET_HEADER
        )
        if refused is not None:
            return refused
        try:
            message = parse_update(_json_body(request.body))
        except ValueError as exc:
            return response.json({"error": str(exc)}, 400)
        if message is None:
            return response.json({"status": "ignored"})
        output = self.output(strict=False)
        if message.callback_query_id:
            await self._acknowledge(output, message.callback_query_id)
        await on_new_message(
            UserMessage(
                message.text,
                output,
                message.chat_id,
                input_channel=self.name(),
                metadata=self.get_metadata(request),
            )
        )
        return response.json({"status": "ok"})

    @staticmethod
    async def _acknowledge(output: TelegramOutput, callback_query_id: str) -> None:
        # Stops the spinner on the pressed button; the answer goes on without it.
        try:
            await output.answer_callback_query(callback_query_id)
        except Exception as exc:  # aiogram's network and API errors
            logger.warning("Telegram did not take the button acknowledgement: %s", exc)


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("the body is not JSON") from exc
