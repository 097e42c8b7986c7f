from datetime import datetime, timezone

import pytest

from bot.handoff.office_hours import OfficeHours, Period
from bot.handoff.settings import HandoffSettings

VIENNA = "Europe/Vienna"


def test_defaults() -> None:
    settings = HandoffSettings.from_env({})

    assert settings == HandoffSettings()
    assert (settings.host, settings.port, settings.rasa_url, settings.rasa_token) == (
        "0.0.0.0",
        5077,
        "http://localhost:5005",
        None,
    )
    assert (settings.max_message_chars, settings.poll_interval_s, settings.webhook_url) == (
        4000,
        0.5,
        None,
    )
    assert settings.office_hours.timezone_name == VIENNA
    assert len(settings.office_hours.periods) == 6


def test_values_from_the_environment() -> None:
    settings = HandoffSettings.from_env(
        {
            "HANDOFF_PORT": "6000",
            "HANDOFF_RASA_URL": "https://rasa.example:5005/",
            "HANDOFF_RASA_TOKEN": " secret ",
            "HANDOFF_OFFICE_HOURS": "24/7",
            "HANDOFF_TIMEZONE": "America/New_York",
            "HANDOFF_TOKEN_TTL_S": "3600",
            "HANDOFF_MAX_MESSAGE_CHARS": "500",
            "HANDOFF_LOGIN_MAX_FAILURES": "3",
            "HANDOFF_WEBHOOK_URL": "http://crm.local/hook",
            "HANDOFF_WEBHOOK_SECRET": "k",
            "HANDOFF_POLL_INTERVAL_MS": "250",
        }
    )

    assert (settings.port, settings.rasa_url, settings.rasa_token) == (
        6000,
        "https://rasa.example:5005",
        "secret",
    )
    assert settings.office_hours == OfficeHours((), "America/New_York", always_open=True)
    assert (settings.token_ttl_s, settings.max_message_chars, settings.login_max_failures) == (
        3600,
        500,
        3,
    )
    assert (settings.webhook_url, settings.webhook_secret, settings.poll_interval_s) == (
        "http://crm.local/hook",
        "k",
        0.25,
    )


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"HANDOFF_PORT": "70000"}, "HANDOFF_PORT must be at most 65535"),
        ({"HANDOFF_PORT": "web"}, "HANDOFF_PORT must be an integer"),
        ({"HANDOFF_RASA_URL": "localhost:5005"}, "HANDOFF_RASA_URL must be an http"),
        ({"HANDOFF_WEBHOOK_URL": "http://x/hook"}, "HANDOFF_WEBHOOK_SECRET is required"),
        ({"HANDOFF_TIMEZONE": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
        ({"HANDOFF_OFFICE_HOURS": "weekdays 9-5"}, "unknown day"),
        ({"HANDOFF_OFFICE_HOURS": "Mon 09:00-25:00"}, "out of range"),
        ({"HANDOFF_OFFICE_HOURS": "Mon 17:00-09:00"}, "must end after it starts"),
        ({"HANDOFF_OFFICE_HOURS": "Mon"}, "is not like"),
        ({"HANDOFF_TOKEN_TTL_S": "5"}, "at least 60"),
    ],
)
def test_bad_values_are_refused(environ: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HandoffSettings.from_env(environ)


def test_office_hours_parse_ranges() -> None:
    hours = OfficeHours.parse("Sat-Mon 10:00-12:00, Wed 13:30-24:00", VIENNA)

    assert hours.periods == (
        Period(5, 600, 720),
        Period(6, 600, 720),
        Period(0, 600, 720),
        Period(2, 810, 1440),
    )


@pytest.mark.parametrize(
    "moment, is_open, next_opening",
    [
        # Friday 11:00 in Vienna (UTC+1).
        (datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc), True, None),
        # Friday 20:00 in Vienna: closed; Saturday 09:00 opens.
        (
            datetime(2025, 3, 14, 19, 0, tzinfo=timezone.utc),
            False,
            datetime(2025, 3, 15, 8, 0, tzinfo=timezone.utc),
        ),
        # Sunday: Monday 08:00.
        (
            datetime(2025, 3, 16, 12, 0, tzinfo=timezone.utc),
            False,
            datetime(2025, 3, 17, 7, 0, tzinfo=timezone.utc),
        ),
        # Saturday 29 March 18:00: Monday 31 March 08:00, after the change to summer time.
        (
            datetime(2025, 3, 29, 17, 0, tzinfo=timezone.utc),
            False,
            datetime(2025, 3, 31, 6, 0, tzinfo=timezone.utc),
        ),
        # Monday 07:59 in Vienna: opens in a minute.
        (
            datetime(2025, 3, 17, 6, 59, tzinfo=timezone.utc),
            False,
            datetime(2025, 3, 17, 7, 0, tzinfo=timezone.utc),
        ),
    ],
)
def test_office_hours_in_vienna(moment: datetime, is_open: bool, next_opening: datetime) -> None:
    hours = HandoffSettings().office_hours

    assert hours.is_open(moment) is is_open
    assert hours.next_opening(moment) == next_opening


def test_always_and_never_open() -> None:
    moment = datetime(2025, 3, 16, 3, 0, tzinfo=timezone.utc)

    assert OfficeHours.parse("24/7", VIENNA).is_open(moment)
    assert OfficeHours.parse("24/7", VIENNA).next_opening(moment) is None
    assert not OfficeHours.parse("", VIENNA).is_open(moment)
    assert OfficeHours.parse("", VIENNA).next_opening(moment) is None
