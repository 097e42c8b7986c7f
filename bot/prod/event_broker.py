"""Rasa's RabbitMQ event broker, able to keep up with a busy Rasa instance.

``PikaEventBroker._publish`` deep-copies each event (``remove_parse_data``) to
log it at debug level, before it knows whether debug logging is on and
whether publishing failed. A user event carries the whole NLU parse (intent
ranking, entities) and a message produces about a dozen events: in the
profile of the saturated load run the copies were over a third of the
broker's CPU, 4 % of a Rasa instance.

Rasa publishes each event in a task of its own, on one channel, and aio_pika
holds the channel's lock from queueing the event's frame until the
connection's writer task has written it to the socket: each publish takes
several turns of the event loop, one after the other. On a busy instance the
turns are few (the intent classifier runs in the loop), and under the
saturated load of ``make bench-load`` the publishes fell behind: 19,000
waiting tasks after a minute, growing without bound, their frames and futures
walked by every garbage collection.

:class:`LeanPikaEventBroker` (``type:`` in deploy/endpoints.prod.yml)
publishes exactly the messages Rasa's broker publishes (the same body,
headers, app id and persistence, to the same exchange, mandatory, each with
its publisher confirm awaited), but

* queues a frame without holding the lock until the socket write (aiormq's
  ``wait=False``), so a channel takes a publish per turn of the loop;
* spreads the conversations over ``CHANNELS`` channels of the connection, by
  sender, so that several publishes go out per turn while one conversation's
  events stay in order (one channel publishes in the order it was asked to);
* makes the reduced copy of an event only to log a failure, or a success when
  debug logging is on.

A failed event is kept for republishing, as Rasa's broker does.

Rasa's broker holds every event it has not published yet in memory, without a
limit: the publishes waiting for their turn (under sustained saturation they
pile up faster than they go out) and the failed ones kept for when RabbitMQ is
back. This one holds at most ``max_held_events`` (``max_held_events:`` in the
endpoint's configuration): beyond that, an event is not published, which is
logged as an error (``pika.events.dropped``, once when it starts and once,
with how many and their time range, when there is room again). Nothing is lost
for good: the tracker store has every event, and ``rasa export`` with the
logged ``--minimum-timestamp`` and ``--maximum-timestamp`` publishes them
again. The customers' conversations never wait for the broker. With
``raise_on_failure``, which ``rasa export`` sets, there is no limit, as in
Rasa's broker: the export stops at the first failure, naming the timestamp to
go on from. Closing waits for the publishes under way while they make
progress (Rasa's broker closes the connection under them).
"""

import asyncio
import logging
import math
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import structlog
from aio_pika.abc import AbstractRobustChannel
from rasa.core.brokers.pika import RABBITMQ_EXCHANGE, PikaEventBroker
from rasa.shared.core.events import remove_parse_data

from bot.prod.settings import MAX_HELD_EVENTS

structlogger = structlog.get_logger()

RESUME_BELOW = 0.9
"""After dropping, publishing resumes once fewer than this share of the limit is held."""

CLOSE_WAIT_S = 10.0
"""How long closing waits for the publishes under way to make progress before giving up."""


@dataclass
class DroppedEvents:
    """The events not published since the broker last had room."""

    count: int = 0
    first_timestamp: Optional[float] = None
    last_timestamp: Optional[float] = None

    def add(self, event: Dict[str, Any]) -> None:
        """Count ``event`` and widen the time range by its timestamp."""
        self.count += 1
        timestamp = event.get("timestamp")
        if isinstance(timestamp, (int, float)):
            if self.first_timestamp is None or timestamp < self.first_timestamp:
                self.first_timestamp = float(timestamp)
            if self.last_timestamp is None or timestamp > self.last_timestamp:
                self.last_timestamp = float(timestamp)


