"""Delivering agents' messages, hand backs and closes to Rasa.

Rasa (``rasa run --enable-api``) appends events to a conversation with
``POST /conversations/{id}/tracker/events``; with ``output_channel=latest``
and ``execute_side_effects=true`` it also sends bot messages to the customer
through the channel they used last. :class:`OutboundMessage` is the one
definition of what is sent; :class:`RasaGateway` is the interface the delivery
loop uses, :class:`HttpRasaGateway` the real implementation.
"""

import abc
import asyncio
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence
from urllib.parse import quote

import aiohttp

_ERROR_BODY_CHARS = 200
# Characters a URL path may carry unescaped (RFC 3986 pchar, plus "/" for Rasa's
# ``<conversation_id:path>``). Rasa's server (Sanic) does not decode %-escapes in
# the path, so an escaped id would name another, empty conversation: "+43..."
# (Twilio) must go out as "+43...", and an id that needs escaping cannot be
# addressed at all.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
WIDGET_CHANNEL = "socketio"
"""Rasa's name of the socket.io channel, the one the web widget uses."""


class RasaUnavailable(Exception):
    """Rasa did not accept the events (unreachable, timed out or an error status)."""


@dataclass(frozen=True)
class OutboundMessage:
    """A pending line for the customer, as read from the outbox.

    Attributes:
        message_id: Its id in ``handoff_messages``.
        ticket_id: Its ticket.
        conversation_id: Rasa's sender id.
        kind: "reply" (an agent's message), "handback" or "close".
        text: What the customer is shown.
        agent_name: The agent's display name.
        channel: The ticket's channel (Rasa's input channel name), if known.
    """

    message_id: int
    ticket_id: int
    conversation_id: str
    kind: str
    text: str
    agent_name: Optional[str]
    channel: Optional[str] = None

    def rasa_events(self) -> List[Dict[str, Any]]:
        """Return the Rasa tracker events that deliver this line.

        A reply is one bot message with ``metadata.handoff.agent``; a hand
        back or close first resets the ``handoff_active`` and
        ``handoff_ticket_id`` slots, so the bot answers again.

        Rasa's socket.io channel emits only the text of a bot message, not its
        metadata. For a conversation on that channel (the web widget) the bot
        message therefore also carries ``data.custom = {"data": {"handoff":
        {...}}}``: Rasa emits it right after the text, as its own
        ``bot_uttered`` event whose payload is ``{"handoff": {...}}`` (the same
        fields as the metadata plus ``parts``, the number of text messages Rasa
        split the text into). The widget labels the agent's messages with it
        and tells messages it has shown from ones it missed. Other channels
        would send a custom payload to the customer as is, so only socket.io
        gets one.
        """
        handoff: Dict[str, Any] = {"ticket_id": self.ticket_id, "message_id": self.message_id}
        if self.kind == "reply":
            handoff["agent"] = self.agent_name
        else:
            handoff["handback" if self.kind == "handback" else "closed"] = True
        message: Dict[str, Any] = {
            "event": "bot",
            "text": self.text,
            "metadata": {"handoff": handoff},
        }
        if self.channel == WIDGET_CHANNEL:
            marker = {**handoff, "parts": _socketio_parts(self.text)}
            message["data"] = {"custom": {"data": {"handoff": marker}}}
        if self.kind == "reply":
            return [message]
        return [
            {"event": "slot", "name": "handoff_active", "value": False},
            {"event": "slot", "name": "handoff_ticket_id", "value": None},
            message,
        ]


def _socketio_parts(text: str) -> int:
    """How many messages Rasa's socket.io channel makes of a text (one per paragraph)."""
    return len(text.strip().split("\n\n"))


class RasaGateway(abc.ABC):
    """Appends events to a Rasa conversation."""

    @abc.abstractmethod
    async def append_events(
        self, conversation_id: str, events: Sequence[Mapping[str, Any]]
    ) -> None:
        """Append ``events`` to the conversation and run their side effects.

        Raises:
            RasaUnavailable: If Rasa did not accept them.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""


class HttpRasaGateway(RasaGateway):
    """Talks to Rasa's HTTP API with aiohttp; the session is made on first use.

    Args:
        base_url: E.g. ``http://localhost:5005``.
        token: Rasa's ``--auth-token``, sent as ``?token=``; none by default.
        timeout_s: Seconds to wait for an answer.
    """

    def __init__(self, base_url: str, *, token: Optional[str] = None, timeout_s: int = 10) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: Optional[aiohttp.ClientSession] = None

    def url_for(self, conversation_id: str) -> str:
        """Return the tracker-events URL of a conversation (without the query).

        Raises:
            RasaUnavailable: If the id has characters that Rasa's HTTP API cannot
                take in a path (spaces, ``?``, ``#``, non-ASCII...).
        """
        path = quote(conversation_id, safe=_PATH_SAFE)
        if path != conversation_id or not conversation_id:
            raise RasaUnavailable(
                f"conversation id {conversation_id!r} cannot be addressed through Rasa's "
                "HTTP API (it does not decode escaped characters in the path)"
            )
        return f"{self._base_url}/conversations/{path}/tracker/events"

    async def append_events(
        self, conversation_id: str, events: Sequence[Mapping[str, Any]]
    ) -> None:
        """POST the events to Rasa (see :class:`RasaGateway`)."""
        params = {"output_channel": "latest", "execute_side_effects": "true"}
        if self._token:
            params["token"] = self._token
        url = self.url_for(conversation_id)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(url, params=params, json=list(events)) as response:
                if response.status >= 300:
                    body = (await response.text(errors="replace"))[:_ERROR_BODY_CHARS]
                    raise RasaUnavailable(f"Rasa answered {response.status}: {body}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa is unreachable: {exc!r}") from exc

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
