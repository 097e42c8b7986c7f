import json
from typing import Any, Dict, List

import jsonschema
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.shared.core.events import BotUttered, Event, SlotSet
from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

from bot.handoff.rasa_gateway import HttpRasaGateway, OutboundMessage, RasaUnavailable


class FakeRasa:
    """Rasa's tracker-events endpoint: records requests, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: List[Dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            {
                # As Rasa's server (Sanic) sees it: the path is not %-decoded.
                "conversation_id": request.raw_path.split("/")[2],
                "query": dict(request.query),
                "body": json.loads(await request.read()),
            }
        )
        return web.json_response({"sender_id": "x"}, status=self.status)


async def start(rasa: FakeRasa) -> TestServer:
    app = web.Application()
    app.router.add_post("/conversations/{conversation_id}/tracker/events", rasa.handle)
    server = TestServer(app)
    await server.start_server()
    return server


TWILIO_ID = "whatsapp:+436601234567"


def reply(conversation_id: str = TWILIO_ID) -> OutboundMessage:
    return OutboundMessage(7, 3, conversation_id, "reply", "Hello <b>there</b>", "Dana")


@pytest.mark.asyncio
async def test_events_are_posted_to_the_conversation() -> None:
    rasa = FakeRasa()
    server = await start(rasa)
    gateway = HttpRasaGateway(str(server.make_url("")), token="t0k3n")
    try:
        await gateway.append_events(TWILIO_ID, reply().rasa_events())
    finally:
        await gateway.close()
        await server.close()

    assert rasa.requests == [
        {
            "conversation_id": TWILIO_ID,
            "query": {"output_channel": "latest", "execute_side_effects": "true", "token": "t0k3n"},
            "body": [
                {
                    "event": "bot",
                    "text": "Hello <b>there</b>",
                    "metadata": {"handoff": {"ticket_id": 3, "message_id": 7, "agent": "Dana"}},
                }
            ],
        }
    ]
    assert gateway.url_for(TWILIO_ID).endswith(
        "/conversations/whatsapp:+436601234567/tracker/events"
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("conversation_id", ["web user 7", "a?b", "a#b", "café", ""])
async def test_ids_rasa_cannot_address_are_refused_not_sent_elsewhere(
    conversation_id: str,
) -> None:
    rasa = FakeRasa()
    server = await start(rasa)
    gateway = HttpRasaGateway(str(server.make_url("")))
    try:
        with pytest.raises(RasaUnavailable, match="cannot be addressed through Rasa's HTTP API"):
            await gateway.append_events(conversation_id, reply(conversation_id).rasa_events())
    finally:
        await gateway.close()
        await server.close()

    assert rasa.requests == []


@pytest.mark.asyncio
async def test_no_token_is_sent_unless_configured() -> None:
    rasa = FakeRasa()
    server = await start(rasa)
    gateway = HttpRasaGateway(str(server.make_url("")))
    try:
        await gateway.append_events("c", [])
    finally:
        await gateway.close()
        await server.close()

    assert rasa.requests[0]["query"] == {"output_channel": "latest", "execute_side_effects": "true"}


@pytest.mark.asyncio
async def test_an_error_status_is_reported() -> None:
    server = await start(FakeRasa(status=500))
    gateway = HttpRasaGateway(str(server.make_url("")))
    try:
        with pytest.raises(RasaUnavailable, match='Rasa answered 500: {"sender_id": "x"}'):
            await gateway.append_events("c", [])
    finally:
        await gateway.close()
        await server.close()


@pytest.mark.asyncio
async def test_an_unreachable_rasa_is_reported() -> None:
    gateway = HttpRasaGateway("http://127.0.0.1:1", timeout_s=2)
    try:
        with pytest.raises(RasaUnavailable, match="Rasa is unreachable"):
            await gateway.append_events("c", [])
    finally:
        await gateway.close()


def test_hand_back_and_close_events() -> None:
    handback = OutboundMessage(8, 3, "c", "handback", "Back to the bot", "Dana")
    close = OutboundMessage(9, 3, "c", "close", "Closed", "Dana")

    assert handback.rasa_events() == [
        {"event": "slot", "name": "handoff_active", "value": False},
        {"event": "slot", "name": "handoff_ticket_id", "value": None},
        {
            "event": "bot",
            "text": "Back to the bot",
            "metadata": {"handoff": {"ticket_id": 3, "message_id": 8, "handback": True}},
        },
    ]
    assert close.rasa_events()[2] == {
        "event": "bot",
        "text": "Closed",
        "metadata": {"handoff": {"ticket_id": 3, "message_id": 9, "closed": True}},
    }


def test_rasa_accepts_the_events() -> None:
    """The events pass Rasa's own request schema and parse into the right events."""
    reply = OutboundMessage(7, 3, "c", "reply", "Hi", "Dana").rasa_events()
    handback = OutboundMessage(8, 3, "c", "handback", "Back", "Dana").rasa_events()
    jsonschema.validate(reply, EVENTS_SCHEMA)
    jsonschema.validate(handback, EVENTS_SCHEMA)

    assert Event.from_parameters(reply[0]) == BotUttered(
        "Hi", metadata={"handoff": {"ticket_id": 3, "message_id": 7, "agent": "Dana"}}
    )
    parsed = [Event.from_parameters(event) for event in handback]
    assert parsed[:2] == [SlotSet("handoff_active", False), SlotSet("handoff_ticket_id", None)]
    assert isinstance(parsed[2], BotUttered)
    assert parsed[2].metadata == {"handoff": {"ticket_id": 3, "message_id": 8, "handback": True}}


