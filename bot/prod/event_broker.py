"""Rasa's RabbitMQ event broker without a deep copy of every event it publishes.

``PikaEventBroker._publish`` deep-copies each event (``remove_parse_data``) to
log it at debug level, before it knows whether debug logging is on and
whether publishing failed. A user event carries the whole NLU parse (intent
ranking, entities) and a message produces about a dozen events: in the
profile of the saturated load run the copies were over a third of the
broker's CPU, 4 % of a Rasa instance.

:class:`LeanPikaEventBroker` (``type:`` in deploy/endpoints.prod.yml)
publishes exactly the messages Rasa's broker publishes (the same body,
headers, app id and persistence, to the same exchange, with publisher
confirms), keeps a failed event for republishing as Rasa's does, and makes
the reduced copy only to log a failure, or a success when debug logging is on.
"""

import logging
from typing import Any, Dict, Optional

import structlog
from rasa.core.brokers.pika import RABBITMQ_EXCHANGE, PikaEventBroker
from rasa.shared.core.events import remove_parse_data

structlogger = structlog.get_logger()


class LeanPikaEventBroker(PikaEventBroker):
    """Rasa's ``PikaEventBroker``, copying an event only to log it."""

    async def _publish(
        self, event: Dict[str, Any], headers: Optional[Dict[str, str]] = None
    ) -> None:
        if self._exchange is None:
            return
        try:
            await self._exchange.publish(self._message(event, headers), "")
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
