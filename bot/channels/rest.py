"""Rasa's REST channel plus an inbox for messages from human agents.

A REST client gets the bot's replies in the response to its
``POST /webhooks/rest/webhook``. Agents, though, answer later: the handoff
service appends their messages (and the hand back) to the conversation's
tracker as bot events carrying ``metadata.handoff``. This channel adds::

    GET /webhooks/rest/inbox/<sender_id>?after=2025-03-14T10:00:00+00:00

which returns, oldest first, the handoff messages after ``after`` (all of
them without it), at most ``MAX_INBOX_MESSAGES`` per call; a client polls it
with the ``at`` of the last message it has::

    {"messages": [{"text": "Hi, I'm Dana ...", "at": "2025-03-14T10:02:03.120000+00:00",
                   "agent": "Dana"}, ...]}

Each message has ``text``, ``at`` (ISO 8601, UTC) and ``agent`` (the agent's
display name, or null for the hand back), plus ``buttons``, ``image`` and
``custom`` when present, ``handback: true`` on the hand back message and
``closed: true`` on the message that closes the handoff. A message the handoff
service delivered twice (it retries until Rasa confirms) is listed once.

With ``include=all`` (``?after=...&include=all``) the inbox lists every bot
message, the bot's own too (``agent`` null, no ``handback``), with the same
``after``, order, page size and de-duplication, and each message also has
``payloads``: what the socket.io channel emits for it, ``at`` key included
(:func:`bot.channels.socketio.socketio_payloads`). The web widget catches up
with it after a dropped connection. Any other ``include`` is 400.

Like the webhook itself, the inbox trusts whoever knows the sender id.

Both routes apply the channel limits of :mod:`bot.channels.limits`. Before
Rasa sees a webhook request, its body is checked (:class:`WebhookMessage`):
a body over the size cap is 413, one that is not a JSON object with a
``sender`` string is 400, and so are a ``message`` that is not a string, text
that is not valid Unicode, ``metadata`` that is not an object and an
``input_channel`` other than ``rest`` (a client must not pass itself off as
another platform: agents' replies follow the conversation's latest channel).
A sender over the rate limit gets 429 with ``Retry-After``, a message over the
length cap 413. Reading the inbox is rate-limited per sender too.

Use it in ``credentials.yml`` instead of ``rest:``::

    bot.channels.rest.HandoffRestInput:
"""

import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Tuple

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import BotUttered, Event
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.action_responses import install_on_start
from bot.channels.limits import LimitedChannel
from bot.channels.socketio import socketio_payloads
from bot.channels.timestamps import utc_time

logger = logging.getLogger(__name__)

HANDOFF_METADATA_KEY = "handoff"
MAX_INBOX_MESSAGES = 200
MAX_SENDER_ID_CHARS = 255
MAX_AFTER_CHARS = 64
INCLUDE_ALL = "all"
CHANNEL_NAME = "rest"
_CONTROL_OR_SURROGATE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class WebhookMessage:
    """The body of ``POST /webhooks/rest/webhook``, checked.

    Attributes:
        sender: The conversation id: 1 to 255 characters, no control characters.
        message: The customer's text, verbatim (may be empty; control
            characters, markup and quotes are kept: they are data).
        metadata: Extra data stored with the message, if any.
    """

    sender: str
    message: str
    metadata: Optional[Dict[str, Any]] = None

    @classmethod
    def parse(cls, body: bytes) -> "WebhookMessage":
        """Read and check a webhook body.

        Raises:
            ValueError: With a sentence for the client if the body is malformed.
        """
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ValueError("the body must be JSON (UTF-8)") from exc
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        sender = data.get("sender")
        if (
            not isinstance(sender, str)
            or not sender.strip()
            or len(sender) > MAX_SENDER_ID_CHARS
            or _CONTROL_OR_SURROGATE.search(sender)
        ):
            raise ValueError(
                f"'sender' must be a string of 1 to {MAX_SENDER_ID_CHARS} characters "
                "without control characters"
            )
        message = data.get("message", "")
        if not isinstance(message, str):
            raise ValueError("'message' must be a string")
        if _SURROGATE.search(message):
            raise ValueError("'message' is not valid Unicode (it has a lone surrogate)")
        input_channel = data.get("input_channel")
        if input_channel not in (None, "", CHANNEL_NAME):
            raise ValueError(f"'input_channel' can only be {CHANNEL_NAME!r} on this channel")
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ValueError("'metadata' must be a JSON object")
        return cls(sender, message, metadata)


