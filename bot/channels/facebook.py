"""Facebook Messenger, with Meta's SHA-256 request signature required.

Rasa's connector checks only the old SHA-1 ``X-Hub-Signature``, compares it in
non-constant time, answers a bad signature with 200, handles only the first
event of a batch, and calls the Graph API with blocking ``requests`` calls (no
timeout) on the event loop. This channel:

* requires ``X-Hub-Signature-256`` (``sha256=`` HMAC of the body with the app
  secret): missing is 401, wrong is 403;
* answers the webhook at once and handles every event of the batch, in order,
  in the background (Meta resends events its webhook does not acknowledge in
  time);
* calls the Graph API from a worker thread with a timeout, and treats an error
  status as a failed delivery (see :mod:`bot.channels.delivery`);
* sends to ``api_url`` (default fbmessenger's ``https://graph.facebook.com/v2.12``,
  which Meta serves with its oldest supported version), so tests can stand in
  for the Graph API;
* applies the channel limits (:mod:`bot.channels.limits`): a body over the
  cap is 413; a message over the rate or length limit is dropped (the webhook
  has answered 200 already) and the customer told why.

Credentials (``credentials.yml``)::

    bot.channels.facebook.FacebookInput:
      verify: ${FACEBOOK_VERIFY_TOKEN}              # you choose it; Meta echoes it once
      secret: ${FACEBOOK_APP_SECRET}
      page-access-token: ${FACEBOOK_PAGE_ACCESS_TOKEN}
      api_url: https://graph.facebook.com/v19.0      # optional
"""

import asyncio
import hmac
import json
import logging
from typing import Any, Dict, List, Optional

import requests
from fbmessenger import MessengerClient
from fbmessenger.sender_actions import SenderAction
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput as RasaFacebookInput
from rasa.core.channels.facebook import Messenger, MessengerBot
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.delivery import (
    BackgroundTurns,
    OnNewMessage,
    PlatformDeliveryError,
    ReportingOutput,
)
from bot.channels.limits import LimitedChannel, limited
from bot.channels.signatures import check_facebook, refusal

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
API_TIMEOUT_S = 15
_ERROR_BODY_CHARS = 300


