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
  widget shows the reason as a bot message (a socket.io event has no status).

The name stays ``socketio`` (the input channel recorded with each message).
In ``credentials.yml``, instead of ``socketio:``::

    bot.channels.socketio.SocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
"""

import json
import logging
import re
from typing import Any, Optional

from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from sanic import Blueprint
from sanic.request import Request

from bot.channels.delivery import OnNewMessage
from bot.channels.limits import LimitedChannel, Refusal, limited

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


class SocketIOInput(RasaSocketIOInput, LimitedChannel):
    """Rasa's socket.io channel with checked events and the limits; see the module docstring."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Rasa's blueprint, its Engine.IO endpoint and event handlers guarded."""
        limits = self.channel_limits()
        blueprint = super().blueprint(limited(on_new_message, limits))
        sio = self.sio
        assert sio is not None  # Rasa's blueprint() sets it
        sio.eio.max_http_buffer_size = limits.settings.max_body_bytes
        handlers = sio.handlers[self.namespace or "/"]
        rasa_message, rasa_session = handlers[self.user_message_evt], handlers["session_request"]

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            problem = malformed_message(data, self.session_persistence, self.metadata_key or "")
            if problem:
                logger.warning("Ignored a socket.io message of %s: %s.", sid, problem)
                return
            await rasa_message(sid, data)

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
