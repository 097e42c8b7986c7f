"""Slack: Rasa's connector, refusing unsigned requests with 401/403.

Rasa's connector already checks Slack's request signature (``X-Slack-Signature``
over the timestamp and the body, with the app's signing secret) but answers a
failure with 400. This channel checks first and answers 401 (unsigned) or 403
(bad or stale signature) before Rasa's route runs; it also:

* answers Slack's ``url_verification`` with ``{"challenge": ...}``;
* sends to ``api_url`` (default ``https://slack.com/api/``), so tests can stand
  in for Slack;
* keeps a customer's turn when a reply cannot be posted (logged), while a
  message pushed through Rasa's HTTP API (an agent's reply during a handoff)
  fails loudly so that it is retried (see :mod:`bot.channels.delivery`);
* applies the channel limits (:mod:`bot.channels.limits`): a body over the
  cap is 413; a message over the rate or length limit is answered 200 (Slack
  would resend it otherwise), dropped, and the customer told why;
* answers a signed body that Rasa's connector cannot read (not JSON, not an
  object, an ``event`` or interactive ``payload`` of the wrong shape; see
  :func:`body_problem`) with 400 instead of letting it raise (500).

Credentials (``credentials.yml``)::

    bot.channels.slack.SlackInput:
      slack_token: ${SLACK_BOT_TOKEN}                 # xoxb-...
      slack_signing_secret: ${SLACK_SIGNING_SECRET}
      api_url: https://slack.com/api/                 # optional

Rasa's other Slack keys (``slack_channel``, ``use_threads``, ``proxy``,
``conversation_granularity``, the retry headers) work as in Rasa. Leave
``conversation_granularity`` at ``sender`` and ``slack_channel`` unset when
agents answer through the handoff: Rasa then sends an agent's reply to the
conversation's sender id, the customer's Slack user id (their direct messages
with the app).
"""

import json
import time
from typing import Any, Callable, Dict, Optional, cast
from urllib.parse import parse_qs

from rasa.core.channels.channel import InputChannel
from rasa.core.channels.slack import SlackBot as RasaSlackBot
from rasa.core.channels.slack import SlackInput as RasaSlackInput
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.delivery import OnNewMessage, ReportingOutput, lenient_handler
from bot.channels.limits import LimitedChannel, limited
from bot.channels.signatures import check_slack, refusal

DEFAULT_API_URL = "https://slack.com/api/"
SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
API_TIMEOUT_S = 15