class _GraphSession(requests.Session):
    """A ``requests`` session with a timeout that raises on Graph API errors."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Make the request; raise :class:`PlatformDeliveryError` on a 4xx/5xx answer."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = API_TIMEOUT_S
        answer = super().request(method, url, *args, **kwargs)
        if answer.status_code >= 400:
            raise PlatformDeliveryError(
                f"the Graph API answered {answer.status_code}: {answer.text[:_ERROR_BODY_CHARS]}"
            )
        return answer


def messenger_client(page_access_token: str, api_url: Optional[str] = None) -> MessengerClient:
    """A Messenger Send API client for the page, on ``api_url`` when given."""
    client = MessengerClient(page_access_token, session=_GraphSession())
    if api_url:
        client.graph_url = api_url.rstrip("/")
    return client


class FacebookOutput(ReportingOutput, MessengerBot):
    """Rasa's Messenger output, off the event loop; see :class:`ReportingOutput`."""

    async def deliver(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """Send with Rasa's Messenger code in a worker thread (it blocks on ``requests``)."""
        await asyncio.to_thread(asyncio.run, super().deliver(recipient_id, message))

    async def send_action(self, recipient_id: str, sender_action: str) -> None:
        """Send "mark_seen", "typing_on" or "typing_off"; a failure is only logged."""
        action = SenderAction(sender_action).to_dict()
        try:
            await asyncio.to_thread(self.messenger_client.send_action, action, recipient_id)
        except Exception as exc:  # requests' errors and PlatformDeliveryError
            logger.warning("Messenger did not take %s for %s: %s", sender_action, recipient_id, exc)


class _Messenger(Messenger):
    """Rasa's Messenger event parsing, replying through a lenient :class:`FacebookOutput`."""

    def __init__(self, client: MessengerClient, on_new_message: OnNewMessage) -> None:
        self.on_new_message = on_new_message
        self.client = client
        self.last_message: Dict[str, Any] = {}

    async def _handle_user_message(
        self, text: str, sender_id: str, metadata: Optional[Dict[str, Any]]
    ) -> None:
        output = FacebookOutput(self.client)
        output.strict = False
        await output.send_action(sender_id, "mark_seen")
        await output.send_action(sender_id, "typing_on")
        try:
            await self.on_new_message(
                UserMessage(text, output, sender_id, input_channel=self.name(), metadata=metadata)
            )
        finally:
            await output.send_action(sender_id, "typing_off")


def messaging_events(payload: Any) -> List[Dict[str, Any]]:
    """Every ``messaging`` event of a webhook body, in order.

    Raises:
        ValueError: If the body is not a page subscription's batch of entries.
    """
    if not isinstance(payload, dict) or payload.get("object") != "page":
        raise ValueError('the body must be a JSON object with "object": "page"')
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise ValueError('the body must have an "entry" list')
    events = []
    for entry in entries:
        messaging = entry.get("messaging") if isinstance(entry, dict) else None
        if messaging is None:
            continue
        if not isinstance(messaging, list):
            raise ValueError('an entry\'s "messaging" must be a list')
        events.extend(event for event in messaging if isinstance(event, dict))
    return events


class FacebookInput(RasaFacebookInput, LimitedChannel):
    """Messenger's webhook with the SHA-256 signature check; see the module docstring."""

    @classmethod
    def name(cls) -> str:
        """Rasa's name for Messenger, which also makes the URLs ``/webhooks/facebook/...``."""
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        """Create the channel from its ``credentials.yml`` section (Rasa's keys plus ``api_url``).

        Raises:
            InvalidConfigException: If a key is missing.
        """
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(
            str(credentials.get("verify") or ""),
            str(credentials.get("secret") or ""),
            str(credentials.get("page-access-token") or ""),
            api_url=credentials.get("api_url") or None,
        )

    def __init__(
        self, fb_verify: str, fb_secret: str, fb_access_token: str, api_url: Optional[str] = None
    ) -> None:
        """Create the channel.

        Args:
            fb_verify: The verify token entered with the webhook in the app's settings.
            fb_secret: The app secret, which signs every request.
            fb_access_token: The page access token for the Send API.
            api_url: The Graph API base URL with its version; fbmessenger's by default.

        Raises:
            InvalidConfigException: If a value is missing.
        """
        missing = [
            key
            for key, value in (
                ("verify", fb_verify),
                ("secret", fb_secret),
                ("page-access-token", fb_access_token),
            )
            if not value
        ]
        if missing:
            raise InvalidConfigException(
                f"The Messenger channel needs {', '.join(missing)} in its credentials "
                "(see credentials.example.yml and docs/channels/facebook.md)."
            )
        super().__init__(fb_verify, fb_secret, fb_access_token)
        self.api_url = api_url
        self.turns = BackgroundTurns(self.name())
        self._client: Optional[MessengerClient] = None

    def client(self) -> MessengerClient:
        """The Send API client, made on first use."""
        if self._client is None:
            self._client = messenger_client(self.fb_access_token, self.api_url)
        return self._client

    def get_output_channel(self) -> FacebookOutput:
        """The strict output channel (Rasa's HTTP API, e.g. ``output_channel=latest``)."""
        return FacebookOutput(self.client())

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The routes: ``GET /``, ``GET /webhook`` (verification) and ``POST /webhook``."""
        fb_webhook = Blueprint("fb_webhook", __name__)
        handle_message = limited(on_new_message, self.channel_limits())

        @fb_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @fb_webhook.route("/webhook", methods=["GET"])
        async def token_verification(request: Request) -> HTTPResponse:
            return self.verify_subscription(request)

        @fb_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            return self.handle(request, handle_message)

        return fb_webhook

    def verify_subscription(self, request: Request) -> HTTPResponse:
        """Answer Meta's ``hub.challenge`` when ``hub.verify_token`` is ours, else 403."""
        token = request.args.get("hub.verify_token") or ""
        if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
            token.encode("utf-8"), self.fb_verify.encode("utf-8")
        ):
            return response.text(request.args.get("hub.challenge") or "")
        logger.warning("A Messenger webhook verification had the wrong verify token.")
        return response.json({"error": "the verify token does not match"}, 403)

    def handle(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Check and acknowledge a webhook request; its events are handled in the background.

        Returns:
            200 at once, 400 for a body that is not a page batch, 401/403 for a
            missing or wrong signature, 413 for a body over the size cap.
        """
        too_large = self.channel_limits().body_refusal(request)
        if too_large is not None:
            return too_large.response()
        refused = refusal(
            check_facebook(self.fb_secret, request.headers.get(SIGNATURE_HEADER), request.body),
            SIGNATURE_HEADER,
        )
        if refused is not None:
            return refused
        try:
            payload = json.loads(request.body)
        except (UnicodeDecodeError, ValueError):
            return response.json({"error": "the body is not JSON"}, 400)
        try:
            events = messaging_events(payload)
        except ValueError as exc:
            return response.json({"error": str(exc)}, 400)
        metadata = self.get_metadata(request)
        self.turns.start(self._handle_events(events, metadata, on_new_message))
        return response.text("EVENT_RECEIVED")

    async def _handle_events(
        self,
        events: List[Dict[str, Any]],
        metadata: Optional[Dict[str, Any]],
        on_new_message: OnNewMessage,
    ) -> None:
        messenger = _Messenger(self.client(), on_new_message)
        for event in events:
            try:
                await messenger.handle({"entry": [{"messaging": [event]}]}, metadata)
            except Exception:  # one malformed event must not drop the rest of the batch
                logger.exception("Handling a Messenger event failed: %r", event)
