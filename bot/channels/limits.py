"""Per-sender rate limits and size caps, shared by every customer channel.

Each channel holds one :class:`ChannelLimits` (made on first use from
:class:`~bot.channels.settings.ChannelLimitSettings`, i.e. the ``CHANNEL_*``
variables) and applies it before a message reaches Rasa:

* **Body size**: a request body over ``CHANNEL_MAX_BODY_BYTES`` (64 KiB) is
  refused with 413 before it is parsed or its signature is computed.
* **Rate**: a token bucket per sender id: ``CHANNEL_RATE_BURST`` (10) messages
  at once, refilled at ``CHANNEL_RATE_PER_MINUTE`` (20) a minute.
* **Message size**: a text over ``CHANNEL_MAX_MESSAGE_CHARS`` (4,000) is refused.

How a refused message is answered depends on who sends it:

* the REST channel (a client that can read an error) gets 429 with
  ``Retry-After`` or 413, each with ``{"error": ...}``;
* the messaging platforms (Telegram, Slack, Messenger, Twilio) retry a webhook
  that does not answer 2xx, so their webhook answers as usual, the message is
  dropped with a log line and, when ``CHANNEL_LIMIT_REPLIES`` is on, the
  customer gets :data:`RATE_REPLY` (once per burst) or :data:`TOO_LONG_REPLY`
  through the platform (see :func:`limited`);
* socket.io (the web widget) has no status per message either: the same
  replies arrive as bot messages.

The buckets live in the process's memory (each Rasa instance counts on its
own, and a restart forgets them) unless ``CHANNEL_RATE_REDIS_URL`` names a
Redis, where every instance shares them (:mod:`bot.channels.rate_store`).
"""

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.delivery import OnNewMessage
from bot.channels.rate_store import RedisRateLimiter
from bot.channels.settings import ChannelLimitSettings
from bot.privacy import install_log_masking

logger = logging.getLogger(__name__)

RATE_REPLY = (
    "You're sending messages faster than I can read them. "
    "Please wait a few seconds, then send your message again."
)
TOO_LONG_REPLY = (
    "That message is too long for me ({limit} characters at most). "
    "Could you send it in shorter parts?"
)
MAX_SENDERS = 100_000
"""Buckets kept at most; beyond that, full and then the least recently used ones go."""


@dataclass(frozen=True)
class Refusal:
    """Why a request or a message is refused.

    Attributes:
        status: 413 (too large) or 429 (too many messages).
        error: The sentence for the client.
        retry_after_s: For 429, whole seconds until the sender may send again.
    """

    status: int
    error: str
    retry_after_s: Optional[int] = None

    def response(self) -> HTTPResponse:
        """The HTTP answer: ``{"error": ...}`` with the status (and ``Retry-After``)."""
        headers = {"Retry-After": str(self.retry_after_s)} if self.retry_after_s else None
        return response.json({"error": self.error}, status=self.status, headers=headers)


@dataclass
class _Bucket:
    tokens: float
    updated_at: float
    refused: bool = False


class RateLimiter:
    """Token buckets, one per key, refilled continuously.

    Args:
        per_minute: Tokens added per minute; 0 means no limit.
        burst: Tokens a bucket holds at most (and starts with).
        clock: Monotonic seconds; injectable for tests.
        max_keys: Buckets kept at most (memory bound).
    """

    def __init__(
        self,
        per_minute: int,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_SENDERS,
    ) -> None:
        self.per_minute = per_minute
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one token for ``key``.

        Returns:
            0 when a token was taken, else the seconds until one is available.
        """
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            bucket = _Bucket(tokens=float(self.burst), updated_at=now)
            self._buckets[key] = bucket
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = self._refilled(bucket, now)
            bucket.updated_at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.refused = False
            return 0.0
        return (1 - bucket.tokens) * 60 / self.per_minute

    def first_refusal(self, key: str) -> bool:
        """Mark ``key``'s latest refusal as told; whether it is the first since it was let in."""
        bucket = self._buckets.get(key)
        if bucket is None or bucket.refused:
            return False
        bucket.refused = True
        return True

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        elapsed = max(0.0, now - bucket.updated_at)
        return min(float(self.burst), bucket.tokens + elapsed * self.per_minute / 60)

    def _make_room(self, now: float) -> None:
        if len(self._buckets) < self._max_keys:
            return
        # A full bucket is the same as none: forgetting it changes nothing.
        full = [key for key, b in self._buckets.items() if self._refilled(b, now) >= self.burst]
        for key in full:
            del self._buckets[key]
        while len(self._buckets) >= self._max_keys:
            self._buckets.popitem(last=False)