class SlackBot(ReportingOutput, RasaSlackBot):
    """Rasa's Slack output, posting to ``api_url``; see :class:`ReportingOutput`."""

    def __init__(
        self,
        token: str,
        slack_channel: Optional[str] = None,
        thread_id: Optional[str] = None,
        proxy: Optional[str] = None,
        api_url: str = DEFAULT_API_URL,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.client = AsyncWebClient(token, base_url=api_url, proxy=proxy, timeout=API_TIMEOUT_S)


def url_verification_challenge(body: bytes) -> Optional[str]:
    """The ``challenge`` of Slack's ``url_verification`` request, else None."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("type") != "url_verification":
        return None
    challenge = payload.get("challenge")
    return challenge if isinstance(challenge, str) else None


_EVENT_TEXT_FIELDS = ("type", "text", "user", "channel", "channel_type", "ts", "thread_ts")


def _json_problem(body: bytes) -> Optional[str]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "the body is not JSON"
    if not isinstance(payload, dict):
        return "the body must be a JSON object"
    event = payload.get("event", {})
    if not isinstance(event, dict):
        return "'event' must be an object"
    for name in _EVENT_TEXT_FIELDS:
        if event.get(name) is not None and not isinstance(event[name], str):
            return f"'event.{name}' must be a string"
    users = payload.get("authed_users", [])
    if not isinstance(users, list) or not all(isinstance(user, str) for user in users):
        return "'authed_users' must be a list of user ids"
    authorizations = payload.get("authorizations", [])
    if not isinstance(authorizations, list) or not all(
        isinstance(item, dict) for item in authorizations
    ):
        return "'authorizations' must be a list of objects"
    return None


def _form_problem(body: bytes) -> Optional[str]:
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    try:
        payload = json.loads(fields["payload"][0])
    except KeyError:
        return "the form has no payload"
    except (ValueError, RecursionError):
        return "the payload is not JSON"
    if not isinstance(payload, dict):
        return "the payload must be a JSON object"
    for name in ("user", "channel", "message"):
        if not isinstance(payload.get(name, {}), dict):
            return f"'{name}' must be an object"
    actions = payload.get("actions", [])
    if not isinstance(actions, list) or not all(isinstance(action, dict) for action in actions):
        return "'actions' must be a list of objects"
    return None


def body_problem(content_type: Optional[str], body: bytes) -> Optional[str]:
    """Why Rasa's connector could not read a (signed) webhook body, or None.

    Rasa reads JSON bodies (events) and form bodies (interactive payloads)
    and acknowledges any other content type without reading it.
    """
    if content_type == "application/json":
        return _json_problem(body)
    if content_type == "application/x-www-form-urlencoded":
        return _form_problem(body)
    return None


class SlackInput(RasaSlackInput, LimitedChannel):
    """Slack's webhook with 401/403 for bad signatures; see the module docstring."""

    api_url: str = DEFAULT_API_URL
    clock: Callable[[], float] = staticmethod(time.time)

    @classmethod
    def name(cls) -> str:
        """Rasa's name for Slack, which also makes the URLs ``/webhooks/slack/...``."""
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        """Create the channel from its ``credentials.yml`` section (Rasa's keys plus ``api_url``).

        Raises:
            InvalidConfigException: If the token or the signing secret is missing.
        """
        if not credentials:
            cls.raise_missing_credentials_exception()
        if not credentials.get("slack_token"):
            raise InvalidConfigException(
                "The Slack channel needs slack_token in its credentials "
                "(see credentials.example.yml and docs/channels/slack.md)."
            )
        channel = cast(SlackInput, super().from_credentials(credentials))
        channel.api_url = str(credentials.get("api_url") or DEFAULT_API_URL)
        return channel

    def get_output_channel(
        self, channel: Optional[str] = None, thread_id: Optional[str] = None
    ) -> SlackBot:
        """A strict output channel to ``channel`` (default: the sender, or ``slack_channel``)."""
        return SlackBot(
            self.slack_token,
            channel or self.slack_channel,
            thread_id,
            self.proxy,
            api_url=self.api_url,
        )

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Rasa's routes, behind the signature check of :meth:`verify`."""
        limits = self.channel_limits()
        slack_webhook = super().blueprint(lenient_handler(limited(on_new_message, limits)))

        @slack_webhook.middleware("request")
        async def verify(request: Request) -> Optional[HTTPResponse]:
            return self.verify(request)

        return slack_webhook

    def verify(self, request: Request) -> Optional[HTTPResponse]:
        """Refuse a webhook request that Slack did not sign; answer a URL verification.

        Returns:
            413 for a body over the size cap, 401/403 for a missing or bad
            signature, 400 for a body Rasa could not read, the challenge for
            Slack's URL verification, None to let Rasa's route handle the request.
        """
        if not request.path.rstrip("/").endswith("/webhook"):
            return None
        too_large = self.channel_limits().body_refusal(request)
        if too_large is not None:
            return too_large.response()
        verdict = check_slack(
            self.slack_signing_secret,
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            request.body,
            now=self.clock(),
        )
        refused = refusal(verdict, SIGNATURE_HEADER)
        if refused is not None:
            return refused
        challenge = url_verification_challenge(request.body)
        if challenge is not None:
            return response.json({"challenge": challenge})
        problem = body_problem(request.headers.get("content-type"), request.body)
        if problem is not None:
            return response.json({"error": problem}, 400)
        return None