@dataclass(frozen=True)
class InboxMessage:
    """One message of the inbox: an agent's, the hand back, or (``include=all``) the bot's.

    Attributes:
        text: What was said.
        at: When it was added to the conversation, aware UTC.
        agent: Display name of the agent who wrote it; None for the hand back and the bot.
        handback: Whether this message handed the conversation back to the bot.
        closed: Whether this message closed the handoff.
        buttons: Buttons sent with the message, if any.
        image: URL of an image sent with it, if any.
        custom: A custom payload sent with it, if any.
        payloads: With ``include=all``: what the socket.io channel emits for it.
    """

    text: str
    at: datetime
    agent: Optional[str] = None
    handback: bool = False
    closed: bool = False
    buttons: Tuple[Dict[str, Any], ...] = ()
    image: Optional[str] = None
    custom: Optional[Dict[str, Any]] = None
    payloads: Optional[Tuple[Any, ...]] = None

    def to_dict(self) -> Dict[str, Any]:
        """Return the message as the inbox's JSON shape."""
        result: Dict[str, Any] = {
            "text": self.text,
            "at": self.at.isoformat(),
            "agent": self.agent,
        }
        if self.handback:
            result["handback"] = True
        if self.closed:
            result["closed"] = True
        if self.buttons:
            result["buttons"] = [dict(button) for button in self.buttons]
        if self.image:
            result["image"] = self.image
        if self.custom:
            result["custom"] = self.custom
        if self.payloads is not None:
            result["payloads"] = list(self.payloads)
        return result


def event_time(event: Event) -> datetime:
    """Return an event's timestamp as an aware UTC datetime (microseconds)."""
    return utc_time(event.timestamp)


def inbox_message(event: Event, include_all: bool = False) -> Optional[InboxMessage]:
    """Return the inbox message of a bot event from the handoff, else None.

    Args:
        event: Any tracker event.
        include_all: Also make one of a bot event without ``handoff`` metadata.

    Returns:
        The message for a :class:`BotUttered` whose metadata has ``handoff``
        (for any :class:`BotUttered` with ``include_all``).
    """
    if not isinstance(event, BotUttered):
        return None
    handoff = (event.metadata or {}).get(HANDOFF_METADATA_KEY)
    if not isinstance(handoff, dict):
        if not include_all:
            return None
        handoff = {}
    data = event.data or {}
    agent = handoff.get("agent")
    buttons = data.get("buttons") or ()
    custom = data.get("custom")
    return InboxMessage(
        text=event.text or "",
        at=event_time(event),
        agent=str(agent) if agent else None,
        handback=handoff.get("handback") is True,
        closed=handoff.get("closed") is True,
        buttons=tuple(button for button in buttons if isinstance(button, dict)),
        image=data.get("image") or None,
        custom=custom if isinstance(custom, dict) else None,
    )


def inbox_messages(
    events: Iterable[Event], after: Optional[datetime] = None, limit: int = MAX_INBOX_MESSAGES
) -> List[InboxMessage]:
    """Pick the handoff messages out of a conversation's events.

    Args:
        events: The tracker's events, oldest first.
        after: Only messages strictly later than this (aware); all when None.
        limit: At most this many, the oldest first.

    Returns:
        The messages, oldest first.
    """
    return [message for _, message in _inbox_entries(events, after, limit, include_all=False)]


async def inbox_messages_with_payloads(
    events: Iterable[Event], after: Optional[datetime] = None, limit: int = MAX_INBOX_MESSAGES
) -> List[InboxMessage]:
    """Every bot message (``include=all``), as :func:`inbox_messages` does, with ``payloads``."""
    return [
        replace(message, payloads=tuple(await socketio_payloads(event.message())))
        for event, message in _inbox_entries(events, after, limit, include_all=True)
    ]


def _inbox_entries(
    events: Iterable[Event], after: Optional[datetime], limit: int, include_all: bool
) -> List[Tuple[BotUttered, InboxMessage]]:
    entries: List[Tuple[BotUttered, InboxMessage]] = []
    seen = set()
    for event in events:
        message = inbox_message(event, include_all)
        if message is None or (after is not None and message.at <= after):
            continue
        assert isinstance(event, BotUttered)  # inbox_message made a message of it
        key = _delivery_key(event)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        entries.append((event, message))
        if len(entries) >= limit:
            break
    return entries


def _delivery_key(event: Event) -> Optional[Tuple[Any, Any]]:
    """The handoff service's ids of a delivered line, if it sent them."""
    handoff = (event.metadata or {}).get(HANDOFF_METADATA_KEY)
    if not isinstance(handoff, dict) or handoff.get("message_id") is None:
        return None
    return handoff.get("ticket_id"), handoff.get("message_id")


