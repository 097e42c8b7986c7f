"""Rasa 3.6's socket.io channel with the installed python-socketio (what the widget talks to)."""

from typing import Any, List

import pytest
from rasa.core.channels.socketio import SocketIOInput

pytestmark = pytest.mark.asyncio


async def test_a_session_request_joins_the_sessions_room() -> None:
    """Replies go to the room named after the session id; the socket must be in it.

    python-socketio 5.10 made ``enter_room`` a coroutine that Rasa 3.6 does not
    await (requirements.txt keeps it below 5.10).
    """
    channel = SocketIOInput(session_persistence=True)

    async def on_new_message(_: Any) -> None:
        return None

    channel.blueprint(on_new_message)
    sio = channel.sio
    assert sio is not None
    emitted: List[Any] = []

    async def emit(event: str, data: Any = None, room: Any = None, **_: Any) -> None:
        emitted.append((event, data, room))

    sio.emit = emit  # type: ignore[method-assign]
    sio.manager.connect("eio-1", "/")
    sid = next(iter(sio.manager.rooms["/"][None]))

    await sio.handlers["/"]["session_request"](sid, {"session_id": "session-42"})

    assert emitted == [("session_confirm", "session-42", sid)]
    assert set(sio.manager.get_participants("/", "session-42")) == {(sid, "eio-1")}