def test_a_widget_conversation_also_gets_the_handoff_as_a_custom_payload() -> None:
    """Rasa's socket.io channel drops metadata; the widget reads the custom payload."""
    reply = OutboundMessage(7, 3, "c", "reply", "Hi\n\nI'm Dana.\n", "Dana", "socketio")
    close = OutboundMessage(9, 3, "c", "close", "Closed", "Dana", "socketio")

    assert reply.rasa_events() == [
        {
            "event": "bot",
            "text": "Hi\n\nI'm Dana.\n",
            "metadata": {"handoff": {"ticket_id": 3, "message_id": 7, "agent": "Dana"}},
            "data": {
                "custom": {
                    "data": {
                        "handoff": {"ticket_id": 3, "message_id": 7, "agent": "Dana", "parts": 2}
                    }
                }
            },
        }
    ]
    assert close.rasa_events()[2]["data"] == {
        "custom": {
            "data": {"handoff": {"ticket_id": 3, "message_id": 9, "closed": True, "parts": 1}}
        }
    }
    jsonschema.validate(reply.rasa_events(), EVENTS_SCHEMA)
    parsed = Event.from_parameters(reply.rasa_events()[0])
    assert isinstance(parsed, BotUttered)
    assert parsed.data["custom"] == {
        "data": {"handoff": {"ticket_id": 3, "message_id": 7, "agent": "Dana", "parts": 2}}
    }


@pytest.mark.parametrize("channel", [None, "rest", "telegram", "slack", "twilio", "facebook"])
def test_other_channels_get_no_custom_payload(channel: Any) -> None:
    # Their output channels would send a custom payload to the customer as a message.
    events = OutboundMessage(7, 3, "c", "reply", "Hi", "Dana", channel).rasa_events()
    assert events == [
        {
            "event": "bot",
            "text": "Hi",
            "metadata": {"handoff": {"ticket_id": 3, "message_id": 7, "agent": "Dana"}},
        }
    ]


class RecordingSocketServer:
    """Stands in for python-socketio's server under Rasa's SocketIOOutput."""

    def __init__(self) -> None:
        self.emitted: List[Dict[str, Any]] = []

    async def emit(self, event: str, data: Any = None, room: Any = None) -> None:
        self.emitted.append({"event": event, "data": data, "room": room})


@pytest.mark.asyncio
async def test_rasas_socketio_channel_emits_the_text_then_the_handoff() -> None:
    from rasa.core.channels.socketio import SocketIOOutput

    sio = RecordingSocketServer()
    reply = OutboundMessage(7, 3, "sess-1", "reply", "Hi\n\nI'm Dana.", "Dana", "socketio")
    bot = Event.from_parameters(reply.rasa_events()[0])
    assert isinstance(bot, BotUttered)

    await SocketIOOutput(sio, "bot_uttered").send_response("sess-1", bot.message())

    marker = {"ticket_id": 3, "message_id": 7, "agent": "Dana", "parts": 2}
    assert sio.emitted == [
        {"event": "bot_uttered", "data": {"text": "Hi"}, "room": "sess-1"},
        {"event": "bot_uttered", "data": {"text": "I'm Dana."}, "room": "sess-1"},
        {"event": "bot_uttered", "data": {"handoff": marker}, "room": "sess-1"},
    ]
