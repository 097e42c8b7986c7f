"""The lean event broker against Rasa's, over the local RabbitMQ.

Each test that needs RabbitMQ skips, saying why, when it is not running.
"""

import asyncio
import json
import logging
import socket
import uuid
from typing import Any, Dict, Iterator, List, Type

import aio_pika
import pytest
import structlog.testing
from rasa.core.brokers.pika import PikaEventBroker
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot.prod import event_broker as lean
from bot.prod.event_broker import LeanPikaEventBroker

URL = "amqp://guest:guest@127.0.0.1:5672"
PARSE = {
    "text": "where is my order 10423?",
    "intent": {"name": "order_status", "confidence": 0.97},
    "entities": [{"entity": "order_id", "value": "10423", "start": 18, "end": 23}],
    "intent_ranking": [{"name": "order_status", "confidence": 0.97}],
}
EVENTS = [
    UserUttered(PARSE["text"], PARSE["intent"], PARSE["entities"], PARSE, timestamp=1.0),
    ActionExecuted("action_order_status", timestamp=2.0),
    SlotSet("order_id", "10423", timestamp=3.0),
    BotUttered("Order 10423 is on its way.", {"buttons": None}, timestamp=4.0),
]


def rabbitmq_running() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 5672)) == 0


pytestmark = pytest.mark.skipif(
    not rabbitmq_running(), reason="no RabbitMQ on 127.0.0.1:5672 (see README, production mode)"
)


