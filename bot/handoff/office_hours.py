"""Office hours: when agents are expected to answer, in a named time zone.

The format (``HANDOFF_OFFICE_HOURS``) is a comma-separated list of periods,
each a day or day range and a time range, e.g.
``"Mon-Fri 08:00-20:00, Sat 09:00-17:00"``. Days are English three-letter
abbreviations; a range may wrap (``Sat-Mon``); ``24:00`` ends a period at
midnight. ``"24/7"`` means always open, an empty value never.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "24/7"


@dataclass(frozen=True)
class Period:
    """One weekday's opening period, in local minutes after midnight.

    Attributes:
        weekday: 0 for Monday to 6 for Sunday.
        start_minute: Opening time, minutes after local midnight.
        end_minute: Closing time (exclusive), up to 1440.
    """

    weekday: int
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class OfficeHours:
    """Weekly opening periods in one time zone.

    Attributes:
        periods: The opening periods; empty means never open.
        timezone_name: IANA time zone the periods are in.
        always_open: Open around the clock (``"24/7"``).
    """

    periods: Tuple[Period, ...]
    timezone_name: str
    always_open: bool = False

    @classmethod
    def parse(cls, spec: str, timezone_name: str) -> "OfficeHours":
        """Read office hours from the ``HANDOFF_OFFICE_HOURS`` format.

        Args:
            spec: E.g. ``"Mon-Fri 08:00-20:00, Sat 09:00-17:00"``.
            timezone_name: IANA zone, e.g. ``"Europe/Vienna"``.

        Returns:
            The parsed office hours.

        Raises:
            ValueError: If the spec or the time zone is malformed.
        """
        try:
            ZoneInfo(timezone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {timezone_name!r}") from exc
        text = spec.strip()
        if text == ALWAYS:
            return cls(periods=(), timezone_name=timezone_name, always_open=True)
        periods = []
        for part in (piece.strip() for piece in text.split(",")):
            if part:
                periods.extend(_parse_part(part))
        return cls(periods=tuple(periods), timezone_name=timezone_name)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone of the periods."""
        return ZoneInfo(self.timezone_name)

    def is_open(self, moment: datetime) -> bool:
        """Return whether ``moment`` (aware) falls within office hours."""
        if self.always_open:
            return True
        local = moment.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(
            period.weekday == local.weekday() and period.start_minute <= minute < period.end_minute
            for period in self.periods
        )

    def next_opening(self, moment: datetime) -> Optional[datetime]:
        """Return the start of the next opening period after ``moment``.

        Args:
            moment: An aware datetime.

        Returns:
            The next opening as an aware UTC datetime; None when open now,
            always open, or never open.
        """
        if self.always_open or not self.periods or self.is_open(moment):
            return None
        zone = self.zone
        local = moment.astimezone(zone)
        for days_ahead in range(8):
            day = (local + timedelta(days=days_ahead)).date()
            starts = sorted(
                period.start_minute for period in self.periods if period.weekday == day.weekday()
            )
            for start in starts:
                opening = datetime.combine(day, time(start // 60, start % 60), tzinfo=zone)
                if opening > local:
                    return opening.astimezone(timezone.utc)
        return None


def _parse_part(part: str) -> Tuple[Period, ...]:
    pieces = part.split()
    if len(pieces) != 2:
        raise ValueError(f"office hours period {part!r} is not like 'Mon-Fri 08:00-20:00'")
    days, hours = pieces
    weekdays = _parse_days(days)
    start_text, _, end_text = hours.partition("-")
    start, end = _parse_minute(start_text), _parse_minute(end_text)
    if start >= end:
        raise ValueError(f"office hours period {part!r} must end after it starts")
    return tuple(Period(weekday, start, end) for weekday in weekdays)


def _parse_days(days: str) -> Tuple[int, ...]:
    first, _, last = days.lower().partition("-")
    if first not in DAYS or (last and last not in DAYS):
        raise ValueError(f"unknown day(s) {days!r}; use Mon, Tue, Wed, Thu, Fri, Sat, Sun")
    start = DAYS.index(first)
    end = DAYS.index(last) if last else start
    count = (end - start) % 7 + 1
    return tuple((start + offset) % 7 for offset in range(count))


def _parse_minute(text: str) -> int:
    hour_text, _, minute_text = text.partition(":")
    if not (hour_text.isdigit() and minute_text.isdigit() and len(minute_text) == 2):
        raise ValueError(f"time {text!r} is not like 08:00")
    hour, minute = int(hour_text), int(minute_text)
    if minute > 59 or hour > 24 or (hour == 24 and minute != 0):
        raise ValueError(f"time {text!r} is out of range")
    return hour * 60 + minute
