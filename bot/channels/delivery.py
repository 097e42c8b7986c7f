"""Sending to a messaging platform: what happens when its API refuses.

Rasa sends a bot message through an output channel in two situations, and a
platform API that fails (down, timed out, an error status) needs a different
answer in each:

* **Answering a customer's message** (the platform's webhook): the turn has
  already run its actions (a ticket opened, an order looked up), so the
  conversation must be kept even if a reply cannot be delivered. The failure is
  logged as an error and the turn completes; the platform is answered 2xx so it
  does not deliver the message again and run the actions twice.
* **Messages pushed through Rasa's HTTP API** (``POST
  /conversations/{id}/tracker/events?output_channel=latest&execute_side_effects=true``,
  how the handoff service delivers an agent's reply): the failure must reach
  the caller. The output channel raises :class:`PlatformDeliveryError`, Rasa
  answers 500 without saving the events, and the handoff service retries.

:class:`ReportingOutput` implements both. ``InputChannel.get_output_channel()``
(what Rasa's HTTP API calls) returns a strict one; each webhook hands Rasa a
lenient one, directly or through :func:`lenient_handler`.
"""

import asyncio
import logging
from typing import Any, Awaitable, Callable, Coroutine, Dict, Set

from rasa.core.channels.channel import OutputChannel, UserMessage

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class PlatformDeliveryError(Exception):
    """A messaging platform's API did not accept a message."""


class ReportingOutput(OutputChannel):
    """Mixin for a platform's output channel: failures raise or are logged.

    Put it first among the bases (``class X(ReportingOutput, RasaOutput)``) so
    that its :meth:`send_response` wraps the platform's.

    Attributes:
        strict: Whether a failed send raises :class:`PlatformDeliveryError`
            (True, the default) or is logged and skipped (False).
    """

    strict: bool = True

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """Send one bot message; see the class for what a failure does.

        Raises:
            PlatformDeliveryError: If the platform refused it and the channel is strict.
        """
        try:
            await self.deliver(recipient_id, message)
        except Exception as exc:  # aiohttp, requests, aiogram, slack_sdk and twilio all differ
            if self.strict:
                raise PlatformDeliveryError(
                    f"{self.name()} did not accept a message for {recipient_id}: {exc}"
                ) from exc
            logger.error(
                "%s did not accept a message for %s; the conversation goes on without it: %s",
                self.name(),
                recipient_id,
                exc,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )

    async def deliver(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """Send one bot message with the platform's own channel, errors propagating."""
        await super().send_response(recipient_id, message)


def lenient(output: OutputChannel) -> OutputChannel:
    """Make a :class:`ReportingOutput` log failures instead of raising; return it."""
    if isinstance(output, ReportingOutput):
        output.strict = False
    return output


def lenient_handler(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wrap Rasa's message handler so that the message's output channel is lenient.

    For connectors whose webhook code builds the output channel itself (Slack).
    """

    async def handle(message: UserMessage) -> Any:
        lenient(message.output_channel)
        return await on_new_message(message)

    return handle


class BackgroundTurns:
    """Runs customer messages after the webhook has answered the platform.

    Platforms that resend a message unless their webhook answers within a few
    seconds (Messenger) get their 200 at once; a reference to each task is kept
    until it ends, and a failure is logged.
    """

    def __init__(self, platform: str) -> None:
        self._platform = platform
        self._tasks: Set[asyncio.Task] = set()

    def start(self, turn: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Schedule ``turn`` on the running loop and return its task."""
        task = asyncio.ensure_future(turn)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Handling a %s message failed.", self._platform, exc_info=task.exception())

    async def join(self) -> None:
        """Wait for the tasks running now (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
