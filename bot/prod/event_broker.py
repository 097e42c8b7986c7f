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
"""

import logging
import zlib
from typing import Any, Dict, List, Optional

import structlog
from aio_pika.abc import AbstractRobustChannel
from rasa.core.brokers.pika import RABBITMQ_EXCHANGE, PikaEventBroker
from rasa.shared.core.events import remove_parse_data

structlogger = structlog.get_logger()


class LeanPikaEventBroker(PikaEventBroker):
    """Rasa's ``PikaEventBroker``, publishing on several channels without waiting turns."""

    CHANNELS = 4
    """Channels the conversations are spread over."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Takes Rasa's ``PikaEventBroker`` arguments."""
        super().__init__(*args, **kwargs)
        self._channels: List[AbstractRobustChannel] = []

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
