"""The socket.io channel on a real Sanic server, with python-socketio as the widget.

The client talks Engine.IO long polling, as the widget does behind the relay.
"""

import asyncio
import contextlib
import json
import logging
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple

import aiohttp
import pytest
import socketio
from rasa.shared.core.events import BotUttered

from bot.channels.limits import RATE_REPLY, TOO_LONG_REPLY, ChannelLimits
from bot.channels.settings import ChannelLimitSettings
from bot.channels.socketio import (
    KeyedSocketIOOutput,
    SocketIOInput,
    malformed_message,
    malformed_session_request,
    socketio_payloads,
)
from tests.bot.channels.harness import FakeAgent, serve

T0 = datetime(2025, 3, 14, 10, 2, 3, 120000, tzinfo=timezone.utc).timestamp()
AT = "2025-03-14T10:02:03.120000+00:00"


def make_channel() -> SocketIOInput:
    return SocketIOInput(
        user_message_evt="user_uttered", bot_message_evt="bot_uttered", session_persistence=True
    )


class Widget:
    """A socket.io client that records what the bot emits to it.

    Its HTTP session closes each connection after its request, so that no
    keep-alive connection outlives the test's server and event loop.
    """

    def __init__(self) -> None:
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        self.client = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, http_session=self.http
        )
        self.received: List[Tuple[str, Any]] = []
        self.client.on("bot_uttered", lambda data: self.received.append(("bot_uttered", data)))
        self.client.on(
            "session_confirm", lambda data: self.received.append(("session_confirm", data))
        )

    def texts(self) -> List[str]:
        return [data["text"] for event, data in self.received if event == "bot_uttered"]

    async def wait(self, condition: Callable[[], bool], seconds: float = 5) -> None:
        for _ in range(int(seconds / 0.05)):
            if condition():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out; received {self.received}")


@contextlib.asynccontextmanager
async def widget_on(channel: SocketIOInput, agent: FakeAgent) -> AsyncIterator[Tuple[Widget, str]]:
    async with serve(channel, agent) as base:
        root = base.split("/webhooks/")[0]
        widget = Widget()
        await widget.client.connect(root, transports=["polling"], socketio_path="/socket.io")
        try:
            await widget.client.emit("session_request", {"session_id": "s1"})
            await widget.wait(lambda: ("session_confirm", "s1") in widget.received)
            yield widget, root
        finally:
            await widget.client.disconnect()
            await widget.http.close()


@pytest.mark.asyncio
async def test_a_message_reaches_the_bot_and_the_reply_the_widget() -> None:
    agent = FakeAgent()
    async with widget_on(make_channel(), agent) as (widget, _):
        await widget.client.emit("user_uttered", {"message": "hello", "session_id": "s1"})
        await widget.wait(lambda: len(widget.texts()) == 1)
    assert agent.texts() == [("s1", "hello", "socketio")]
    assert widget.texts() == ["echo: hello"]


@pytest.mark.asyncio
async def test_malformed_events_are_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    agent = FakeAgent()
    async with widget_on(make_channel(), agent) as (widget, _):
        with caplog.at_level(logging.WARNING, logger="bot.channels.socketio"):
            for data in (
                ["not", "an", "object"],
                {"message": ["x"], "session_id": "s1"},
                {"message": "no session"},
                {"message": "hi", "session_id": {"room": 1}},
                {"message": "hi", "session_id": "s1", "metadata": "{not json"},
                {"message": "hi", "session_id": "s1", "metadata": [1]},
            ):
                await widget.client.emit("user_uttered", data)
            await widget.client.emit("session_request", {"session_id": {"room": 1}})
            await widget.client.emit("session_request", "s2")
            await widget.client.emit(
                "user_uttered", {"message": "still here", "session_id": "s1", "metadata": "{}"}
            )
            await widget.wait(lambda: len(widget.texts()) == 1)
    assert agent.texts() == [("s1", "still here", "socketio")]
    ignored = [r for r in caplog.records if r.name == "bot.channels.socketio"]
    assert [record.getMessage().split(": ", 1)[1] for record in ignored] == [
        "the event's data must be an object.",
        "'message' must be a string.",
        "'session_id' must be a string of 1 to 255 characters without control characters.",
        "'session_id' must be a string of 1 to 255 characters without control characters.",
        "'metadata' must be a JSON object.",
        "'metadata' must be a JSON object.",
        "'session_id' must be a string of 1 to 255 characters without control characters.",
        "the event's data must be an object.",
    ]
    assert [data for event, data in widget.received if event == "session_confirm"] == ["s1"]


