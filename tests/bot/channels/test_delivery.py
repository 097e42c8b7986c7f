"""Strict and lenient output channels, and turns run after the webhook answered."""

import asyncio
import logging
from typing import Any, Dict, List

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels.delivery import (
    BackgroundTurns,
    PlatformDeliveryError,
    ReportingOutput,
    lenient,
    lenient_handler,
)


class FlakyOutput(ReportingOutput):
    """Sends text messages to a list, or fails with ``error``."""

    def __init__(self, error: Exception = None) -> None:  # type: ignore[assignment]
        self.error = error
        self.sent: List[tuple] = []

    @classmethod
    def name(cls) -> str:
        return "flaky"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append((recipient_id, text))


@pytest.mark.asyncio
async def test_a_working_channel_sends_through_rasas_dispatch() -> None:
    output = FlakyOutput()
    await output.send_response("c1", {"text": "hello", "metadata": {"handoff": {}}})
    assert output.sent == [("c1", "hello")]


@pytest.mark.asyncio
async def test_a_strict_channel_raises_and_a_lenient_one_logs(caplog) -> None:
    cause = ConnectionError("connection refused")
    strict = FlakyOutput(cause)
    with pytest.raises(PlatformDeliveryError, match="flaky did not accept a message for c1") as e:
        await strict.send_response("c1", {"text": "hello"})
    assert e.value.__cause__ is cause
    relaxed = lenient(FlakyOutput(cause))
    with caplog.at_level(logging.ERROR, logger="bot.channels.delivery"):
        await relaxed.send_response("c1", {"text": "hello"})
    assert caplog.messages == [
        "flaky did not accept a message for c1; the conversation goes on without it: "
        "connection refused"
    ]


@pytest.mark.asyncio
async def test_lenient_handler_relaxes_the_messages_channel_and_leaves_others_alone() -> None:
    seen: List[Dict[str, Any]] = []

    async def on_new_message(message: UserMessage) -> None:
        seen.append({"strict": getattr(message.output_channel, "strict", None)})

    handle = lenient_handler(on_new_message)
    await handle(UserMessage("hi", FlakyOutput(), "c1"))
    await handle(UserMessage("hi", CollectingOutputChannel(), "c2"))
    assert seen == [{"strict": False}, {"strict": None}]


@pytest.mark.asyncio
async def test_background_turns_log_failures_and_can_be_joined(caplog) -> None:
    turns = BackgroundTurns("facebook")
    done: List[str] = []

    async def works() -> None:
        await asyncio.sleep(0.01)
        done.append("ok")

    async def fails() -> None:
        raise KeyError("attachments")

    with caplog.at_level(logging.ERROR, logger="bot.channels.delivery"):
        turns.start(works())
        turns.start(fails())
        await turns.join()
        await asyncio.sleep(0)  # let the done callbacks run
    assert done == ["ok"]
    assert caplog.messages == ["Handling a facebook message failed."]
