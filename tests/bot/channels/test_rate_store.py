"""Rate buckets in a real (private) Redis, shared by two channel instances."""

import logging
import time
import uuid

import pytest
import redis

from bot.channels.limits import RATE_REPLY, ChannelLimits, Refusal
from bot.channels.rate_store import RedisRateLimiter
from bot.channels.settings import ChannelLimitSettings
from tests.e2e.helpers import free_port
from tests.prod.services import PrivateRedis


def url_of(private_redis: PrivateRedis) -> str:
    return f"redis://127.0.0.1:{private_redis.port}/0"


def two_instances(private_redis: PrivateRedis, **changes: object) -> tuple:
    """Two channels' limits over one Redis, as two Rasa instances hold them."""
    settings = ChannelLimitSettings(
        **{"rate_per_minute": 20, "burst": 3, "rate_redis_url": url_of(private_redis), **changes}
    )
    return ChannelLimits(settings, "rest"), ChannelLimits(settings, "rest")


def sender() -> str:
    return f"ana-{uuid.uuid4().hex}"


def test_two_instances_share_one_bucket_per_sender(private_redis: PrivateRedis) -> None:
    first, second = two_instances(private_redis)
    ana, ben = sender(), sender()
    assert first.message_refusal(ana, "hi") is None
    assert second.message_refusal(ana, "hi") is None
    assert first.message_refusal(ana, "hi") is None
    refusal = second.message_refusal(ana, "hi")
    assert refusal == Refusal(
        429,
        "too many messages from this sender (at most 20 a minute, 3 at once); try again in 3 s",
        retry_after_s=3,
    )
    assert first.message_refusal(ana, "hi").status == 429
    assert second.message_refusal(ben, "hi") is None  # a bucket per sender
    assert first.inbox_refusal(ana) is None  # inbox reads have buckets of their own


def test_a_refusal_is_told_once_whichever_instance_refuses(private_redis: PrivateRedis) -> None:
    first, second = two_instances(private_redis, burst=1)
    ana = sender()
    assert first.message_refusal(ana, "hi") is None
    refusal = second.message_refusal(ana, "hi")
    assert first.reply_for(ana, refusal) == RATE_REPLY
    assert second.reply_for(ana, first.message_refusal(ana, "hi")) is None


def test_buckets_refill_on_redis_time(private_redis: PrivateRedis) -> None:
    limiter = RedisRateLimiter(
        url_of(private_redis), "test", per_minute=1200, burst=1
    )  # 1 per 50 ms
    ana = sender()
    assert limiter.take(ana) == 0.0
    assert 0.0 < limiter.take(ana) <= 0.05
    time.sleep(0.12)
    assert limiter.take(ana) == 0.0
    assert limiter.first_refusal(sender()) is False  # no bucket, nothing to tell


def test_keys_hold_no_sender_id_and_expire_once_full_again(private_redis: PrivateRedis) -> None:
    namespace = f"ratelimit:test-{uuid.uuid4().hex}"
    limiter = RedisRateLimiter(url_of(private_redis), namespace, per_minute=20, burst=3)
    phone = "+447700900123"
    limiter.take(phone)
    client = redis.Redis(port=private_redis.port)
    keys = [key.decode() for key in client.keys(f"{namespace}:*")]
    assert keys == [limiter.key_for(phone)]
    assert phone not in keys[0] and len(keys[0]) == len(namespace) + 33
    assert 1 <= client.ttl(keys[0]) <= 10  # 3 tokens at 20 a minute: full after 9 s


def test_a_rate_of_zero_never_calls_redis() -> None:
    def no_client(url: str) -> object:
        raise AssertionError("Redis was called")

    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", "test", 0, 3, client_factory=no_client)
    assert {limiter.take("ana") for _ in range(20)} == {0.0}


def test_an_unreachable_redis_lets_messages_through_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = ChannelLimitSettings(
        rate_per_minute=20, burst=1, rate_redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    checked = ChannelLimits(settings, "rest")
    with caplog.at_level(logging.ERROR, logger="bot.channels.rate_store"):
        assert [checked.message_refusal("ana", "hi") for _ in range(3)] == [None, None, None]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # reported once, not once per message
    assert errors[0].startswith("Rate limits are off: Redis at 127.0.0.1:")
    assert errors[0].endswith("messages are let through until it answers.")


def test_limits_come_back_when_redis_does(caplog: pytest.LogCaptureFixture) -> None:
    private = PrivateRedis()
    url = f"redis://127.0.0.1:{private.port}/0"
    limiter = RedisRateLimiter(url, "test", per_minute=20, burst=1)
    try:
        assert limiter.take("ana") == 0.0  # down: let through
        private.start()
        with caplog.at_level(logging.WARNING, logger="bot.channels.rate_store"):
            assert limiter.take("ana") == 0.0
            assert limiter.take("ana") == pytest.approx(3.0, abs=0.1)
        assert any(
            r.getMessage().startswith("Rate limits are on again: Redis answers after")
            for r in caplog.records
        )
    finally:
        private.remove()
