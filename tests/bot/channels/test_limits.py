"""The channel limits: token buckets, the refusals, and the handler platforms use."""

from typing import Any, Dict, List, Optional

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import Sanic
from sanic.request import Request

from bot.channels.limits import (
    RATE_REPLY,
    ChannelLimits,
    LimitedChannel,
    RateLimiter,
    Refusal,
    limited,
)
from bot.channels.settings import ChannelLimitSettings
from bot.privacy import log_masking_installed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limits(clock: Clock, **changes: Any) -> ChannelLimits:
    settings = ChannelLimitSettings(**{"rate_per_minute": 20, "burst": 3, **changes})
    return ChannelLimits(settings, "test", clock=clock)


def request(body: bytes, headers: Optional[Dict[str, str]] = None) -> Request:
    app = Sanic.get_app("limits_test", force_create=True)
    made = Request(b"/webhook", headers or {}, "1.1", "POST", None, app)
    made.body = body
    return made


def test_a_bucket_lets_the_burst_through_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=20, burst=3, clock=clock)
    assert [limiter.take("ana") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("ana") == pytest.approx(3.0)  # one token every 3 s
    assert limiter.take("ben") == 0.0  # each sender has a bucket of its own
    clock.now += 1.5
    assert limiter.take("ana") == pytest.approx(1.5)
    clock.now += 1.5
    assert limiter.take("ana") == 0.0
    assert limiter.take("ana") == pytest.approx(3.0)
    clock.now += 3600
    assert [limiter.take("ana") for _ in range(4)][-1] == pytest.approx(3.0)  # never above burst


def test_a_rate_of_zero_means_no_limit() -> None:
    limiter = RateLimiter(per_minute=0, burst=1, clock=Clock())
    assert {limiter.take("ana") for _ in range(1000)} == {0.0}
    assert len(limiter) == 0


def test_the_number_of_buckets_is_bounded_full_ones_going_first() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock, max_keys=3)
    limiter.take("a")
    limiter.take("a")
    limiter.take("b")
    clock.now += 1.0  # b is full again, a has one token
    limiter.take("c")
    limiter.take("d")  # four buckets: the full ones (b) go
    assert len(limiter) == 3
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(1.0)  # a's state was kept
    limiter.take("e")
    limiter.take("f")  # nothing full: the least recently used go
    assert len(limiter) == 3


def test_a_sender_over_the_rate_gets_a_429_with_retry_after() -> None:
    checked = limits(Clock())
    assert [checked.message_refusal("ana", "hi") for _ in range(3)] == [None, None, None]
    refusal = checked.message_refusal("ana", "hi")
    assert refusal == Refusal(
        429,
        "too many messages from this sender (at most 20 a minute, 3 at once); try again in 3 s",
        retry_after_s=3,
    )
    answer = refusal.response()
    assert (answer.status, answer.body, answer.headers["Retry-After"]) == (
        429,
        b'{"error":"too many messages from this sender (at most 20 a minute, 3 at once); '
        b'try again in 3 s"}',
        "3",
    )


def test_a_message_over_the_length_cap_is_a_413_and_counts_against_the_rate() -> None:
    checked = limits(Clock(), max_message_chars=10)
    assert checked.message_refusal("ana", "x" * 10) is None
    assert checked.message_refusal("ana", "x" * 11) == Refusal(
        413, "the message is longer than 10 characters"
    )
    assert checked.message_refusal("ana", "x") is None
    assert checked.message_refusal("ana", "x").status == 429  # the long one took a token


def test_a_body_over_the_cap_or_announcing_more_is_a_413() -> None:
    checked = limits(Clock(), max_body_bytes=1024)
    assert checked.body_refusal(request(b"x" * 1024)) is None
    too_large = Refusal(413, "the request body is larger than 1024 bytes")
    assert checked.body_refusal(request(b"x" * 1025)) == too_large
    assert checked.body_refusal(request(b"", {"Content-Length": "5000"})) == too_large


def test_inbox_reads_have_a_bucket_of_their_own() -> None:
    checked = limits(Clock(), inbox_rate_per_minute=60)
    for _ in range(3):
        assert checked.message_refusal("ana", "hi") is None
    assert [checked.inbox_refusal("ana") for _ in range(3)] == [None, None, None]
    assert checked.inbox_refusal("ana") == Refusal(
        429,
        "too many inbox reads from this sender (at most 60 a minute, 3 at once); try again in 1 s",
        retry_after_s=1,
    )


