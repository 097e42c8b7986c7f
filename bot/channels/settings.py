"""The messaging platforms and the environment variables that turn each one on.

A platform is on when all its required variables are set (non-blank), plus,
for Twilio, at least one of its numbers. :mod:`bot.channels.credentials` writes
the channel's ``credentials.yml`` section with ``${VARIABLE}`` references,
which Rasa expands when it starts; the secrets themselves stay in the
environment. Every variable is a string; none has a default, because each
belongs to one bot account on one platform.

=========  ======================================================================
Platform   Variables (``*`` required)
=========  ======================================================================
telegram   TELEGRAM_BOT_TOKEN*, TELEGRAM_SECRET_TOKEN*, TELEGRAM_WEBHOOK_URL*,
           TELEGRAM_API_URL
slack      SLACK_BOT_TOKEN*, SLACK_SIGNING_SECRET*, SLACK_API_URL
facebook   FACEBOOK_VERIFY_TOKEN*, FACEBOOK_APP_SECRET*, FACEBOOK_PAGE_ACCESS_TOKEN*,
           FACEBOOK_API_URL
twilio     TWILIO_ACCOUNT_SID*, TWILIO_AUTH_TOKEN*, TWILIO_WEBHOOK_URL*, and
           TWILIO_SMS_NUMBER or TWILIO_WHATSAPP_NUMBER (or both); TWILIO_API_URL
=========  ======================================================================

The ``*_API_URL`` variables point a channel at another API server (a local
fake in tests); leave them unset in production.

The limits every customer channel applies (:mod:`bot.channels.limits`) are
read here too, into :class:`ChannelLimitSettings`:

=================================  =======  ===================================================
Variable                           Default  Meaning
=================================  =======  ===================================================
CHANNEL_RATE_PER_MINUTE            20       Messages a sender may send per minute (0: no limit).
CHANNEL_RATE_BURST                 10       Messages a sender may send at once, before the
                                            per-minute rate applies.
CHANNEL_INBOX_RATE_PER_MINUTE      60       Reads of the REST inbox per sender per minute
                                            (0: no limit); same burst.
CHANNEL_MAX_MESSAGE_CHARS          4000     Longest message text accepted.
CHANNEL_MAX_BODY_BYTES             65536    Largest request body accepted (also the
                                            widget relay's cap and Engine.IO's).
CHANNEL_LIMIT_REPLIES              true     On the messaging platforms, tell a customer whose
                                            message was refused why (once per burst).
CHANNEL_RATE_REDIS_URL             (empty)  Keep the rate buckets in this Redis
                                            (``redis://[:password@]host:port/db``), shared by
                                            every Rasa instance; empty: in each process's
                                            memory. Production mode sets it to its Redis.
=================================  =======  ===================================================
"""

import os
from dataclasses import dataclass
from typing import Dict, Mapping, Tuple

from actions.settings import _get_bool, _get_int, _get_str
from bot.channels.rate_store import check_url

# (credentials key, environment variable)
Variable = Tuple[str, str]


@dataclass(frozen=True)
class Platform:
    """A messaging platform as a Rasa channel.

    Attributes:
        name: Rasa's channel name ("telegram", ...), also in the webhook URL.
        channel: The input channel class, the key of its ``credentials.yml`` section.
        required: The variables that must all be set.
        one_of: Variables of which at least one must be set (may be empty).
        optional: Variables used when set.
        doc: The page that explains the setup.
    """

    name: str
    channel: str
    required: Tuple[Variable, ...]
    one_of: Tuple[Variable, ...] = ()
    optional: Tuple[Variable, ...] = ()
    doc: str = ""


PLATFORMS: Tuple[Platform, ...] = (
    Platform(
        name="telegram",
        channel="bot.channels.telegram.TelegramInput",
        required=(
            ("access_token", "TELEGRAM_BOT_TOKEN"),
            ("secret_token", "TELEGRAM_SECRET_TOKEN"),
            ("webhook_url", "TELEGRAM_WEBHOOK_URL"),
        ),
        optional=(("api_url", "TELEGRAM_API_URL"),),
        doc="docs/channels/telegram.md",
    ),
    Platform(
        name="slack",
        channel="bot.channels.slack.SlackInput",
        required=(
            ("slack_token", "SLACK_BOT_TOKEN"),
            ("slack_signing_secret", "SLACK_SIGNING_SECRET"),
        ),
        optional=(("api_url", "SLACK_API_URL"),),
        doc="docs/channels/slack.md",
    ),
    Platform(
        name="facebook",
        channel="bot.channels.facebook.FacebookInput",
        required=(
            ("verify", "FACEBOOK_VERIFY_TOKEN"),
            ("secret", "FACEBOOK_APP_SECRET"),
            ("page-access-token", "FACEBOOK_PAGE_ACCESS_TOKEN"),
        ),
        optional=(("api_url", "FACEBOOK_API_URL"),),
        doc="docs/channels/facebook.md",
    ),
    Platform(
        name="twilio",
        channel="bot.channels.twilio.TwilioInput",
        required=(
            ("account_sid", "TWILIO_ACCOUNT_SID"),
            ("auth_token", "TWILIO_AUTH_TOKEN"),
            ("webhook_url", "TWILIO_WEBHOOK_URL"),
        ),
        one_of=(
            ("twilio_number", "TWILIO_SMS_NUMBER"),
            ("whatsapp_number", "TWILIO_WHATSAPP_NUMBER"),
        ),
        optional=(("api_url", "TWILIO_API_URL"),),
        doc="docs/channels/twilio.md",
    ),
)


