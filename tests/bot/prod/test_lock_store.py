"""The atomic ticket lock, against a real (private) Redis, beside Rasa's own store."""

import asyncio
import threading
import time
import uuid
from typing import Callable, List, Tuple

import pytest
import redis
from rasa.core.lock_store import LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.prod.lock_store import DEFAULT_POLL_INTERVAL_S, AtomicRedisLockStore
from tests.e2e.helpers import free_port
from tests.prod.services import PrivateRedis

PREFIX = "locktest"


def atomic(private_redis: PrivateRedis, **kwargs: object) -> AtomicRedisLockStore:
    """A store as Rasa creates it from endpoints.prod.yml."""
    config = EndpointConfig(
        url="127.0.0.1",
        type="bot.prod.lock_store.AtomicRedisLockStore",
        port=private_redis.port,
        db=0,
        key_prefix=PREFIX,
        **kwargs,
    )
    return AtomicRedisLockStore(config)


def rasas(private_redis: PrivateRedis) -> RedisLockStore:
    return RedisLockStore(host="127.0.0.1", port=private_redis.port, db=0, key_prefix=PREFIX)


def conversation() -> str:
    return f"conv-{uuid.uuid4().hex}"


def at_once(calls: List[Callable[[], int]]) -> List[int]:
    """Run the calls in threads released together (as two instances would)."""
    barrier = threading.Barrier(len(calls))
    results: List[int] = [0] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def race(stores: Tuple[RedisLockStore, RedisLockStore], rounds: int) -> int:
    """How many of ``rounds`` simultaneous issues by two stores gave one ticket twice."""
    duplicates = 0
    for _ in range(rounds):
        sender = conversation()
        first, second = at_once([lambda s=s, c=sender: s.issue_ticket(c, 60) for s in stores])
        duplicates += first == second
        stores[0].delete_lock(sender)
    return duplicates


def test_two_instances_issuing_at_once_never_share_a_ticket(private_redis: PrivateRedis) -> None:
    assert race((atomic(private_redis), atomic(private_redis)), rounds=200) == 0


def test_rasas_store_does_share_tickets_in_the_same_race(private_redis: PrivateRedis) -> None:
    # Why this store exists: the test above would fail with Rasa's store.
    assert race((rasas(private_redis), rasas(private_redis)), rounds=200) > 0


def test_tickets_follow_rasas_numbering_and_value_format(private_redis: PrivateRedis) -> None:
    store, sender = atomic(private_redis), conversation()
    assert [store.issue_ticket(sender, 60) for _ in range(3)] == [0, 1, 2]
    lock = rasas(private_redis).get_lock(sender)  # Rasa's store reads this store's value
    assert lock is not None
    assert lock.conversation_id == sender
    assert [ticket.number for ticket in lock.tickets] == [0, 1, 2]
    assert all(time.time() + 59 < ticket.expires <= time.time() + 60 for ticket in lock.tickets)
    assert lock.now_serving == 0

    store.finish_serving(sender, 0)
    assert [t.number for t in rasas(private_redis).get_lock(sender).tickets] == [1, 2]
    store.cleanup(sender, 2)
    assert [t.number for t in rasas(private_redis).get_lock(sender).tickets] == [1]
    store.cleanup(sender, 1)  # the last ticket: the lock goes
    assert rasas(private_redis).get_lock(sender) is None
    assert store.issue_ticket(sender, 60) == 0  # and numbering starts again


def test_a_lock_written_by_rasas_store_is_continued(private_redis: PrivateRedis) -> None:
    sender = conversation()
    assert rasas(private_redis).issue_ticket(sender, 60) == 0
    assert rasas(private_redis).issue_ticket(sender, 60) == 1
    store = atomic(private_redis)
    assert store.issue_ticket(sender, 60) == 2
    store.cleanup(sender, 0)
    assert rasas(private_redis).get_lock(sender).now_serving == 1


def test_expired_tickets_are_dropped_and_the_key_expires_with_the_last(
    private_redis: PrivateRedis,
) -> None:
    store, sender = atomic(private_redis), conversation()
    client = redis.Redis(port=private_redis.port)
    assert store.issue_ticket(sender, 0.2) == 0
    assert 0 < client.pttl(PREFIX + ":lock:" + sender) <= 1201  # lifetime + 1 s, rounded up
    time.sleep(0.3)
    assert store.issue_ticket(sender, 60) == 0  # ticket 0 expired: numbering restarts
    assert 60_000 < client.pttl(PREFIX + ":lock:" + sender) <= 61_001

    other = conversation()
    store.issue_ticket(other, 0.1)
    time.sleep(0.2)
    store.update_lock(other)  # only expired tickets: the key goes
    assert client.exists(PREFIX + ":lock:" + other) == 0

    forgotten = conversation()
    store.issue_ticket(forgotten, 0.1)  # a killed instance never returns it
    time.sleep(1.3)
    assert client.exists(PREFIX + ":lock:" + forgotten) == 0