class ChannelLimits:
    """The limits one channel applies; see the module docstring.

    Args:
        settings: The limits.
        channel: The channel's name, for log lines.
        clock: Monotonic seconds; injectable for tests.
    """

    def __init__(
        self,
        settings: ChannelLimitSettings,
        channel: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.channel = channel
        self.messages = self._limiter("messages", settings.rate_per_minute, clock)
        self.inbox_reads = self._limiter("inbox", settings.inbox_rate_per_minute, clock)

    def _limiter(
        self, what: str, per_minute: int, clock: Callable[[], float]
    ) -> "RateLimiter | RedisRateLimiter":
        url = self.settings.rate_redis_url
        if not url:
            return RateLimiter(per_minute, self.settings.burst, clock)
        namespace = f"ratelimit:{self.channel}:{what}"
        return RedisRateLimiter(url, namespace, per_minute, self.settings.burst, clock=clock)

    def body_refusal(self, request: Request) -> Optional[Refusal]:
        """413 when the request's body (or its announced length) is over the cap."""
        limit = self.settings.max_body_bytes
        announced = request.headers.get("Content-Length", "")
        too_long = announced.isdigit() and int(announced) > limit
        if too_long or len(request.body or b"") > limit:
            return Refusal(413, f"the request body is larger than {limit} bytes")
        return None

    def message_refusal(self, sender_id: str, text: Optional[str]) -> Optional[Refusal]:
        """429 when the sender is over the rate, else 413 when the text is too long.

        A message refused for its length still counts against the rate, so a
        sender cannot make the bot answer refusals without limit.
        """
        wait_s = self.messages.take(sender_id)
        if wait_s > 0:
            return self._rate_refusal(wait_s)
        limit = self.settings.max_message_chars
        if text is not None and len(text) > limit:
            return Refusal(413, f"the message is longer than {limit} characters")
        return None

    def inbox_refusal(self, sender_id: str) -> Optional[Refusal]:
        """429 when the sender reads the inbox more often than allowed."""
        wait_s = self.inbox_reads.take(sender_id)
        return self._rate_refusal(wait_s, "inbox reads") if wait_s > 0 else None

    def reply_for(self, sender_id: str, refusal: Refusal) -> Optional[str]:
        """What to tell a customer on a messaging platform, or None to stay silent.

        A rate refusal is told once per burst; a too long message every time
        (it counted against the rate).
        """
        if not self.settings.limit_replies:
            return None
        if refusal.status == 413:
            return TOO_LONG_REPLY.format(limit=self.settings.max_message_chars)
        return RATE_REPLY if self.messages.first_refusal(sender_id) else None

    def _rate_refusal(self, wait_s: float, what: str = "messages") -> Refusal:
        retry_after = max(1, math.ceil(wait_s))
        limiter = self.inbox_reads if what == "inbox reads" else self.messages
        return Refusal(
            429,
            f"too many {what} from this sender (at most {limiter.per_minute} a minute, "
            f"{limiter.burst} at once); try again in {retry_after} s",
            retry_after_s=retry_after,
        )


class LimitedChannel(InputChannel):
    """Mixin giving an input channel its :class:`ChannelLimits`, made on first use.

    Put it after the Rasa channel among the bases
    (``class X(RasaChannel, LimitedChannel)``).

    Attributes:
        limits: Set by tests to inject settings or a clock; else made from the
            environment when the channel first needs it (when Rasa builds its
            routes), together with :func:`bot.privacy.install_log_masking`.
    """

    limits: Optional[ChannelLimits] = None

    def channel_limits(self) -> ChannelLimits:
        """This channel's limits; reads ``CHANNEL_*`` the first time.

        Raises:
            ValueError: If a ``CHANNEL_*`` variable is invalid.
        """
        if self.limits is None:
            install_log_masking()
            self.limits = ChannelLimits(ChannelLimitSettings.from_env(), self.name())
        return self.limits


def limited(on_new_message: OnNewMessage, limits: ChannelLimits) -> OnNewMessage:
    """Wrap Rasa's message handler for a channel that cannot answer a refusal with a status.

    A refused message does not reach Rasa: it is logged and, per
    :meth:`ChannelLimits.reply_for`, answered through the message's own
    output channel (a failure to send that is only logged).
    """

    async def handle(message: UserMessage) -> Any:
        refusal = limits.message_refusal(message.sender_id, message.text)
        if refusal is None:
            return await on_new_message(message)
        logger.warning(
            "Dropped a %s message from %s: %s.", limits.channel, message.sender_id, refusal.error
        )
        reply = limits.reply_for(message.sender_id, refusal)
        if reply is not None:
            try:
                # send_response, as Rasa sends: some outputs make it non-blocking.
                await message.output_channel.send_response(message.sender_id, {"text": reply})
            except Exception as exc:  # each platform's client raises its own errors
                logger.warning("Could not tell %s why: %s", message.sender_id, exc)
        return None

    return handle