@pytest.mark.asyncio
async def test_messages_over_the_limits_do_not_reach_the_bot_and_are_explained() -> None:
    channel = make_channel()
    settings = ChannelLimitSettings(rate_per_minute=1, burst=3, max_message_chars=20)
    channel.limits = ChannelLimits(settings, "socketio")
    agent = FakeAgent()
    async with widget_on(channel, agent) as (widget, _):
        for text in ("one", "x" * 21, "three", "four", "five"):
            await widget.client.emit("user_uttered", {"message": text, "session_id": "s1"})
            await asyncio.sleep(0.1)  # one at a time, in order
        await widget.wait(lambda: len(widget.texts()) == 4)
    assert agent.texts() == [("s1", "one", "socketio"), ("s1", "three", "socketio")]
    assert widget.texts() == [
        "echo: one",
        TOO_LONG_REPLY.format(limit=20),
        "echo: three",
        RATE_REPLY,
    ]


@pytest.mark.asyncio
async def test_engine_io_announces_and_applies_the_body_cap() -> None:
    async with widget_on(make_channel(), FakeAgent()) as (widget, root):
        url = f"{root}/socket.io/?EIO=4&transport=polling"
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as opened:
                handshake = json.loads((await opened.text())[1:])
            sid = widget.client.eio.sid
            async with session.post(f"{url}&sid={sid}", data=b"4" + b"x" * 65536) as posted:
                assert (posted.status, await posted.json()) == (
                    413,
                    {"error": "the request body is larger than 65536 bytes"},
                )
    assert handshake["maxPayload"] == 65536


def test_the_checks_of_event_data() -> None:
    assert malformed_message({"message": "hi", "session_id": "s"}, True, "metadata") is None
    assert malformed_message({"message": "hi"}, False, "metadata") is None
    assert malformed_message({}, False, "metadata") is None  # Rasa reads no message as ""
    assert malformed_message({"message": "\ud800", "session_id": "s"}, True, "metadata") == (
        "'message' is not valid Unicode (it has a lone surrogate)"
    )
    assert malformed_message({"session_id": "a\x00b"}, True, "metadata") == (
        "'session_id' must be a string of 1 to 255 characters without control characters"
    )
    assert malformed_message({"session_id": "s", "meta": '{"a": 1}'}, True, "meta") is None
    assert malformed_session_request(None) is None
    assert malformed_session_request({}) is None
    assert malformed_session_request({"session_id": None}) is None
    assert malformed_session_request({"session_id": "x" * 256}) == (
        "'session_id' must be a string of 1 to 255 characters without control characters"
    )


# --- every bot message's payloads carry its event time ("at") ----------------------------


class RecordingServer:
    """Stands in for python-socketio's server under the output channel."""

    def __init__(self) -> None:
        self.emitted: List[Tuple[str, Any, Any]] = []

    async def emit(self, event: str, data: Any = None, room: Any = None) -> None:
        self.emitted.append((event, data, room))


CARDS = {
    "template_type": "generic",
    "elements": [{"title": "Headphones", "buttons": [{"title": "Like it", "payload": "/up"}]}],
}


