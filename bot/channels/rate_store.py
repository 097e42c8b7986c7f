"""Rate-limit buckets kept in Redis, shared by every Rasa instance of a deployment.

With several Rasa instances behind a load balancer, buckets in each process's
memory would let a sender through once per instance. :class:`RedisRateLimiter`
keeps each sender's bucket in Redis instead (``CHANNEL_RATE_REDIS_URL``;
production mode points it at the deployment's Redis), so the limit holds
whichever instance a message reaches. It has the interface of the in-memory
:class:`bot.channels.limits.RateLimiter`:

* one Lua script per call refills and takes a token atomically, on Redis's own
  clock (instances' clocks may differ);
* keys are ``<namespace>:<sha256 of the sender id>``, so no sender id (a phone
  number on Twilio) is stored in Redis, and expire once the bucket would be
  full again, so idle senders cost nothing;
* the client is created on first use, with short timeouts, and shared by
  every limiter of the process that uses the same URL. Calls are
  synchronous, as in Rasa's own Redis lock store: one round trip on a local
  network is well under a millisecond.

When Redis cannot be reached, messages are **let through** (a limiter must not
lock every customer out) and the outage is logged as an error at most once a
minute, with a line when Redis answers again.
"""

import functools
import hashlib
import logging
import math
import time
from typing import Callable, Dict, Optional
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

TIMEOUT_S = 0.25
REPORT_EVERY_S = 60.0
URL_SCHEMES = ("redis", "rediss", "unix")

# KEYS[1]: the bucket; ARGV: burst, tokens per minute, seconds to keep it.
# Returns the seconds to wait as a string (Redis truncates Lua numbers to integers).
_TAKE = """
local burst = tonumber(ARGV[1])
local per_minute = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(stored[1])
local updated = tonumber(stored[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
tokens = math.min(burst, tokens + math.max(0, now - updated) * per_minute / 60)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  redis.call('HDEL', KEYS[1], 'refused')
else
  wait = (1 - tokens) * 60 / per_minute
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return tostring(wait)
"""

# KEYS[1]: the bucket. 1 the first time its latest refusal is told, else 0.
_TOLD = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
return redis.call('HSETNX', KEYS[1], 'refused', '1')
"""


def check_url(url: str) -> str:
    """Return ``url`` if it is a Redis URL, else raise ValueError naming the variable."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError as exc:
        raise ValueError(f"CHANNEL_RATE_REDIS_URL has an invalid port: {exc}") from exc
    if parts.scheme not in URL_SCHEMES or not (parts.hostname or parts.path):
        raise ValueError(
            "CHANNEL_RATE_REDIS_URL must be a redis://, rediss:// or unix:// URL "
            "(for example redis://127.0.0.1:6379/1)"
        )
    return url


class RedisRateLimiter:
    """Token buckets in Redis, one per key; see the module docstring.

    Args:
        url: The Redis URL (``redis://[:password@]host:port/db``).
        namespace: Prefix of this limiter's keys (channel and what is counted).
        per_minute: Tokens added per minute; 0 means no limit (Redis is not used).
        burst: Tokens a bucket holds at most (and starts with).
        client_factory: Makes the client from the URL; injectable for tests.
        clock: Monotonic seconds, for spacing the outage reports.
    """

    def __init__(
        self,
        url: str,
        namespace: str,
        per_minute: int,
        burst: int,
        client_factory: Optional[Callable[[str], object]] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.burst = burst
        self._url = check_url(url)
        self._namespace = namespace
        self._client_factory = client_factory or _client
        self._clock = clock
        self._scripts: Optional[Dict[str, Callable[..., object]]] = None
        self._down_since: Optional[float] = None
        self._reported_at = -math.inf
        self._keep_s = math.ceil(burst * 60 / per_minute) + 1 if per_minute > 0 else 1

    def take(self, key: str) -> float:
        """Take one token for ``key``.

        Returns:
            0 when a token was taken (or Redis is unreachable), else the
            seconds until one is available.
        """
        if self.per_minute <= 0:
            return 0.0
        result = self._call("take", key, self.burst, self.per_minute, self._keep_s)
        # The script answers a number as a string, which Redis sends as bytes.
        return 0.0 if result is None else max(0.0, float(result))

    def first_refusal(self, key: str) -> bool:
        """Mark ``key``'s latest refusal as told; whether it is the first since it was let in.

        False when Redis is unreachable (the customer is not told twice).
        """
        return self._call("told", key) == 1

    def key_for(self, key: str) -> str:
        """The Redis key of ``key``'s bucket."""
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self._namespace}:{digest[:32]}"

    def _call(self, script: str, key: str, *args: object) -> object:
        from redis.exceptions import RedisError

        try:
            if self._scripts is None:
                client = self._client_factory(self._url)
                self._scripts = {
                    "take": client.register_script(_TAKE),
                    "told": client.register_script(_TOLD),
                }
            result = self._scripts[script](keys=[self.key_for(key)], args=list(args))
        except (RedisError, OSError) as exc:
            self._report_down(exc)
            return None
        if self._down_since is not None:
            logger.warning(
                "Rate limits are on again: Redis answers after %.0f s.",
                self._clock() - self._down_since,
            )
            self._down_since = None
        return result

    def _report_down(self, exc: Exception) -> None:
        now = self._clock()
        if self._down_since is None:
            self._down_since = now
        if now - self._reported_at >= REPORT_EVERY_S:
            self._reported_at = now
            logger.error(
                "Rate limits are off: Redis at %s cannot be reached (%s: %s); "
                "messages are let through until it answers.",
                _where(self._url),
                type(exc).__name__,
                exc,
            )


@functools.cache
def _client(url: str) -> object:
    # One client (and connection pool) per URL for the whole process: every
    # channel has two limiters, and each would otherwise open its own pool.
    import redis

    return redis.Redis.from_url(
        url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S, health_check_interval=30
    )


def _where(url: str) -> str:
    # Host and port only: the URL may hold a password.
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else parts.path
