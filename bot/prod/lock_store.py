"""A Redis ticket lock whose tickets are issued and returned atomically.

Rasa's ``RedisLockStore`` keeps a conversation's ticket lock as one JSON value
and changes it by reading it, changing it in Python and writing it back. Within
one process that is safe (nothing awaits in between), but two Rasa instances
can read the same value at once: both issue ticket 0 and both process a
message of the same conversation at the same time, so one instance's events
overwrite the other's. Production mode runs several instances behind one load
balancer, which is exactly when that happens.

:class:`AtomicRedisLockStore` (``type:`` in deploy/endpoints.prod.yml) changes
the lock only inside Redis Lua scripts, which Redis runs one at a time. It
keeps Rasa's value format and ticket rules (numbers in order, expiry by the
instances' clocks, the key deleted when its last ticket is returned), so
Rasa's own store reads its locks. It also takes fewer round trips: a message
without a wait costs two (issue, return) where Rasa's store needs seven, and
each key expires in Redis with its last ticket, so an instance killed while it
held a lock leaves no key behind for ever.
"""

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Dict, Optional, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL_S = 0.05
"""Seconds between two looks at a lock someone else holds (Rasa's store waits 1 s)."""

# Shared by the scripts: the lock's live tickets, as Rasa keeps them (a JSON
# list of JSON-encoded tickets), and writing them back with the key expiring
# when its last ticket does. A ticket has expired when now > expires, as in
# rasa.core.lock.Ticket.has_expired.
_LUA_COMMON = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local function live_tickets()
  local raw = redis.call('GET', key)
  local tickets = {}
  if not raw then return tickets end
  for _, encoded in ipairs(cjson.decode(raw).tickets or {}) do
    local ticket = cjson.decode(encoded)
    if now <= ticket.expires then table.insert(tickets, ticket) end
  end
  return tickets
end
local function store(conversation_id, tickets)
  if #tickets == 0 then
    redis.call('DEL', key)
    return nil
  end
  local encoded = {}
  local last_expiry = now
  for i, ticket in ipairs(tickets) do
    encoded[i] = cjson.encode({number = ticket.number, expires = ticket.expires})
    if ticket.expires > last_expiry then last_expiry = ticket.expires end
  end
  local value = cjson.encode({conversation_id = conversation_id, tickets = encoded})
  redis.call('SET', key, value, 'PX', math.ceil((last_expiry - now) * 1000) + 1000)
  return value
end
"""

# ARGV: now, conversation id, lifetime. Returns {ticket number, lock value}.
_ISSUE = (
    _LUA_COMMON
    + """
local tickets = live_tickets()
local number = 0
if #tickets > 0 then number = tickets[#tickets].number + 1 end
table.insert(tickets, {number = number, expires = now + tonumber(ARGV[3])})
return {number, store(ARGV[2], tickets)}
"""
)

# ARGV: now, conversation id, ticket number (or "" for none). Returns the
# number of live tickets left; the key is gone when none is.
_RETURN = (
    _LUA_COMMON
    + """
local tickets = live_tickets()
local kept = {}
for _, ticket in ipairs(tickets) do
  if ARGV[3] == '' or ticket.number ~= tonumber(ARGV[3]) then table.insert(kept, ticket) end
end
store(ARGV[2], kept)
return #kept
"""
)


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis ticket lock, changed only by atomic Lua scripts.

    Args:
        endpoint_config: The ``lock_store`` endpoint; takes the arguments of
            Rasa's ``RedisLockStore`` (``url`` is the host) plus
            ``poll_interval_s``, the seconds between two looks at a lock held
            by another message (default ``DEFAULT_POLL_INTERVAL_S``).
    """

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        kwargs: Dict[str, Any] = dict(endpoint_config.kwargs)
        self.poll_interval_s = float(kwargs.pop("poll_interval_s", DEFAULT_POLL_INTERVAL_S))
        if self.poll_interval_s <= 0:
            raise ValueError(f"poll_interval_s must be positive, got {self.poll_interval_s}")
        super().__init__(host=endpoint_config.url or "localhost", **kwargs)
        self._issue_script = self.red.register_script(_ISSUE)
        self._return_script = self.red.register_script(_RETURN)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Issue the conversation's next ticket, atomically.

        Args:
            conversation_id: The conversation.
            lock_lifetime: Seconds the ticket lives.

        Returns:
            The ticket's number.
        """
        return self._issue(conversation_id, lock_lifetime)[0]

    def update_lock(self, conversation_id: str) -> None:
        """Drop the conversation's expired tickets, atomically (the key goes with the last)."""
        self._return_script(
            keys=[self._key(conversation_id)], args=[time.time(), conversation_id, ""]
        )

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Return a ticket, atomically; the key is deleted when it held the last one.

        Args:
            conversation_id: The conversation.
            ticket_number: The ticket to return.
        """
        self._return_script(
            keys=[self._key(conversation_id)],
            args=[time.time(), conversation_id, ticket_number],
        )

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Return a ticket (one round trip: returning the last one deletes the lock).

        Args:
            conversation_id: The conversation.
            ticket_number: The ticket to return.
        """
        self.finish_serving(conversation_id, ticket_number)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: Optional[float] = None,
    ) -> AsyncGenerator[TicketLock, None]:
        """Hold the conversation's lock for the block; wait for earlier tickets first.

        Args:
            conversation_id: The conversation.
            lock_lifetime: Seconds the ticket lives.
            wait_time_in_seconds: Seconds between two looks at a lock held by
                another message; ``poll_interval_s`` when not given (Rasa's
                callers never give it).

        Yields:
            The lock as it was when this ticket came to be served.

        Raises:
            LockError: If this ticket expired while it waited.
        """
        ticket, lock = self._issue(conversation_id, lock_lifetime)
        try:
            if lock.is_locked(ticket):
                lock = await self._acquire_lock(
                    conversation_id, ticket, wait_time_in_seconds or self.poll_interval_s
                )
            yield lock
        finally:
            self.cleanup(conversation_id, ticket)

    async def _acquire_lock(
        self, conversation_id: str, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        """Wait until ``ticket`` is served: one ``GET`` per look.

        Unlike Rasa's store, a ticket that expired while it waited ends the
        wait at once (Rasa's waits on until every ticket is gone), and the
        expired tickets are left for the scripts to drop.

        Raises:
            LockError: If the ticket expired (or the lock is gone).
        """
        while True:
            lock = self.get_lock(conversation_id)
            if lock is None or not _holds(lock, ticket):
                raise LockError(
                    f"Could not acquire lock for conversation_id '{conversation_id}': "
                    f"ticket {ticket} expired while it waited."
                )
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait_time_in_seconds)

    def _issue(self, conversation_id: str, lock_lifetime: float) -> Tuple[int, TicketLock]:
        number, value = self._issue_script(
            keys=[self._key(conversation_id)],
            args=[time.time(), conversation_id, lock_lifetime],
        )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(f"Issued ticket {number} for conversation '{conversation_id}'.")
        return int(number), TicketLock.from_dict(json.loads(value))

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id


def _holds(lock: TicketLock, ticket: int) -> bool:
    return any(t.number == ticket and not t.has_expired() for t in lock.tickets)
