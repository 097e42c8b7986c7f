"""Twilio SMS and WhatsApp, with Twilio's request signature required.

Rasa's connector does not check ``X-Twilio-Signature``: anyone who knows the
URL can talk to the bot as any phone number. This channel checks it (HMAC-SHA1
over the URL Twilio called plus the sorted POST parameters, keyed with the auth
token; see :func:`bot.channels.signatures.check_twilio`) and refuses a request
without it with 401, with a wrong one with 403. It also:

* signs against ``webhook_url``, the public URL configured at Twilio: behind a
  proxy or a tunnel the URL the server sees (``http://localhost:5005/...``)
  differs from the one Twilio signed (``https://bot.example.com/...``);
* serves SMS and WhatsApp on one webhook: replies to ``whatsapp:+43...`` go
  out from ``whatsapp_number``, replies to a phone number from
  ``twilio_number``;
* sends from a worker thread with a timeout (Twilio's client blocks) and
  treats a refused message as a failed delivery (see :mod:`bot.channels.delivery`);
* sends to ``api_url`` (default ``https://api.twilio.com``), so tests can stand
  in for Twilio;
* applies the channel limits (:mod:`bot.channels.limits`): a body over the
  cap is 413; a message over the rate or length limit is answered with empty
  TwiML as usual, dropped, and the customer told why (an SMS costs money, so
  ``CHANNEL_LIMIT_REPLIES=false`` keeps quiet).

Credentials (``credentials.yml``)::

    bot.channels.twilio.TwilioInput:
      account_sid: ${TWILIO_ACCOUNT_SID}
      auth_token: ${TWILIO_AUTH_TOKEN}
      webhook_url: ${TWILIO_WEBHOOK_URL}          # https://<public host>/webhooks/twilio/webhook
      twilio_number: ${TWILIO_SMS_NUMBER}         # +14155550100 (SMS)
      whatsapp_number: ${TWILIO_WHATSAPP_NUMBER}  # whatsapp:+14155238886 (or only one of the two)
      api_url: https://api.twilio.com             # optional
"""

import asyncio
import logging
from typing import Any, Dict, List, Mapping, Optional, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.twilio import TwilioInput as RasaTwilioInput
from rasa.core.channels.twilio import TwilioOutput as RasaTwilioOutput
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.channels.delivery import OnNewMessage, PlatformDeliveryError, ReportingOutput
from bot.channels.limits import LimitedChannel, limited
from bot.channels.signatures import Verdict, check_twilio, refuse

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twilio.com"
SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP_PREFIX = "whatsapp:"
API_TIMEOUT_S = 15
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def whatsapp_address(number: str) -> str:
    """``+14155238886`` or ``whatsapp:+14155238886`` as Twilio's WhatsApp address."""
    number = number.strip()
    return number if number.startswith(WHATSAPP_PREFIX) else WHATSAPP_PREFIX + number


class TwilioOutput(ReportingOutput, RasaTwilioOutput):
    """Rasa's Twilio output for SMS and WhatsApp; see the module docstring."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sms_number: Optional[str] = None,
        whatsapp_number: Optional[str] = None,
        api_url: str = DEFAULT_API_URL,
    ) -> None:
        # Not Rasa's __init__: it cannot take an HTTP client with a timeout.
        Client.__init__(
            self, account_sid, auth_token, http_client=TwilioHttpClient(timeout=API_TIMEOUT_S)
        )
        self.twilio_number = None  # Rasa's messages leave "from_" empty; sender_for fills it
        self.sms_number = sms_number
        self.whatsapp_number = whatsapp_number
        self.api_url = api_url.rstrip("/")

    def get_hostname(self, uri: str) -> str:
        """Send API calls to ``api_url`` instead of ``https://api.twilio.com``."""
        uri = super().get_hostname(uri)
        if self.api_url == DEFAULT_API_URL:
            return uri
        base = urlsplit(self.api_url)
        parts = urlsplit(uri)
        return urlunsplit(
            (base.scheme, base.netloc, base.path + parts.path, parts.query, parts.fragment)
        )

    def sender_for(self, recipient_id: str) -> str:
        """The number a message to ``recipient_id`` is sent from.

        Raises:
            PlatformDeliveryError: If no number is configured for that kind of recipient.
        """
        if recipient_id.startswith(WHATSAPP_PREFIX):
            if not self.whatsapp_number:
                raise PlatformDeliveryError("no whatsapp_number is configured for Twilio")
            return self.whatsapp_number
        if not self.sms_number:
            raise PlatformDeliveryError("no twilio_number (SMS) is configured for Twilio")
        return self.sms_number

    async def _send_message(self, message_data: Dict[str, Any]) -> Any:
        data = dict(message_data)
        if not data.get("messaging_service_sid") and not data.get("from_"):
            data["from_"] = self.sender_for(str(data.get("to", "")))
        return await asyncio.to_thread(self.messages.create, **data)