def test_a_rate_refusal_is_told_once_per_burst_a_long_message_every_time() -> None:
    clock = Clock()
    checked = limits(clock, burst=1, max_message_chars=5)
    assert checked.message_refusal("ana", "hi") is None
    first = checked.message_refusal("ana", "hi")
    assert first is not None
    assert checked.reply_for("ana", first) == RATE_REPLY
    assert checked.reply_for("ana", checked.message_refusal("ana", "hi")) is None
    clock.now += 3
    assert checked.message_refusal("ana", "hi") is None  # let in again: told again next time
    assert checked.reply_for("ana", checked.message_refusal("ana", "hi")) == RATE_REPLY
    clock.now += 3
    too_long = checked.message_refusal("ana", "x" * 6)
    assert checked.reply_for("ana", too_long) == (
        "That message is too long for me (5 characters at most). "
        "Could you send it in shorter parts?"
    )


def test_replies_can_be_turned_off() -> None:
    checked = limits(Clock(), burst=1, limit_replies=False)
    checked.message_refusal("ana", "hi")
    assert checked.reply_for("ana", checked.message_refusal("ana", "hi")) is None


class Recorder:
    def __init__(self) -> None:
        self.handled: List[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.handled.append(message.text or "")


@pytest.mark.asyncio
async def test_limited_drops_refused_messages_and_tells_the_customer(caplog) -> None:
    handler = Recorder()
    checked = limits(Clock(), burst=2, max_message_chars=20)
    handle = limited(handler, checked)
    output = CollectingOutputChannel()
    for text in ("one", "x" * 21, "three", "four"):
        await handle(UserMessage(text, output, "ana"))
    assert handler.handled == ["one"]
    assert [(m["recipient_id"], m["text"]) for m in output.messages] == [
        (
            "ana",
            "That message is too long for me (20 characters at most). "
            "Could you send it in shorter parts?",
        ),
        ("ana", RATE_REPLY),
    ]
    assert [record.getMessage() for record in caplog.records] == [
        "Dropped a test message from ana: the message is longer than 20 characters.",
        "Dropped a test message from ana: too many messages from this sender "
        "(at most 20 a minute, 2 at once); try again in 3 s.",
        "Dropped a test message from ana: too many messages from this sender "
        "(at most 20 a minute, 2 at once); try again in 3 s.",
    ]


class BrokenOutput(CollectingOutputChannel):
    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        raise OSError("platform down")


@pytest.mark.asyncio
async def test_a_reply_that_cannot_be_sent_is_only_logged(caplog) -> None:
    handle = limited(Recorder(), limits(Clock(), max_message_chars=1))
    assert await handle(UserMessage("too long", BrokenOutput(), "ana")) is None
    assert caplog.records[-1].getMessage() == "Could not tell ana why: platform down"


class Channel(LimitedChannel):
    @classmethod
    def name(cls) -> str:
        return "example"


def test_a_channel_reads_its_limits_once_and_masks_the_logs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHANNEL_RATE_PER_MINUTE", "5")
    channel = Channel()
    made = channel.channel_limits()
    assert (made.channel, made.settings.rate_per_minute, made.settings.burst) == ("example", 5, 10)
    assert log_masking_installed()
    monkeypatch.setenv("CHANNEL_RATE_PER_MINUTE", "7")
    assert channel.channel_limits() is made


def test_invalid_limits_are_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHANNEL_MAX_BODY_BYTES", "100")
    with pytest.raises(ValueError, match="CHANNEL_MAX_BODY_BYTES must be at least 1024, got 100"):
        Channel().channel_limits()


def test_limit_settings_from_the_environment() -> None:
    assert ChannelLimitSettings.from_env({}) == ChannelLimitSettings(
        rate_per_minute=20,
        burst=10,
        inbox_rate_per_minute=60,
        max_message_chars=4000,
        max_body_bytes=65536,
        limit_replies=True,
    )
    assert ChannelLimitSettings.from_env(
        {
            "CHANNEL_RATE_PER_MINUTE": "0",
            "CHANNEL_RATE_BURST": "2",
            "CHANNEL_INBOX_RATE_PER_MINUTE": "30",
            "CHANNEL_MAX_MESSAGE_CHARS": "500",
            "CHANNEL_MAX_BODY_BYTES": "2048",
            "CHANNEL_LIMIT_REPLIES": "off",
            "CHANNEL_RATE_REDIS_URL": " redis://:pw@10.0.0.7:6380/2 ",
        }
    ) == ChannelLimitSettings(0, 2, 30, 500, 2048, False, "redis://:pw@10.0.0.7:6380/2")
    with pytest.raises(ValueError, match="CHANNEL_RATE_BURST must be an integer, got 'lots'"):
        ChannelLimitSettings.from_env({"CHANNEL_RATE_BURST": "lots"})
    for url in ("http://127.0.0.1:6379", "redis://", "redis://host:port/1"):
        with pytest.raises(ValueError, match="CHANNEL_RATE_REDIS_URL"):
            ChannelLimitSettings.from_env({"CHANNEL_RATE_REDIS_URL": url})
