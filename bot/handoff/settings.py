"""Settings of the handoff service, read from the environment in one place.

Every ``HANDOFF_*`` variable is read here, with a type and a default. The
database is the project database (``ASSISTANT_DATABASE_URL``, see
:mod:`actions.settings`).
"""

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping, Optional

from actions.settings import _check_http_url, _get_int, _get_port, _get_str
from bot.handoff.office_hours import OfficeHours

DEFAULT_OFFICE_HOURS = "Mon-Fri 08:00-20:00, Sat 09:00-17:00"
DEFAULT_TIMEZONE = "Europe/Vienna"


@dataclass(frozen=True)
class HandoffSettings:
    """Typed settings of the handoff service and the handoff store.

    Attributes:
        host: Interface the service listens on. ``HANDOFF_HOST``; "0.0.0.0".
        port: Port of the service. ``HANDOFF_PORT``; 5077.
        rasa_url: Base URL of Rasa's HTTP API (``rasa run --enable-api``).
            ``HANDOFF_RASA_URL``; "http://localhost:5005".
        rasa_token: Token for Rasa's API (``rasa run --auth-token``), sent as
            ``?token=``. ``HANDOFF_RASA_TOKEN``; none.
        rasa_timeout_s: Seconds to wait for Rasa's answer.
            ``HANDOFF_RASA_TIMEOUT_S``; 10.
        office_hours: When agents answer. ``HANDOFF_OFFICE_HOURS`` (format in
            :mod:`bot.handoff.office_hours`) in ``HANDOFF_TIMEZONE``;
            "Mon-Fri 08:00-20:00, Sat 09:00-17:00" in "Europe/Vienna".
        token_ttl_s: Lifetime of an agent's login token.
            ``HANDOFF_TOKEN_TTL_S``; 43200 (12 hours).
        max_message_chars: Longest agent reply or note.
            ``HANDOFF_MAX_MESSAGE_CHARS``; 4000.
        login_max_failures: Failed logins for one username from one address
            allowed within the window before answering 429.
            ``HANDOFF_LOGIN_MAX_FAILURES``; 5.
        login_window_s: The window of the login rate limit.
            ``HANDOFF_LOGIN_WINDOW_S``; 300.
        average_handling_s: Seconds an agent takes per customer, for the
            expected wait. ``HANDOFF_AVERAGE_HANDLING_S``; 300.
        webhook_url: Where each ticket event is POSTed; off when empty.
            ``HANDOFF_WEBHOOK_URL``; none.
        webhook_secret: HMAC key for the webhook signature; required with a
            webhook URL. ``HANDOFF_WEBHOOK_SECRET``; none.
        poll_interval_s: How often the event log and the delivery outbox are
            polled. ``HANDOFF_POLL_INTERVAL_MS``; 500 ms.
        retry_max_s: Longest pause between retries of a delivery to Rasa or
            to the webhook. ``HANDOFF_RETRY_MAX_S``; 60.
    """

    host: str = "0.0.0.0"
    port: int = 5077
    rasa_url: str = "http://localhost:5005"
    rasa_token: Optional[str] = None
    rasa_timeout_s: int = 10
    office_hours: OfficeHours = field(
        default_factory=lambda: OfficeHours.parse(DEFAULT_OFFICE_HOURS, DEFAULT_TIMEZONE)
    )
    token_ttl_s: int = 43200
    max_message_chars: int = 4000
    login_max_failures: int = 5
    login_window_s: int = 300
    average_handling_s: int = 300
    webhook_url: Optional[str] = None
    webhook_secret: Optional[str] = None
    poll_interval_s: float = 0.5
    retry_max_s: int = 60

    def __post_init__(self) -> None:
        _check_http_url("HANDOFF_RASA_URL", self.rasa_url)
        if self.webhook_url is not None:
            _check_http_url("HANDOFF_WEBHOOK_URL", self.webhook_url)
            if not self.webhook_secret:
                raise ValueError("HANDOFF_WEBHOOK_SECRET is required with HANDOFF_WEBHOOK_URL")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "HandoffSettings":
        """Build settings from environment variables.

        Args:
            environ: The environment to read; ``os.environ`` by default.

        Returns:
            The parsed settings.

        Raises:
            ValueError: If a variable is set to a value of the wrong type.
        """
        office_hours = OfficeHours.parse(
            _get_str(environ, "HANDOFF_OFFICE_HOURS") or DEFAULT_OFFICE_HOURS,
            _get_str(environ, "HANDOFF_TIMEZONE") or DEFAULT_TIMEZONE,
        )
        return cls(
            host=_get_str(environ, "HANDOFF_HOST") or "0.0.0.0",
            port=_get_port(environ, "HANDOFF_PORT", 5077),
            rasa_url=(_get_str(environ, "HANDOFF_RASA_URL") or "http://localhost:5005").rstrip("/"),
            rasa_token=_get_str(environ, "HANDOFF_RASA_TOKEN"),
            rasa_timeout_s=_get_int(environ, "HANDOFF_RASA_TIMEOUT_S", 10, minimum=1),
            office_hours=office_hours,
            token_ttl_s=_get_int(environ, "HANDOFF_TOKEN_TTL_S", 43200, minimum=60),
            max_message_chars=_get_int(environ, "HANDOFF_MAX_MESSAGE_CHARS", 4000, minimum=1),
            login_max_failures=_get_int(environ, "HANDOFF_LOGIN_MAX_FAILURES", 5, minimum=1),
            login_window_s=_get_int(environ, "HANDOFF_LOGIN_WINDOW_S", 300, minimum=1),
            average_handling_s=_get_int(environ, "HANDOFF_AVERAGE_HANDLING_S", 300, minimum=1),
            webhook_url=_get_str(environ, "HANDOFF_WEBHOOK_URL"),
            webhook_secret=_get_str(environ, "HANDOFF_WEBHOOK_SECRET"),
            poll_interval_s=_get_int(environ, "HANDOFF_POLL_INTERVAL_MS", 500, minimum=10) / 1000,
            retry_max_s=_get_int(environ, "HANDOFF_RETRY_MAX_S", 60, minimum=1),
        )


@lru_cache(maxsize=1)
def get_handoff_settings() -> HandoffSettings:
    """Return the process-wide handoff settings, read once from the environment."""
    return HandoffSettings.from_env()