def test_returning_a_ticket_that_is_not_there_changes_nothing(private_redis: PrivateRedis) -> None:
    store, sender = atomic(private_redis), conversation()
    store.finish_serving(sender, 3)
    assert rasas(private_redis).get_lock(sender) is None
    store.issue_ticket(sender, 60)
    store.finish_serving(sender, 7)
    assert [t.number for t in rasas(private_redis).get_lock(sender).tickets] == [0]


@pytest.mark.asyncio
async def test_messages_of_one_conversation_run_one_at_a_time_in_order(
    private_redis: PrivateRedis,
) -> None:
    # Two instances' stores, as behind nginx; each message sleeps while it
    # holds the lock, so any overlap would show in the log.
    stores = (atomic(private_redis), atomic(private_redis))
    sender, log = conversation(), []

    async def message(number: int) -> None:
        async with stores[number % 2].lock(sender):
            log.append(("start", number))
            await asyncio.sleep(0.03)
            log.append(("end", number))

    tasks = []
    for number in range(4):
        tasks.append(asyncio.create_task(message(number)))
        await asyncio.sleep(0)  # tickets in the order the messages came
    await asyncio.gather(*tasks)
    assert log == [(kind, n) for n in range(4) for kind in ("start", "end")]
    assert rasas(private_redis).get_lock(sender) is None


@pytest.mark.asyncio
async def test_an_uncontended_message_costs_two_round_trips(private_redis: PrivateRedis) -> None:
    store, sender = atomic(private_redis), conversation()
    commands: List[str] = []
    original = store.red.execute_command

    def counting(*args: object, **kwargs: object) -> object:
        commands.append(str(args[0]))
        return original(*args, **kwargs)

    store.red.execute_command = counting  # type: ignore[method-assign]
    async with store.lock(sender) as lock:
        assert lock.conversation_id == sender
        assert lock.now_serving == 0
    assert commands == ["EVALSHA", "EVALSHA"]
    assert rasas(private_redis).get_lock(sender) is None


@pytest.mark.asyncio
async def test_a_waiting_message_looks_again_at_the_poll_interval(
    private_redis: PrivateRedis,
) -> None:
    store, sender = atomic(private_redis, poll_interval_s=0.02), conversation()
    first_held = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with store.lock(sender):
            first_held.set()
            await release.wait()

    holder = asyncio.create_task(first())
    await first_held.wait()
    asyncio.get_running_loop().call_later(0.05, release.set)
    started = time.perf_counter()
    async with store.lock(sender):
        waited = time.perf_counter() - started
    await holder
    # Released after 0.05 s; Rasa's store would look again only after 1 s.
    assert 0.04 < waited < 0.5


@pytest.mark.asyncio
async def test_a_ticket_that_expires_while_it_waits_raises_lock_error(
    private_redis: PrivateRedis,
) -> None:
    store, sender = atomic(private_redis, poll_interval_s=0.02), conversation()
    assert store.issue_ticket(sender, 60) == 0  # held for longer than the next one lives
    started = time.perf_counter()
    with pytest.raises(LockError, match="ticket 1 expired while it waited"):
        async with store.lock(sender, lock_lifetime=0.1):
            pass  # pragma: no cover - never reached
    assert time.perf_counter() - started < 1  # Rasa's store would wait for ticket 0 (60 s)
    assert [t.number for t in rasas(private_redis).get_lock(sender).tickets] == [0]


@pytest.mark.asyncio
async def test_an_error_inside_the_block_still_returns_the_ticket(
    private_redis: PrivateRedis,
) -> None:
    store, sender = atomic(private_redis), conversation()
    with pytest.raises(RuntimeError, match="boom"):
        async with store.lock(sender):
            raise RuntimeError("boom")
    assert rasas(private_redis).get_lock(sender) is None


def test_redis_down_raises_rather_than_letting_the_message_through(
    private_redis: PrivateRedis,
) -> None:
    config = EndpointConfig(url="127.0.0.1", port=free_port(), db=0, socket_timeout=0.5)
    store = AtomicRedisLockStore(config)
    with pytest.raises(redis.exceptions.ConnectionError):
        store.issue_ticket(conversation(), 60)


def test_the_poll_interval_must_be_positive(private_redis: PrivateRedis) -> None:
    assert atomic(private_redis).poll_interval_s == DEFAULT_POLL_INTERVAL_S
    with pytest.raises(ValueError, match="poll_interval_s must be positive"):
        atomic(private_redis, poll_interval_s=0)
