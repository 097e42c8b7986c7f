"""Event times as the channels hand them out: aware UTC datetimes and ISO 8601 text.

The REST inbox's ``at`` and the ``at`` key the socket.io channel adds to each
emitted payload come from here, so that the web widget can match a message it
was shown live with the same message read from the inbox.
"""

from datetime import datetime, timezone


def utc_time(timestamp: float) -> datetime:
    """Return a Rasa event timestamp (seconds since the epoch) as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def iso_time(timestamp: float) -> str:
    """Return a Rasa event timestamp as ISO 8601 text in UTC, with microseconds when non-zero.

    E.g. ``2025-03-14T10:02:03.120000+00:00``.
    """
    return utc_time(timestamp).isoformat()
