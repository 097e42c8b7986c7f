"""What the assistant tells customers about a handoff to a human agent.

Plain functions from the ticket's :class:`~bot.handoff.payloads.QueueStatus`
to text, kept apart from the action so the wording can be read (and tested) in
one place. Every reply is honest about what happens next: the place in the
queue and the expected wait, or that nobody is online, or the office hours.
"""

import math
from datetime import datetime
from itertools import groupby
from typing import List, Tuple

from actions.escalation import EscalationReason
from actions.order_messages import weekday_day_month
from bot.handoff.office_hours import DAYS, OfficeHours
from bot.handoff.payloads import QueueStatus

_OPENERS = {
    EscalationReason.STRONG_NEGATIVE: (
        "I'm really sorry about this. I'm bringing in a person from our team who can sort "
        "it out with you."
    ),
    EscalationReason.SUSTAINED_NEGATIVE: (
        "I'm sorry this hasn't gone well so far. I'm bringing in a person from our team "
        "to help you."
    ),
    EscalationReason.REQUESTED_HUMAN: "Of course, I'm connecting you with a person from our team.",
    EscalationReason.REPEATED_FALLBACK: (
        "Sorry, I'm having trouble understanding you. I'm bringing in a person from our "
        "team to help."
    ),
}

REQUEST_UNAVAILABLE = (
    "I'm sorry, I can't bring a person into this chat right now: our support system isn't "
    "reachable at the moment."
)
ESCALATION_UNAVAILABLE = (
    "I'm sorry about this. I wanted to bring in a person from our team, but our support "
    "system isn't reachable right now, so I'll keep helping you as best I can."
)
MESSAGE_NOT_PASSED_ON = (
    "Sorry, I couldn't pass your message on to our team just now because our support system "
    "isn't reachable. Please send it again in a moment."
)


def format_wait(seconds: int) -> str:
    """Say roughly how long a wait is.

    Args:
        seconds: The expected wait.

    Returns:
        E.g. "less than a minute", "about 1 minute", "about 25 minutes", "about 2 hours".
    """
    if seconds < 60:
        return "less than a minute"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"about {hours} hours"


def _clock_time(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day_ranges(weekdays: List[int]) -> List[str]:
    """Name runs of consecutive weekdays: [0, 1, 2, 3, 4, 6] -> ["Mon-Fri", "Sun"]."""
    names = []
    for _, run in groupby(enumerate(sorted(weekdays)), key=lambda pair: pair[1] - pair[0]):
        days = [day for _, day in run]
        first, last = DAYS[days[0]].capitalize(), DAYS[days[-1]].capitalize()
        names.append(first if first == last else f"{first}-{last}")
    return names


def describe_office_hours(hours: OfficeHours) -> str:
    """Describe office hours, e.g. "Mon-Fri 08:00-20:00 and Sat 09:00-17:00 (Europe/Vienna time)".

    Args:
        hours: The office hours.

    Returns:
        The description; "around the clock" when always open.
    """
    if hours.always_open:
        return "around the clock"
    by_time: dict = {}
    for period in hours.periods:
        key: Tuple[int, int] = (period.start_minute, period.end_minute)
        by_time.setdefault(key, []).append(period.weekday)
    parts = []
    for (start, end), weekdays in sorted(by_time.items(), key=lambda item: min(item[1])):
        days = ", ".join(_day_ranges(weekdays))
        parts.append(f"{days} {_clock_time(start)}-{_clock_time(end)}")
    if not parts:
        return "at no set times"
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"
    return f"{listed} ({hours.timezone_name} time)"


def describe_opening(moment: datetime, hours: OfficeHours) -> str:
    """Name the next opening in the office's time zone, e.g. "on Monday 17 March at 08:00"."""
    local = moment.astimezone(hours.zone)
    return f"on {weekday_day_month(local.date())} at {local:%H:%M}"


def queue_update(status: QueueStatus, hours: OfficeHours) -> str:
    """Tell the customer where their ticket stands and what happens next.

    Args:
        status: The ticket's status.
        hours: The support team's office hours.

    Returns:
        One or two sentences.
    """
    if status.status == "assigned":
        who = status.agent_name or "An agent"
        return f"{who} from our team is looking after you and will reply here in this chat."
    if not status.within_office_hours:
        reopens = ""
        if status.next_opening is not None:
            reopens = f" {describe_opening(status.next_opening, hours)}"
        return (
            f"Our team is available {describe_office_hours(hours)}, so nobody can answer "
            f"right now. Leave your message here and an agent will reply in this chat when "
            f"we open{reopens}."
        )
    place = f"You're number {status.position} in the queue. " if status.position else ""
    if status.agents_online == 0 or status.expected_wait_s is None:
        return (
            f"{place}No agent is online at the moment, so I can't say how long it will "
            "take: leave your message here and an agent will reply in this chat as soon as "
            "one is free."
        )
    return (
        f"{place}The expected wait is {format_wait(status.expected_wait_s)}. "
        "Please stay in this chat: an agent will reply here."
    )


def escalation_reply(reason: EscalationReason, status: QueueStatus, hours: OfficeHours) -> str:
    """The reply when a conversation has been handed to a person.

    Args:
        reason: Why it was handed over.
        status: The ticket's status.
        hours: The support team's office hours.

    Returns:
        An apology or acknowledgement followed by the queue update.
    """
    return f"{_OPENERS[reason]} {queue_update(status, hours)}"


def escalation_unavailable(reason: EscalationReason) -> str:
    """The reply when a handoff was due but the support system is unreachable."""
    if reason is EscalationReason.REQUESTED_HUMAN:
        return REQUEST_UNAVAILABLE
    return ESCALATION_UNAVAILABLE