@pytest.fixture
def names() -> Iterator[Dict[str, str]]:
    """A private exchange and queue, deleted afterwards."""
    suffix = uuid.uuid4().hex[:12]
    names = {"exchange": f"test-ex-{suffix}", "queue": f"test-q-{suffix}"}
    yield names

    async def delete() -> None:
        connection = await aio_pika.connect(URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(names["queue"])
            await channel.exchange_delete(names["exchange"])

    asyncio.run(delete())


async def connected(
    names: Dict[str, str], broker_class: Type[PikaEventBroker] = LeanPikaEventBroker, **kwargs: Any
) -> PikaEventBroker:
    """A broker of ``broker_class`` connected to the private exchange and queue."""
    broker = broker_class(
        "127.0.0.1",
        "guest",
        "guest",
        queues=[names["queue"]],
        exchange_name=names["exchange"],
        **kwargs,
    )
    await broker.connect()
    return broker


async def read_queue(names: Dict[str, str]) -> List[aio_pika.IncomingMessage]:
    """Every message in the private queue, taken off it."""
    connection = await aio_pika.connect(URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(names["queue"])
        messages = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            messages.append(message)
    return messages


async def publish_and_read(
    broker_class: Type[PikaEventBroker], names: Dict[str, str]
) -> List[aio_pika.IncomingMessage]:
    broker = await connected(names, broker_class)
    for event in EVENTS:
        broker.publish({"sender_id": "ana", **event.as_dict()}, headers={"trace": "t-1"})
    while broker._background_tasks:  # every publish confirmed
        await asyncio.sleep(0.01)
    await broker.close()
    return await read_queue(names)


def summary(message: aio_pika.IncomingMessage) -> Dict[str, Any]:
    return {
        "body": json.loads(message.body),
        "headers": message.headers,
        "app_id": message.app_id,
        "delivery_mode": message.delivery_mode,
        "exchange": message.exchange,
    }


@pytest.mark.asyncio
async def test_publishes_exactly_the_messages_rasas_broker_publishes(
    names: Dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RASA_ENVIRONMENT", "production")
    rasas = await publish_and_read(PikaEventBroker, names)
    ours = await publish_and_read(LeanPikaEventBroker, names)
    assert [summary(m) for m in ours] == [summary(m) for m in rasas]
    assert [summary(m)["body"]["event"] for m in ours] == ["user", "action", "slot", "bot"]
    parse = summary(ours[0])["body"]["parse_data"]  # nothing reduced
    assert parse["intent_ranking"] == PARSE["intent_ranking"]
    assert parse["entities"] == PARSE["entities"]
    assert summary(ours[0])["app_id"] == "production"
    assert summary(ours[0])["delivery_mode"] == aio_pika.DeliveryMode.PERSISTENT


@pytest.mark.asyncio
async def test_copies_an_event_only_to_log_it(
    names: Dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copied: List[Dict[str, Any]] = []

    def spy(event: Dict[str, Any]) -> Dict[str, Any]:
        copied.append(event)
        return {k: v for k, v in event.items() if k != "parse_data"}

    monkeypatch.setattr(lean, "remove_parse_data", spy)
    rasa_logger = logging.getLogger("rasa")
    level = rasa_logger.level
    try:
        rasa_logger.setLevel(logging.INFO)
        assert len(await publish_and_read(LeanPikaEventBroker, names)) == len(EVENTS)
        assert copied == []

        rasa_logger.setLevel(logging.DEBUG)
        assert len(await publish_and_read(LeanPikaEventBroker, names)) == len(EVENTS)
        assert [event["event"] for event in copied] == ["user", "action", "slot", "bot"]
    finally:
        rasa_logger.setLevel(level)


class _FailingChannel:
    async def basic_publish(self, body: bytes, **kwargs: Any) -> None:
        raise ConnectionError("RabbitMQ went away")


class _FailingExchange:
    name = "rasa-exchange"
    channel = _FailingChannel()


@pytest.mark.asyncio
async def test_a_failed_publish_is_logged_reduced_and_kept_for_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copied: List[Dict[str, Any]] = []
    monkeypatch.setattr(lean, "remove_parse_data", lambda event: copied.append(event) or {})
    broker = LeanPikaEventBroker("127.0.0.1", "guest", "guest", queues=["unused"])
    broker._exchange = _FailingExchange()
    event = {"sender_id": "ana", **EVENTS[0].as_dict()}
    await broker._publish(event)
    assert list(broker._unpublished_events) == [event]
    assert copied == [event]

    broker.should_keep_unpublished_messages = False
    broker.raise_on_failure = True
    with pytest.raises(ConnectionError, match="went away"):
        await broker._publish(event)
    assert list(broker._unpublished_events) == [event]


def channel_tags(broker: PikaEventBroker) -> int:
    """Frames published so far, over every channel of the broker."""
    channels = [broker._exchange.channel]
    channels += [c.channel for c in getattr(broker, "_channels", [])]
    return sum(channel.delivery_tag for channel in channels)


async def publish_in_turns(
    broker_class: Type[PikaEventBroker], names: Dict[str, str], events: List[Dict[str, Any]]
) -> int:
    """Publishes ``events`` at once; how many went out within ten turns of the loop."""
    broker = await connected(names, broker_class)
    start = channel_tags(broker)
    for event in events:
        broker.publish(event)
    for _ in range(10):
        await asyncio.sleep(0)
    sent = channel_tags(broker) - start
    while broker._background_tasks:
        await asyncio.sleep(0.01)
    await broker.close()
    return sent


@pytest.mark.asyncio
async def test_a_burst_goes_out_in_fewer_turns_and_conversations_stay_in_order(
    names: Dict[str, str],
) -> None:
    events = [
        {"sender_id": f"conv-{i % 20}", "event": "action", "name": f"step-{i // 20}"}
        for i in range(400)
    ]
    rasas = await publish_in_turns(PikaEventBroker, names, events)
    ours = await publish_in_turns(LeanPikaEventBroker, names, events)
    # Rasa's broker needs about three turns per publish; this one publishes on
    # four channels, each without waiting for the socket write.
    assert rasas <= 5
    assert ours >= 10 * rasas

    received = [json.loads(message.body) for message in await read_queue(names)]
    ours_received = received[len(events) :]  # after the messages of Rasa's broker
    assert sorted(map(json.dumps, ours_received)) == sorted(map(json.dumps, events))
    for sender in {event["sender_id"] for event in events}:
        sent = [e["name"] for e in events if e["sender_id"] == sender]
        assert [e["name"] for e in ours_received if e["sender_id"] == sender] == sent


# -- at most max_held_events in memory; closing finishes what is under way -----------


def numbered(count: int) -> List[Dict[str, Any]]:
    return [
        {"sender_id": "ana", "event": "action", "name": f"step-{i}", "timestamp": 100.0 + i}
        for i in range(count)
    ]


async def received(names: Dict[str, str]) -> List[str]:
    """The names of the events in the private queue, taken off it."""
    return [json.loads(message.body)["name"] for message in await read_queue(names)]


def dropped_logs(logs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [
        {k: v for k, v in entry.items() if k not in ("event_info", "host", "log_level")}
        for entry in logs
        if entry["event"] == "pika.events.dropped"
    ]


@pytest.mark.asyncio
async def test_beyond_the_limit_events_are_dropped_and_logged_with_their_time_range(
    names: Dict[str, str],
) -> None:
    events = numbered(11)
    broker = await connected(names, max_held_events=3)
    with structlog.testing.capture_logs() as logs:
        for event in events[:10]:  # at once: none is published before the fourth
            broker.publish(event)
        assert broker.held_events == 3
        while broker._background_tasks:
            await asyncio.sleep(0.01)
        broker.publish(events[10])  # room again: published, and the drops summed up
        await broker.close()
    assert await received(names) == ["step-0", "step-1", "step-2", "step-10"]
    assert dropped_logs(logs) == [
        {"event": "pika.events.dropped", "max_held_events": 3},
        {
            "event": "pika.events.dropped",
            "dropped": 7,
            "minimum_timestamp": 103.0,
            "maximum_timestamp": 109.00000000000001,
        },
    ]
    assert logs[-1]["event_info"] == (
        "7 events were not published; publish them again from the tracker store with "
        "rasa export --minimum-timestamp 103.0 --maximum-timestamp 109.00000000000001"
    )


@pytest.mark.asyncio
async def test_failed_events_kept_for_later_count_towards_the_limit() -> None:
    broker = LeanPikaEventBroker(
        "127.0.0.1", "guest", "guest", queues=["unused"], max_held_events=3
    )
    broker._exchange = _FailingExchange()
    events = numbered(5)
    with structlog.testing.capture_logs() as logs:
        for event in events[:3]:
            broker.publish(event)
        while broker._background_tasks:
            await asyncio.sleep(0.01)
        assert list(broker._unpublished_events) == events[:3]
        for event in events[3:]:
            broker.publish(event)
        assert broker.held_events == 3
        await broker.close()  # not connected: only the summary
    assert list(broker._unpublished_events) == events[:3]
    assert dropped_logs(logs)[-1] == {
        "event": "pika.events.dropped",
        "dropped": 2,
        "minimum_timestamp": 103.0,
        "maximum_timestamp": 104.00000000000001,
    }


@pytest.mark.asyncio
async def test_rasa_export_has_no_limit(names: Dict[str, str]) -> None:
    broker = await connected(names, max_held_events=3)
    broker.raise_on_failure = True  # as rasa export sets it
    for event in numbered(10):
        broker.publish(event)
    await broker.close()
    assert await received(names) == [f"step-{i}" for i in range(10)]


@pytest.mark.asyncio
async def test_closing_publishes_what_is_under_way_first(names: Dict[str, str]) -> None:
    broker = await connected(names)
    events = numbered(300)
    for event in events:
        broker.publish(event)
    await broker.close()  # at once: Rasa's broker would close the connection under them
    assert await received(names) == [event["name"] for event in events]


@pytest.mark.parametrize("limit", [0, -1, "many", "", True, 2.5, None])
def test_the_limit_must_be_a_positive_whole_number(limit: Any) -> None:
    with pytest.raises(ValueError, match="max_held_events must be a whole number"):
        LeanPikaEventBroker("127.0.0.1", "guest", "guest", queues=["q"], max_held_events=limit)


@pytest.mark.asyncio
async def test_the_limit_may_come_from_an_environment_variable_in_the_endpoints() -> None:
    broker = LeanPikaEventBroker("127.0.0.1", "guest", "guest", queues=["q"], max_held_events="500")
    assert broker.max_held_events == 500
    assert broker._unpublished_events.maxlen == 500
