"""What customers are told about a handoff."""

from datetime import datetime, timezone
from typing import Any

import pytest

from actions.escalation import EscalationReason
from actions.handoff_messages import (
    ESCALATION_UNAVAILABLE,
    REQUEST_UNAVAILABLE,
    describe_office_hours,
    describe_opening,
    escalation_reply,
    escalation_unavailable,
    format_wait,
    queue_update,
)
from bot.handoff.office_hours import OfficeHours
from bot.handoff.payloads import QueueStatus

HOURS = OfficeHours.parse("Mon-Fri 08:00-20:00, Sat 09:00-17:00", "Europe/Vienna")
MONDAY_8_VIENNA = datetime(2025, 3, 17, 7, 0, tzinfo=timezone.utc)


def status(**overrides: Any) -> QueueStatus:
    values = dict(
        ticket_id=7,
        status="queued",
        position=3,
        expected_wait_s=450,
        agents_online=2,
        within_office_hours=True,
        next_opening=None,
    )
    values.update(overrides)
    return QueueStatus(**values)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "less than a minute"),
        (59, "less than a minute"),
        (60, "about 1 minute"),
        (61, "about 2 minutes"),
        (450, "about 8 minutes"),
        (5340, "about 89 minutes"),
        (9000, "about 2 hours"),
    ],
)
def test_format_wait(seconds: int, text: str) -> None:
    assert format_wait(seconds) == text


def test_office_hours_are_described_with_day_ranges_and_the_zone() -> None:
    assert describe_office_hours(HOURS) == (
        "Mon-Fri 08:00-20:00 and Sat 09:00-17:00 (Europe/Vienna time)"
    )
    mixed = OfficeHours.parse(
        "Mon-Wed 09:00-17:00, Fri 09:00-17:00, Thu 12:00-24:00, Sat-Sun 10:00-14:00",
        "Europe/London",
    )
    assert describe_office_hours(mixed) == (
        "Mon-Wed, Fri 09:00-17:00, Thu 12:00-24:00 and Sat-Sun 10:00-14:00 (Europe/London time)"
    )
    assert describe_office_hours(OfficeHours.parse("24/7", "UTC")) == "around the clock"


def test_the_next_opening_is_named_in_local_time() -> None:
    assert describe_opening(MONDAY_8_VIENNA, HOURS) == "on Monday 17 March at 08:00"


def test_queued_with_agents_online() -> None:
    assert queue_update(status(), HOURS) == (
        "You're number 3 in the queue. The expected wait is about 8 minutes. "
        "Please stay in this chat: an agent will reply here."
    )


def test_queued_with_nobody_online() -> None:
    assert queue_update(status(agents_online=0, expected_wait_s=None, position=1), HOURS) == (
        "You're number 1 in the queue. No agent is online at the moment, so I can't say how "
        "long it will take: leave your message here and an agent will reply in this chat as "
        "soon as one is free."
    )


def test_outside_office_hours() -> None:
    closed = status(
        within_office_hours=False,
        agents_online=0,
        expected_wait_s=None,
        next_opening=MONDAY_8_VIENNA,
    )
    assert queue_update(closed, HOURS) == (
        "Our team is available Mon-Fri 08:00-20:00 and Sat 09:00-17:00 (Europe/Vienna time), "
        "so nobody can answer right now. Leave your message here and an agent will reply in "
        "this chat when we open on Monday 17 March at 08:00."
    )


def test_already_assigned() -> None:
    assigned = status(status="assigned", position=None, expected_wait_s=None, agent_name="Dana")
    assert queue_update(assigned, HOURS) == (
        "Dana from our team is looking after you and will reply here in this chat."
    )


@pytest.mark.parametrize(
    "reason, opener",
    [
        (
            EscalationReason.STRONG_NEGATIVE,
            "I'm really sorry about this. I'm bringing in a person from our team who can sort "
            "it out with you.",
        ),
        (
            EscalationReason.SUSTAINED_NEGATIVE,
            "I'm sorry this hasn't gone well so far. I'm bringing in a person from our team "
            "to help you.",
        ),
        (
            EscalationReason.REQUESTED_HUMAN,
            "Of course, I'm connecting you with a person from our team.",
        ),
        (
            EscalationReason.REPEATED_FALLBACK,
            "Sorry, I'm having trouble understanding you. I'm bringing in a person from our "
            "team to help.",
        ),
    ],
)
def test_escalation_replies_open_with_the_reason(reason: EscalationReason, opener: str) -> None:
    assert escalation_reply(reason, status(), HOURS) == f"{opener} {queue_update(status(), HOURS)}"


def test_unavailable_replies() -> None:
    assert escalation_unavailable(EscalationReason.REQUESTED_HUMAN) == REQUEST_UNAVAILABLE
    assert escalation_unavailable(EscalationReason.STRONG_NEGATIVE) == ESCALATION_UNAVAILABLE
    assert REQUEST_UNAVAILABLE == (
        "I'm sorry, I can't bring a person into this chat right now: our support system isn't "
        "reachable at the moment."
    )