def _is_set(environ: Mapping[str, str], name: str) -> bool:
    return bool(environ.get(name, "").strip())


@dataclass(frozen=True)
class PlatformStatus:
    """Whether the environment turns a platform on.

    Attributes:
        platform: The platform.
        missing: What is not set yet: variable names, or "A or B" for a one-of group.
        set_variables: The platform's variables that are set, as (credentials
            key, variable name).
    """

    platform: Platform
    missing: Tuple[str, ...]
    set_variables: Tuple[Variable, ...]

    @property
    def enabled(self) -> bool:
        """Whether every required variable is set."""
        return not self.missing

    @property
    def mentioned(self) -> bool:
        """Whether any of its variables is set (a platform half set up, when not enabled)."""
        return bool(self.set_variables)

    def credentials(self) -> Dict[str, str]:
        """The ``credentials.yml`` section, each value a ``${VARIABLE}`` reference."""
        return {key: f"${{{name}}}" for key, name in self.set_variables}

    def values(self, environ: Mapping[str, str]) -> Dict[str, str]:
        """The section with the variables' values from ``environ`` instead."""
        return {key: environ[name].strip() for key, name in self.set_variables}


def platform_status(platform: Platform, environ: Mapping[str, str]) -> PlatformStatus:
    """Check which of ``platform``'s variables ``environ`` sets."""
    missing = [name for _, name in platform.required if not _is_set(environ, name)]
    if platform.one_of and not any(_is_set(environ, name) for _, name in platform.one_of):
        missing.append(" or ".join(name for _, name in platform.one_of))
    variables = (*platform.required, *platform.one_of, *platform.optional)
    return PlatformStatus(
        platform=platform,
        missing=tuple(missing),
        set_variables=tuple((key, name) for key, name in variables if _is_set(environ, name)),
    )


def platform_statuses(environ: Mapping[str, str]) -> Tuple[PlatformStatus, ...]:
    """The status of every platform, in :data:`PLATFORMS` order."""
    return tuple(platform_status(platform, environ) for platform in PLATFORMS)


@dataclass(frozen=True)
class ChannelLimitSettings:
    """The limits of :mod:`bot.channels.limits`; the table in the module docstring.

    Attributes:
        rate_per_minute: Messages per sender per minute; 0 turns the rate limit off.
        burst: Messages a sender may send at once.
        inbox_rate_per_minute: REST inbox reads per sender per minute; 0: no limit.
        max_message_chars: Longest message text.
        max_body_bytes: Largest request body.
        limit_replies: Whether platforms tell the customer about a refused message.
        rate_redis_url: The Redis holding the rate buckets; empty: process memory.
    """

    rate_per_minute: int = 20
    burst: int = 10
    inbox_rate_per_minute: int = 60
    max_message_chars: int = 4000
    max_body_bytes: int = 64 * 1024
    limit_replies: bool = True
    rate_redis_url: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "ChannelLimitSettings":
        """Read the ``CHANNEL_*`` variables.

        Raises:
            ValueError: If a variable is not a number (or boolean) in its range.
        """
        default = cls()
        return cls(
            rate_per_minute=_get_int(
                environ, "CHANNEL_RATE_PER_MINUTE", default.rate_per_minute, minimum=0
            ),
            burst=_get_int(environ, "CHANNEL_RATE_BURST", default.burst, minimum=1),
            inbox_rate_per_minute=_get_int(
                environ, "CHANNEL_INBOX_RATE_PER_MINUTE", default.inbox_rate_per_minute, minimum=0
            ),
            max_message_chars=_get_int(
                environ, "CHANNEL_MAX_MESSAGE_CHARS", default.max_message_chars, minimum=1
            ),
            max_body_bytes=_get_int(
                environ, "CHANNEL_MAX_BODY_BYTES", default.max_body_bytes, minimum=1024
            ),
            limit_replies=_get_bool(environ, "CHANNEL_LIMIT_REPLIES", default.limit_replies),
            rate_redis_url=check_url(url)
            if (url := _get_str(environ, "CHANNEL_RATE_REDIS_URL"))
            else "",
        )
