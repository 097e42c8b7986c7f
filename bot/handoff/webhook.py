"""The optional webhook: every ticket event POSTed as signed JSON.

When ``HANDOFF_WEBHOOK_URL`` is set, the service sends each event of
``handoff_events`` to it, in order, at least once: an event is retried with
exponential back-off until the receiver answers 2xx, and the position is kept
in ``handoff_cursors`` (row "webhook"), so a restart resumes where it stopped
(re-sending at most the events in flight). On its first start the webhook
begins at the end of the log; earlier events are not sent.

Body (UTF-8 JSON)::

    {"id": 42, "type": "message.created", "at": "2025-03-14T10:00:00+00:00",
     "ticket": {TicketSummary}, "message": {...}}   # message for message events

``ticket`` is the ticket as it is when the event is sent. Internal notes are
included: the receiver must be trusted. Headers: ``X-Handoff-Event-Id``,
``X-Handoff-Timestamp`` (Unix seconds) and ``X-Handoff-Signature:
sha256=<hex>``, the HMAC-SHA256 with ``HANDOFF_WEBHOOK_SECRET`` of
``"<timestamp>.<body>"``; check it with :func:`verify_signature`, and drop
duplicates by event id.
"""

import asyncio
import hmac
import json
import logging
import time
from typing import Callable, Optional

import aiohttp
from sqlalchemy import select

from actions.db import Database, DatabaseUnavailable, utc_now
from bot.handoff.events import EventLog, EventTail
from bot.handoff.models import CursorRow
from bot.handoff.views import LiveEvent, iso

logger = logging.getLogger(__name__)

CURSOR_NAME = "webhook"
SIGNATURE_HEADER = "X-Handoff-Signature"
TIMESTAMP_HEADER = "X-Handoff-Timestamp"
EVENT_ID_HEADER = "X-Handoff-Event-Id"
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the ``X-Handoff-Signature`` value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, "sha256")
    return f"sha256={digest.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: Optional[float] = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """Check a webhook request, as a receiver should.

    Args:
        secret: The shared ``HANDOFF_WEBHOOK_SECRET``.
        timestamp: The ``X-Handoff-Timestamp`` header.
        body: The raw request body.
        signature: The ``X-Handoff-Signature`` header.
        now: Current Unix time; ``time.time()`` by default.
        tolerance_s: How old (or new) the timestamp may be, against replays.

    Returns:
        Whether the signature matches and the timestamp is recent.
    """
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def webhook_body(event: LiveEvent) -> bytes:
    """Return the JSON body sent for an event."""
    payload = {"id": event.id, "at": iso(event.at), **event.to_json()}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookCursor:
    """The last event the webhook finished, in ``handoff_cursors`` (blocking)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def load(self) -> Optional[int]:
        """Return the stored position, None before the first start."""
        with self._database.reading("reading the webhook cursor") as session:
            statement = select(CursorRow.last_event_id).where(CursorRow.name == CURSOR_NAME)
            return session.execute(statement).scalar_one_or_none()

    def save(self, event_id: int) -> None:
        """Store the position."""
        with self._database.transaction("saving the webhook cursor") as session:
            row = session.get(CursorRow, CURSOR_NAME)
            if row is None:
                session.add(
                    CursorRow(name=CURSOR_NAME, last_event_id=event_id, updated_at=utc_now())
                )
            elif row.last_event_id != event_id:
                row.last_event_id = event_id
                row.updated_at = utc_now()


class WebhookSender:
    """Sends the event log to the webhook URL, in order, at least once.

    Args:
        log: The event log.
        cursor: Where the sender stands.
        url: The receiver.
        secret: The HMAC key.
        poll_interval_s: Pause between polls of the log.
        retry_max_s: Longest pause between two attempts at one event.
        timeout_s: Seconds to wait for the receiver.
        clock: Unix time, for the timestamp header.
    """

    def __init__(
        self,
        log: EventLog,
        cursor: WebhookCursor,
        *,
        url: str,
        secret: str,
        poll_interval_s: float,
        retry_max_s: int,
        timeout_s: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._log = log
        self._cursor = cursor
        self._url = url
        self._secret = secret
        self._poll_interval_s = poll_interval_s
        self._retry_max_s = retry_max_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock

    async def run(self) -> None:
        """Send events until cancelled; outages are logged and retried."""
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            tail: Optional[EventTail] = None
            saved = -1
            while True:
                try:
                    if tail is None:
                        saved = await self._start()
                        tail = EventTail(saved)
                    started = tail.now()
                    events = await asyncio.to_thread(self._log.read, tail.cursor, tail.gaps)
                    for event in events:
                        await self._send_until_accepted(session, event)
                        tail.seen(event.id)
                        if tail.watermark != saved:
                            await asyncio.to_thread(self._cursor.save, tail.watermark)
                            saved = tail.watermark
                    tail.expire(started)
                    if tail.watermark != saved:  # skipped ids given up on
                        await asyncio.to_thread(self._cursor.save, tail.watermark)
                        saved = tail.watermark
                except DatabaseUnavailable as exc:
                    logger.warning("Webhook paused, the database is unavailable: %s", exc)
                except Exception:  # a bug must not end the webhook for good
                    logger.exception("Webhook round failed")
                await asyncio.sleep(self._poll_interval_s)

    async def _start(self) -> int:
        stored = await asyncio.to_thread(self._cursor.load)
        if stored is not None:
            return stored
        latest = await asyncio.to_thread(self._log.latest_id)
        await asyncio.to_thread(self._cursor.save, latest)
        return latest

    async def _send_until_accepted(self, session: aiohttp.ClientSession, event: LiveEvent) -> None:
        body = webhook_body(event)
        pause = 1.0
        while True:
            timestamp = str(int(self._clock()))
            headers = {
                "Content-Type": "application/json",
                EVENT_ID_HEADER: str(event.id),
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            }
            try:
                async with session.post(self._url, data=body, headers=headers) as response:
                    if 200 <= response.status < 300:
                        return
                    problem = f"status {response.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                problem = repr(exc)
            logger.warning(
                "Webhook refused event %d (%s); retrying in %.0f s", event.id, problem, pause
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._retry_max_s)