class LeanPikaEventBroker(PikaEventBroker):
    """Rasa's ``PikaEventBroker``, publishing on several channels without waiting turns."""

    CHANNELS = 4
    """Channels the conversations are spread over."""

    def __init__(self, *args: Any, max_held_events: int = MAX_HELD_EVENTS, **kwargs: Any) -> None:
        """Takes Rasa's ``PikaEventBroker`` arguments.

        Args:
            *args: Rasa's positional arguments (host, username, password).
            max_held_events: Events held in memory at most, waiting to be
                published or kept after a failure; more are dropped and logged.
            **kwargs: Rasa's keyword arguments.

        Raises:
            ValueError: ``max_held_events`` is not a positive whole number (an
                environment variable substituted in the YAML is a string of one).
        """
        limit = _positive_whole_number(max_held_events)
        super().__init__(*args, **kwargs)
        self.max_held_events = limit
        self._unpublished_events = deque(self._unpublished_events, maxlen=limit)
        self._channels: List[AbstractRobustChannel] = []
        self._dropped: Optional[DroppedEvents] = None

    @property
    def held_events(self) -> int:
        """Events waiting to be published or kept for republishing."""
        return len(self._background_tasks) + len(self._unpublished_events)

    def publish(self, event: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> None:
        """Publish ``event`` in the background, as Rasa does, if fewer than the limit are held.

        Args:
            event: The serialised event.
            headers: Message headers, as for Rasa's broker.
        """
        held = self.held_events
        if self._dropped is not None and held < self.max_held_events * RESUME_BELOW:
            self._stop_dropping()
        if self._dropped is None and held >= self.max_held_events and not self.raise_on_failure:
            self._dropped = DroppedEvents()
            structlogger.error(
                "pika.events.dropped",
                event_info=(
                    f"{held} events are waiting to be published; more are not published "
                    "until there is room (the tracker store keeps them)"
                ),
                max_held_events=self.max_held_events,
                host=self.host,
            )
        if self._dropped is not None:
            self._dropped.add(event)
            return
        super().publish(event, headers)

    def _stop_dropping(self) -> None:
        """Log what was dropped since dropping started, if it did, and publish again."""
        dropped, self._dropped = self._dropped, None
        if dropped is None:
            return
        # rasa export's maximum is exclusive: the next float after the last one.
        last = dropped.last_timestamp
        maximum = math.nextafter(last, math.inf) if last is not None else None
        structlogger.error(
            "pika.events.dropped",
            event_info=(
                f"{dropped.count} events were not published; publish them again from "
                "the tracker store with rasa export --minimum-timestamp "
                f"{dropped.first_timestamp} --maximum-timestamp {maximum}"
            ),
            dropped=dropped.count,
            minimum_timestamp=dropped.first_timestamp,
            maximum_timestamp=maximum,
            host=self.host,
        )

    async def close(self) -> None:
        """Close as Rasa does, once the publishes under way are done.

        Rasa's broker closes the connection under them, losing their events.
        This waits while they make progress, giving up after ``CLOSE_WAIT_S``
        without any, and logs what was dropped, if anything.
        """
        while self._background_tasks:
            waiting = len(self._background_tasks)
            await asyncio.wait(set(self._background_tasks), timeout=CLOSE_WAIT_S)
            if len(self._background_tasks) >= waiting:
                structlogger.error(
                    "pika.events.close.unfinished",
                    event_info=f"{waiting} events were still being published",
                    host=self.host,
                )
                break
        self._stop_dropping()
        await super().close()

    async def connect(self) -> None:
        """Connect as Rasa does (one channel, the exchange, the queues), then open the others."""
        await super().connect()
        assert self._connection is not None
        self._channels = [await self._connection.channel() for _ in range(self.CHANNELS - 1)]

    def _channel_for(self, event: Dict[str, Any]) -> Any:
        """The aiormq channel of the event's conversation (the exchange's for the first)."""
        assert self._exchange is not None
        sender = str(event.get("sender_id", "")).encode("utf-8", "replace")
        index = zlib.crc32(sender) % self.CHANNELS
        if index == 0 or index > len(self._channels):
            return self._exchange.channel
        return self._channels[index - 1].channel

    async def _publish(
        self, event: Dict[str, Any], headers: Optional[Dict[str, str]] = None
    ) -> None:
        if self._exchange is None:
            return
        try:
            message = self._message(event, headers)
            # aio_pika's Exchange.publish, on the conversation's channel, except
            # that the frame is not waited for until it is written to the
            # socket (wait=False) while the channel's lock is held.
            await self._channel_for(event).basic_publish(
                message.body,
                exchange=self._exchange.name,
                routing_key="",
                properties=message.properties,
                mandatory=True,
                wait=False,
            )
        except Exception:
            structlogger.error(
                "pika.events.publish.failed",
                event_info="Logging a reduced version of the failed Pika event",
                host=self.host,
                rasa_event=remove_parse_data(event),
            )
            if self.should_keep_unpublished_messages:
                self._unpublished_events.append(event)
            if self.raise_on_failure:
                await self.close()
                raise
            return
        if _debug_logging():
            structlogger.debug(
                "pika.events.publish",
                event_info="Logging a reduced version of the Pika event",
                rabbitmq_exchange=RABBITMQ_EXCHANGE,
                host=self.host,
                rasa_event=remove_parse_data(event),
            )


def _debug_logging() -> bool:
    # Rasa sets structlog's level and the "rasa" logger's from one setting
    # (rasa.utils.log_utils.configure_structlog, rasa.utils.common.set_log_level).
    return logging.getLogger("rasa").isEnabledFor(logging.DEBUG)


def _positive_whole_number(value: Any) -> int:
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise ValueError(f"max_held_events must be a whole number of at least 1, got {value!r}")
    return int(text)
