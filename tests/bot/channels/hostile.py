"""Shared by the hostile-input tests of the channels: payloads, a storing agent, a client.

The agent stores each message in Rasa's SQL tracker store and echoes it, so
that a test can check both what a client got back and what was kept.
"""

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered

from bot.channels.limits import ChannelLimits
from bot.channels.settings import ChannelLimitSettings

ODD_TEXTS = [
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "'; DROP TABLE events; --",
    "1' OR '1'='1\" UNION SELECT * FROM users --",
    "a\x00b\x07c\x1bd\u202ee\x7ff",  # NUL, BEL, ESC, right-to-left override, DEL
    "{{7*7}} ${jndi:ldap://x} %s%n \\u0000 ../../etc/passwd",
]
ODD_IDS = ["script", "sql", "sql-union", "control", "templates"]
MEGABYTE = "x" * 1_000_000
BODY_TOO_LARGE = {"error": "the request body is larger than 65536 bytes"}
INVALID_UTF8 = b'{"sender": "hostile", "message": "caf\xe9 \xff\xfe"}'
MALFORMED_JSON = b'{"sender": "hostile", "message": "hi"'
DOMAIN = Domain.empty()


class StoringAgent:
    """Stores each message in the tracker store, then echoes it (as Rasa sends replies)."""

    def __init__(self, store: SQLTrackerStore) -> None:
        self.tracker_store = store

    async def handle_message(self, message: UserMessage) -> None:
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, input_channel=message.input_channel))
        await self.tracker_store.save(tracker)
        reply = {"text": f"echo: {message.text}"}
        await message.output_channel.send_response(message.sender_id, reply)


def tracker_store(folder: Path) -> SQLTrackerStore:
    """Rasa's SQL tracker store on a SQLite file in ``folder``."""
    return SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(folder / "trackers.db"))


async def stored(store: SQLTrackerStore, sender: str) -> List[str]:
    tracker = await store.retrieve(sender)
    if tracker is None:
        return []
    return [event.text for event in tracker.events if isinstance(event, UserUttered)]


async def wait_stored(store: SQLTrackerStore, sender: str, count: int) -> List[str]:
    for _ in range(100):
        texts = await stored(store, sender)
        if len(texts) >= count:
            return texts
        await asyncio.sleep(0.05)
    return await stored(store, sender)


def unlimited(channel: InputChannel, name: str) -> InputChannel:
    channel.limits = ChannelLimits(ChannelLimitSettings(rate_per_minute=0), name)  # type: ignore[attr-defined]
    return channel


async def request(
    method: str, url: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None
) -> Tuple[int, Optional[str], Any]:
    """(status, content type, body as JSON when it is JSON, else text)."""
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, data=body, headers=headers) as answer:
            if answer.content_type == "application/json":
                return answer.status, answer.content_type, await answer.json()
            return answer.status, answer.content_type, await answer.text()