def form_parameters(body: bytes) -> Dict[str, List[str]]:
    """The POST parameters of a form body, blank values kept (Twilio signs them).

    Raises:
        ValueError: If the body is not UTF-8.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("the body is not UTF-8") from exc
    return parse_qs(text, keep_blank_values=True)


def _first(params: Mapping[str, Sequence[str]], name: str) -> Optional[str]:
    values = params.get(name)
    return values[0] if values else None


def message_text(params: Mapping[str, Sequence[str]]) -> Optional[str]:
    """The text of an incoming SMS or WhatsApp message; None when it has none."""
    latitude, longitude = _first(params, "Latitude"), _first(params, "Longitude")
    if latitude and longitude:
        # The same text Rasa's own connector makes of a WhatsApp location.
        return f"/locationData{{'Latitude': {latitude},'Longitude': {longitude}}}"
    body = _first(params, "Body")
    if body is None or not body.strip():
        return None
    return body.replace("¡", "@")  # some carriers turn @ into ¡


class TwilioInput(RasaTwilioInput, LimitedChannel):
    """Twilio's webhook with the signature check; see the module docstring."""

    @classmethod
    def name(cls) -> str:
        """Rasa's name for Twilio, which also makes the URLs ``/webhooks/twilio/...``."""
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        """Create the channel from its ``credentials.yml`` section.

        Raises:
            InvalidConfigException: If a required key is missing.
        """
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(
            account_sid=str(credentials.get("account_sid") or ""),
            auth_token=str(credentials.get("auth_token") or ""),
            webhook_url=str(credentials.get("webhook_url") or ""),
            twilio_number=credentials.get("twilio_number") or None,
            whatsapp_number=credentials.get("whatsapp_number") or None,
            api_url=str(credentials.get("api_url") or DEFAULT_API_URL),
        )

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        webhook_url: str,
        twilio_number: Optional[str] = None,
        whatsapp_number: Optional[str] = None,
        api_url: str = DEFAULT_API_URL,
    ) -> None:
        """Create the channel.

        Args:
            account_sid: The account's SID (``AC...``).
            auth_token: The account's auth token; it signs every request.
            webhook_url: The public URL of ``/webhooks/twilio/webhook`` exactly as
                configured at Twilio.
            twilio_number: The SMS number replies go out from.
            whatsapp_number: The WhatsApp sender replies to WhatsApp go out from.
            api_url: Twilio's REST API.

        Raises:
            InvalidConfigException: If a value is missing or there is no number.
        """
        missing = [
            key
            for key, value in (
                ("account_sid", account_sid),
                ("auth_token", auth_token),
                ("webhook_url", webhook_url),
            )
            if not value
        ]
        if not twilio_number and not whatsapp_number:
            missing.append("twilio_number or whatsapp_number")
        if missing:
            raise InvalidConfigException(
                f"The Twilio channel needs {', '.join(missing)} in its credentials "
                "(see credentials.example.yml and docs/channels/twilio.md)."
            )
        super().__init__(account_sid, auth_token, twilio_number, debug_mode=False)
        self.whatsapp_number = whatsapp_address(whatsapp_number) if whatsapp_number else None
        self.webhook_url = webhook_url
        self.api_url = api_url

    def output(self, strict: bool = True) -> TwilioOutput:
        """A new output channel; ``strict`` for Rasa's HTTP API, lenient for replies."""
        channel = TwilioOutput(
            self.account_sid,
            self.auth_token,
            self.twilio_number,
            self.whatsapp_number,
            api_url=self.api_url,
        )
        channel.strict = strict
        return channel

    def get_output_channel(self) -> TwilioOutput:
        """The strict output channel (Rasa's HTTP API, e.g. ``output_channel=latest``)."""
        return self.output(strict=True)

    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: ``webhook_url`` plus the request's query string."""
        if request.query_string and "?" not in self.webhook_url:
            return f"{self.webhook_url}?{request.query_string}"
        return self.webhook_url

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The routes: ``GET /`` and ``POST /webhook``."""
        twilio_webhook = Blueprint("twilio_webhook", __name__)
        handle_message = limited(on_new_message, self.channel_limits())

        @twilio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @twilio_webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            return await self.handle(request, handle_message)

        return twilio_webhook

    async def handle(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Answer one webhook request.

        Returns:
            200 with empty TwiML once the message is handled (or ignored), 400
            for a signed message without a sender, 401/403 for a missing or
            wrong signature, 413 for a body over the size cap.
        """
        too_large = self.channel_limits().body_refusal(request)
        if too_large is not None:
            return too_large.response()
        signature = request.headers.get(SIGNATURE_HEADER)
        try:
            params = form_parameters(request.body)
        except ValueError:
            # Twilio sends UTF-8: nothing it signed looks like this.
            return refuse(Verdict.INVALID if signature else Verdict.MISSING, SIGNATURE_HEADER)
        verdict = check_twilio(self.auth_token, self.signed_url(request), params, signature)
        if verdict is not Verdict.VALID:
            return refuse(verdict, SIGNATURE_HEADER)
        sender = _first(params, "From")
        if not sender:
            return response.json({"error": "the request has no From"}, 400)
        text = message_text(params)
        if text is not None:
            await on_new_message(
                UserMessage(
                    text,
                    self.output(strict=False),
                    sender,
                    input_channel=self.name(),
                    metadata=self.get_metadata(request),
                )
            )
        return response.text(EMPTY_TWIML, content_type="text/xml")