def parse_after(raw: Optional[str]) -> Optional[datetime]:
    """Read the ``after`` query parameter.

    Args:
        raw: ISO 8601, e.g. ``2025-03-14T10:00:00Z``; a time without a zone is UTC.

    Returns:
        The aware time, or None when not given.

    Raises:
        ValueError: If the value is not an ISO 8601 date and time.
    """
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if len(text) > MAX_AFTER_CHARS:
        raise ValueError("'after' is too long to be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"'after' must be an ISO 8601 time such as 2025-03-14T10:00:00Z, got {text!r}"
        ) from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_include(raw: Optional[str]) -> bool:
    """Read the ``include`` query parameter: whether to list every bot message.

    Raises:
        ValueError: If it is given and is not ``all``.
    """
    if raw is None or raw.strip() == "":
        return False
    if raw.strip() != INCLUDE_ALL:
        raise ValueError(f"'include' can only be {INCLUDE_ALL!r}, got {raw[:MAX_AFTER_CHARS]!r}")
    return True


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


class HandoffRestInput(RestInput, LimitedChannel):
    """The REST channel (``/webhooks/rest/...``) with the handoff inbox and the limits."""

    @classmethod
    def name(cls) -> str:
        """Keep the channel name, and with it the URLs, of Rasa's REST channel."""
        return CHANNEL_NAME

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Return Rasa's REST routes behind :meth:`check_webhook`, plus the inbox."""
        self.channel_limits()
        blueprint = super().blueprint(on_new_message)
        blueprint.listener("after_server_start")(install_on_start)

        @blueprint.middleware("request")
        async def check(request: Request) -> Optional[HTTPResponse]:
            if request.method == "POST" and request.path.rstrip("/").endswith("/webhook"):
                return self.check_webhook(request)
            return None

        @blueprint.route("/inbox/<sender_id>", methods=["GET"], unquote=True)
        async def inbox(request: Request, sender_id: str) -> HTTPResponse:
            return await self.inbox(request, sender_id)

        return blueprint

    def check_webhook(self, request: Request) -> Optional[HTTPResponse]:
        """Refuse a webhook request that is too large, malformed or over the limits.

        Returns:
            413 for a body or message over the caps, 400 for a malformed body,
            429 (with ``Retry-After``) for a sender over the rate; None to let
            Rasa's route handle the request.
        """
        limits = self.channel_limits()
        refusal = limits.body_refusal(request)
        if refusal is None:
            try:
                message = WebhookMessage.parse(request.body or b"")
            except ValueError as exc:
                return _error(400, str(exc))
            refusal = limits.message_refusal(message.sender, message.message)
            if refusal is not None:
                logger.info("Refused a REST message from %s: %s.", message.sender, refusal.error)
        return refusal.response() if refusal is not None else None

    async def inbox(self, request: Request, sender_id: str) -> HTTPResponse:
        """Answer ``GET /webhooks/rest/inbox/<sender_id>?after=ISO8601&include=all``.

        Returns:
            200 with the messages; 400 for a bad sender id, ``after`` or ``include``; 429
            (with ``Retry-After``) when the sender reads too often; 503 when
            the assistant is not ready or its tracker store fails.
        """
        if (
            not sender_id.strip()
            or len(sender_id) > MAX_SENDER_ID_CHARS
            or _CONTROL_OR_SURROGATE.search(sender_id)
        ):
            return _error(
                400,
                f"sender_id must be 1 to {MAX_SENDER_ID_CHARS} characters "
                "without control characters",
            )
        refusal = self.channel_limits().inbox_refusal(sender_id)
        if refusal is not None:
            return refusal.response()
        try:
            after = parse_after(request.args.get("after"))
            include_all = parse_include(request.args.get("include"))
        except ValueError as exc:
            return _error(400, str(exc))
        agent = getattr(request.app.ctx, "agent", None)
        tracker_store = getattr(agent, "tracker_store", None)
        if tracker_store is None:
            return _error(503, "the assistant is not ready yet, try again shortly")
        try:
            tracker = await tracker_store.retrieve_full_tracker(sender_id)
        except Exception:  # the store's backends raise anything from OSError to DB errors
            logger.exception("Reading the conversation %r for the inbox failed.", sender_id)
            return _error(503, "the conversation store is unavailable, try again shortly")
        events = tracker.events if tracker is not None else ()
        if include_all:
            messages = await inbox_messages_with_payloads(events, after)
        else:
            messages = inbox_messages(events, after)
        return response.json({"messages": [message.to_dict() for message in messages]})
