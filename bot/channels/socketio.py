"""The web widget's socket.io channel: Rasa's, with the channel limits and checked events.

Rasa's channel passes whatever a client emits on to the bot: an event whose
data is not an object, a ``message`` that is a list, a ``session_id`` that is
an object (used as a room name) or ``metadata`` that is not JSON raise inside
the handler. This channel:

* refuses, before Engine.IO reads it, a long-polling request body over
  ``CHANNEL_MAX_BODY_BYTES`` (413) or one that is not UTF-8 (400), each with
  ``{"error": ...}``, and makes the same cap Engine.IO's own
  ``max_http_buffer_size`` (which it also announces to clients as
  ``maxPayload`` and applies to websocket messages);
* ignores, with a log line, a ``user_uttered`` or ``session_request`` event
  whose data is malformed (see :func:`malformed_message`);
* applies the per-sender rate limit and the message length cap of
  :mod:`bot.channels.limits`: a refused message does not reach Rasa and the
  widget shows the reason as a bot message (a socket.io event has no status);
* adds ``"at"`` to every payload it emits for a bot message of the
  conversation (:class:`KeyedSocketIOOutput`): the message's event time, as
  ISO 8601 (as the ``at`` of the REST inbox, :mod:`bot.channels.rest`). The
  web widget remembers what it was shown live, so that after a dropped
  connection it shows the inbox's messages it missed, and only those;
  :func:`socketio_payloads` tells the inbox what is emitted for a message.

The name stays ``socketio`` (the input channel recorded with each message).
In ``credentials.yml``, instead of ``socketio:``::

    bot.channels.socketio.SocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
"""

import copy
import json
import logging
import re
from typing import Any, Dict, List, Optional

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput
from sanic import Blueprint
from sanic.request import Request

from bot.channels.delivery import OnNewMessage
from bot.channels.limits import LimitedChannel, Refusal, limited
from bot.channels.timestamps import iso_time

logger = logging.getLogger(__name__)

MAX_SESSION_ID_CHARS = 255
_CONTROL_OR_SURROGATE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _session_problem(session_id: Any, required: bool) -> Optional[str]:
    if session_id is None and not required:
        return None
    if (
        not isinstance(session_id, str)
        or not session_id.strip()
        or len(session_id) > MAX_SESSION_ID_CHARS
        or _CONTROL_OR_SURROGATE.search(session_id)
    ):
        return (
            f"'session_id' must be a string of 1 to {MAX_SESSION_ID_CHARS} characters "
            "without control characters"
        )
    return None


def malformed_message(data: Any, session_persistence: bool, metadata_key: str) -> Optional[str]:
    """Why the data of a ``user_uttered`` event cannot be handled, or None when it can.

    Args:
        data: What the client emitted.
        session_persistence: Whether a ``session_id`` is required.
        metadata_key: The key of the metadata (an object, or JSON text of one).
    """
    if not isinstance(data, dict):
        return "the event's data must be an object"
    message = data.get("message", "")
    if not isinstance(message, str):
        return "'message' must be a string"
    if _SURROGATE.search(message):
        return "'message' is not valid Unicode (it has a lone surrogate)"
    if session_persistence:
        problem = _session_problem(data.get("session_id"), required=True)
        if problem:
            return problem
    metadata = data.get(metadata_key)
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except (ValueError, RecursionError):
            return f"'{metadata_key}' must be a JSON object"
    if metadata is not None and not isinstance(metadata, dict):
        return f"'{metadata_key}' must be a JSON object"
    return None


def malformed_session_request(data: Any) -> Optional[str]:
    """Why the data of a ``session_request`` event cannot be handled, or None when it can."""
    if data is None:
        return None
    if not isinstance(data, dict):
        return "the event's data must be an object"
    return _session_problem(data.get("session_id"), required=False)


class KeyedSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output; each payload of a bot message also has ``"at"``.

    ``at`` is the ISO 8601 time of the message's event (Rasa passes its
    timestamp to :meth:`send_response`), the same for all the payloads Rasa
    makes of one message (one per paragraph, then its custom payload, image,
    attachment...). It is the time the conversation stores, except for the
    replies of the slot mapping action (``action_extract_slots``): Rasa
    stamps those anew, a few milliseconds later, after sending them. A custom
    payload gets it inside its ``data`` object (what is emitted), if that is
    an object. Texts sent without a message (the channel limits' refusals)
    have no ``at``: they are not in the conversation.

    One instance sends one message at a time, as Rasa does.
    """

    def __init__(self, sio: Any, bot_message_evt: str) -> None:
        super().__init__(sio, bot_message_evt)
        self._at: Optional[str] = None

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """Send a bot message, each payload keyed by the message's event time."""
        timestamp = message.get("timestamp")
        self._at = iso_time(timestamp) if isinstance(timestamp, (int, float)) else None
        try:
            await super().send_response(recipient_id, message)
        finally:
            self._at = None

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if self._at is not None and isinstance(response, dict):
            response = {**response, "at": self._at}
        await super()._send_message(socket_id, response)

    async def send_custom_json(
        self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any
    ) -> None:
        """Emit a custom payload (its ``data``, as Rasa does), keyed when it is an object."""
        data = json_message.get("data")
        if self._at is not None and isinstance(data, dict):
            json_message = {**json_message, "data": {**data, "at": self._at}}
        await super().send_custom_json(recipient_id, json_message, **kwargs)


class _RecordingServer:
    """Stands in for python-socketio's server: records the payloads emitted."""

    def __init__(self) -> None:
        self.payloads: List[Any] = []

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: Any = None,
        callback: Any = None,
        ignore_queue: bool = False,
    ) -> None:
        # The same parameters as AsyncServer.emit: a custom payload with other
        # keys fails here as it does there.
        self.payloads.append(data)


async def socketio_payloads(message: Dict[str, Any]) -> List[Any]:
    """Return what :class:`KeyedSocketIOOutput` emits for a bot message, in order.

    Args:
        message: The message as Rasa sends it, ``BotUttered.message()``.

    Returns:
        The payloads of the ``bot_uttered`` events; if sending would fail
        (a malformed button or custom payload), those emitted before it failed.
    """
    server = _RecordingServer()
    output = KeyedSocketIOOutput(server, "bot_uttered")
    try:
        await output.send_response("recipient", copy.deepcopy(message))
    except Exception as exc:  # Rasa's output raises what a malformed message makes it raise
        logger.warning("A bot message cannot be sent over socket.io: %r.", exc)
    return server.payloads


class SocketIOInput(RasaSocketIOInput, LimitedChannel):
    """Rasa's socket.io channel with checked events and the limits; see the module docstring."""

    def get_output_channel(self) -> Optional[OutputChannel]:
        """The keyed output (for Rasa's HTTP API); None, with Rasa's warning, before serving."""
        if self.sio is None:
            return super().get_output_channel()
        return KeyedSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Rasa's blueprint, its Engine.IO endpoint and event handlers guarded."""
        limits = self.channel_limits()
        on_limited = limited(on_new_message, limits)
        blueprint = super().blueprint(on_limited)
        sio = self.sio
        assert sio is not None  # Rasa's blueprint() sets it
        sio.eio.max_http_buffer_size = limits.settings.max_body_bytes
        rasa_session = sio.handlers[self.namespace or "/"]["session_request"]

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            problem = malformed_message(data, self.session_persistence, self.metadata_key or "")
            if problem:
                logger.warning("Ignored a socket.io message of %s: %s.", sid, problem)
                return
            await on_limited(self.user_message(sid, data))

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            problem = malformed_session_request(data)
            if problem:
                logger.warning("Ignored a socket.io session request of %s: %s.", sid, problem)
                return
            await rasa_session(sid, data)

        engine_io = sio.eio.handle_request

        # Engine.IO's route is added to the app when the blueprint is registered;
        # it looks this attribute up then.
        async def handle_request(request: Request, *args: Any, **kwargs: Any) -> Any:
            refusal = self.transport_refusal(request)
            if refusal is not None:
                return refusal.response()
            return await engine_io(request, *args, **kwargs)

        sio.eio.handle_request = handle_request
        return blueprint

    def user_message(self, sid: str, data: Dict[str, Any]) -> UserMessage:
        """What Rasa's handler makes of a checked ``user_uttered`` event, with the keyed output.

        Args:
            sid: The socket's id, the sender without session persistence.
            data: The event's data, accepted by :func:`malformed_message`.
        """
        assert self.sio is not None
        sender_id = data["session_id"] if self.session_persistence else sid
        metadata = data.get(self.metadata_key, {})
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        return UserMessage(
            data.get("message", ""),
            KeyedSocketIOOutput(self.sio, self.bot_message_evt),
            sender_id,
            input_channel=self.name(),
            metadata=metadata,
        )

    def transport_refusal(self, request: Request) -> Optional[Refusal]:
        """413 for a body over the cap, 400 for a body that is not UTF-8; else None."""
        refusal = self.channel_limits().body_refusal(request)
        if refusal is not None:
            return refusal
        try:
            (request.body or b"").decode("utf-8")
        except UnicodeDecodeError:
            return Refusal(400, "the body is not UTF-8 text")
        return None