@pytest.mark.asyncio
async def test_every_payload_of_a_bot_message_has_its_event_time() -> None:
    sio = RecordingServer()
    event = BotUttered(
        "Here you go.\n\nPick one:",
        data={
            "buttons": [{"title": "Cheaper", "payload": "/cheaper"}],
            "custom": {"data": {"handoff": {"ticket_id": 3, "message_id": 7}}},
            "image": "https://example.com/a.png",
            "attachment": {"type": "template", "payload": CARDS},
        },
        timestamp=T0,
    )
    await KeyedSocketIOOutput(sio, "bot_uttered").send_response("sess-1", event.message())
    assert sio.emitted == [
        ("bot_uttered", {"text": "Here you go.", "quick_replies": [], "at": AT}, "sess-1"),
        (
            "bot_uttered",
            {
                "text": "Pick one:",
                "quick_replies": [
                    {"content_type": "text", "title": "Cheaper", "payload": "/cheaper"}
                ],
                "at": AT,
            },
            "sess-1",
        ),
        ("bot_uttered", {"handoff": {"ticket_id": 3, "message_id": 7}, "at": AT}, "sess-1"),
        (
            "bot_uttered",
            {
                "attachment": {"type": "image", "payload": {"src": "https://example.com/a.png"}},
                "at": AT,
            },
            "sess-1",
        ),
        ("bot_uttered", {"attachment": {"type": "template", "payload": CARDS}, "at": AT}, "sess-1"),
    ]
    # Rasa's event is left as it was (its custom payload gets no "room").
    assert event.data["custom"] == {"data": {"handoff": {"ticket_id": 3, "message_id": 7}}}


@pytest.mark.asyncio
async def test_texts_without_a_message_and_the_next_message_have_no_stale_time() -> None:
    sio = RecordingServer()
    output = KeyedSocketIOOutput(sio, "bot_uttered")
    await output.send_response("s", BotUttered("First", timestamp=T0).message())
    await output.send_text_message("s", "You're sending messages too fast.")
    await output.send_response("s", {"text": "No timestamp"})
    assert [data for _, data, _ in sio.emitted] == [
        {"text": "First", "at": AT},
        {"text": "You're sending messages too fast."},
        {"text": "No timestamp"},
    ]


@pytest.mark.asyncio
async def test_socketio_payloads_are_what_the_channel_emits() -> None:
    message = BotUttered(
        "Hi\n\nthere", data={"custom": {"data": {"kind": "card"}}}, timestamp=T0
    ).message()
    assert await socketio_payloads(message) == [
        {"text": "Hi", "at": AT},
        {"text": "there", "at": AT},
        {"kind": "card", "at": AT},
    ]
    assert message["text"] == "Hi\n\nthere"  # the caller's message is not consumed
    # A custom payload python-socketio cannot emit fails there and here, after the text.
    broken = BotUttered("Look", data={"custom": {"attachment": {}}}, timestamp=T0).message()
    assert await socketio_payloads(broken) == [{"text": "Look", "at": AT}]


@pytest.mark.asyncio
async def test_the_output_channel_for_rasas_http_api_is_keyed() -> None:
    channel = make_channel()
    with pytest.warns(UserWarning, match="SocketIO output channel cannot be recreated"):
        assert channel.get_output_channel() is None  # no server yet

    async def on_new_message(_: Any) -> None:
        return None

    channel.blueprint(on_new_message)
    output = channel.get_output_channel()
    assert type(output) is KeyedSocketIOOutput
    assert (output.sio, output.bot_message_evt) == (channel.sio, "bot_uttered")


def timed(message: Any) -> List[Dict[str, Any]]:
    return [{"text": f"echo: {message.text}", "timestamp": T0}]


@pytest.mark.asyncio
async def test_replies_and_pushed_messages_reach_the_widget_with_their_time() -> None:
    channel = make_channel()
    agent = FakeAgent(timed)
    async with widget_on(channel, agent) as (widget, _):
        await widget.client.emit(
            "user_uttered", {"message": "hello", "session_id": "s1", "metadata": '{"page": 2}'}
        )
        await widget.wait(lambda: len(widget.texts()) == 1)
        pushed: Optional[Any] = channel.get_output_channel()
        assert pushed is not None
        await pushed.send_response("s1", BotUttered("Still there?", timestamp=T0 + 1).message())
        await widget.wait(lambda: len(widget.texts()) == 2)
    later = datetime.fromtimestamp(T0 + 1, tz=timezone.utc).isoformat()
    assert [data for event, data in widget.received if event == "bot_uttered"] == [
        {"text": "echo: hello", "at": AT},
        {"text": "Still there?", "at": later},
    ]
    (message,) = agent.received
    assert (message.sender_id, message.input_channel, message.metadata) == (
        "s1",
        "socketio",
        {"page": 2},
    )
    assert type(message.output_channel) is KeyedSocketIOOutput
