"""Channels of production mode: a failed message is reported, never silently dropped.

Rasa's REST channel answers ``200 []`` when handling a message raised (the
tracker store or the lock store is down): the client cannot tell "no reply"
from "not processed". :class:`ProductionRestInput`, the project's REST channel
(handoff inbox, body checks and limits of :mod:`bot.channels.rest`), answers
such a message with ``503 {"error": ASSISTANT_UNAVAILABLE}`` and
``Retry-After``, so the client sends it again.
Over socket.io, where the customer is a person at a web widget,
:class:`ProductionSocketIOInput` (the project's checked socket.io channel)
sends the same sentence as a bot message.
Both make the tracker store strict once Rasa has loaded the agent (see
:mod:`bot.prod.tracker_store`): without that, Rasa would answer from an empty
in-memory conversation while the database is down.

In ``deploy/credentials.prod.yml``::

    bot.prod.channels.ProductionRestInput:
    bot.prod.channels.ProductionSocketIOInput:
      user_message_evt: user_uttered
      ...
"""

import logging
from asyncio import CancelledError
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.rest import CHANNEL_NAME, HandoffRestInput, WebhookMessage
from bot.channels.socketio import SocketIOInput
from bot.prod.action_endpoint import close_action_endpoint_on_stop
from bot.prod.garbage_collection import freeze_heap_on_start
from bot.prod.messages import ASSISTANT_UNAVAILABLE, RETRY_AFTER_S
from bot.prod.model_reload import (
    AGENT_ADJUSTMENTS,
    readjust_after_model_load_on_start,
    retire_now_on_stop,
)

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def add_production_listeners(blueprint: Blueprint) -> None:
    """Add the listeners that adjust Rasa once it has started, and close on stop.

    They make the tracker store strict, check action responses with a validator
    built once, keep action calls alive, run the graph without dask (the same
    again for a model loaded through ``PUT /model``) and, last, keep what was
    loaded out of garbage collections. Each is idempotent, so both production
    channels add them.
    """
    for adjustment in AGENT_ADJUSTMENTS:
        blueprint.listener("after_server_start")(adjustment)
    blueprint.listener("after_server_start")(readjust_after_model_load_on_start)
    blueprint.listener("after_server_start")(freeze_heap_on_start)
    blueprint.listener("before_server_stop")(close_action_endpoint_on_stop)
    blueprint.listener("before_server_stop")(retire_now_on_stop)


def unavailable() -> HTTPResponse:
    """Return the 503 telling a client its message was not processed."""
    return response.json(
        {"error": ASSISTANT_UNAVAILABLE},
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


class ProductionRestInput(HandoffRestInput):
    """The project's REST channel (inbox, checks and limits); failures are 503s."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Return ``GET /``, ``POST /webhook`` and ``GET /inbox/<sender_id>``."""
        self.channel_limits()  # a bad CHANNEL_* variable fails the start
        blueprint = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        add_production_listeners(blueprint)

        @blueprint.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self.receive(request, on_new_message)

        @blueprint.route("/inbox/<sender_id>", methods=["GET"], unquote=True)
        async def inbox(request: Request, sender_id: str) -> HTTPResponse:
            return await self.inbox(request, sender_id)

        return blueprint

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Handle one customer message.

        Returns:
            200 with the bot's messages; the project channel's 400, 413 or 429
            for a malformed, oversized or too frequent message; 503 when the
            message could not be processed (nothing of it was kept: resend it).
        """
        refusal = self.check_webhook(request)
        if refusal is not None:
            return refusal
        message = WebhookMessage.parse(request.body or b"")
        collector = CollectingOutputChannel()
        try:
            await on_new_message(
                UserMessage(
                    message.message,
                    collector,
                    message.sender,
                    input_channel=CHANNEL_NAME,
                    metadata=message.metadata,
                )
            )
        except CancelledError:
            logger.error("Handling a message of %r was cancelled (timeout).", message.sender)
            return unavailable()
        except Exception:  # the stores raise anything from OSError to driver errors
            logger.exception("Handling a message of %r failed.", message.sender)
            return unavailable()
        return response.json(collector.messages)


def graceful(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wrap Rasa's message handler so that a failure is told to the customer.

    Args:
        on_new_message: Rasa's handler.

    Returns:
        A handler that, when Rasa's raises, logs it and sends
        :data:`ASSISTANT_UNAVAILABLE` through the message's output channel.
    """

    async def handle(message: UserMessage) -> None:
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("Handling a message of %r failed.", message.sender_id)
            await message.output_channel.send_text_message(message.sender_id, ASSISTANT_UNAVAILABLE)

    return handle


class ProductionSocketIOInput(SocketIOInput):
    """The project's socket.io channel; a failed message gets a bot message saying so."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Return the project channel's blueprint around :func:`graceful`."""
        blueprint = super().blueprint(graceful(on_new_message))
        add_production_listeners(blueprint)
        return blueprint
