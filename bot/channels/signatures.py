"""How each messaging platform proves that a webhook request comes from it.

Pure functions, one pair per platform: one computes what the platform sends,
one checks a request. Each check answers a :class:`Verdict`; the channels turn
``MISSING`` into 401 and ``INVALID`` into 403 with :func:`refuse`, before the
request reaches the bot. Every comparison is constant-time.

* Telegram: the ``secret_token`` given to ``setWebhook`` comes back in the
  ``X-Telegram-Bot-Api-Secret-Token`` header.
* Slack: ``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>">``
  with the signing secret; ``X-Slack-Request-Timestamp`` must be within five
  minutes of now.
* Messenger: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`` with
  the app secret.
* Twilio: ``X-Twilio-Signature: <base64 HMAC-SHA1 of the URL Twilio called,
  followed by every POST parameter's name and value sorted by name>`` with the
  auth token.
"""

import base64
import hashlib
import hmac
from enum import Enum
from typing import Mapping, Optional, Sequence
from urllib.parse import urlsplit, urlunsplit

from sanic import response
from sanic.response import HTTPResponse

SLACK_MAX_AGE_S = 300


class Verdict(str, Enum):
    """The outcome of checking a request's signature."""

    VALID = "valid"
    MISSING = "missing"
    """No signature (or a part of it) was sent: 401."""
    INVALID = "invalid"
    """A signature was sent and it is wrong or stale: 403."""


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def refuse(verdict: Verdict, header: str) -> HTTPResponse:
    """The response refusing a request whose signature is missing (401) or wrong (403).

    Args:
        verdict: The outcome of the check, not ``VALID``.
        header: The header the platform signs with, named in the message.
    """
    if verdict is Verdict.MISSING:
        return response.json({"error": f"the request is not signed ({header} missing)"}, 401)
    return response.json({"error": f"the request's {header} is not valid"}, 403)


def refusal(verdict: Verdict, header: str) -> Optional[HTTPResponse]:
    """The response refusing a request, or None when its signature is valid."""
    return None if verdict is Verdict.VALID else refuse(verdict, header)


def check_telegram(secret_token: str, header: Optional[str]) -> Verdict:
    """Check ``X-Telegram-Bot-Api-Secret-Token`` against the configured secret."""
    if not header:
        return Verdict.MISSING
    return Verdict.VALID if _same(secret_token, header) else Verdict.INVALID


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Return the ``X-Slack-Signature`` Slack sends with ``body`` at ``timestamp``."""
    base = b"v0:" + timestamp.encode("utf-8") + b":" + body
    digest = hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def check_slack(
    signing_secret: str,
    timestamp: Optional[str],
    signature: Optional[str],
    body: bytes,
    now: float,
    max_age_s: int = SLACK_MAX_AGE_S,
) -> Verdict:
    """Check a Slack request.

    Args:
        signing_secret: The app's signing secret.
        timestamp: ``X-Slack-Request-Timestamp`` (seconds since the epoch).
        signature: ``X-Slack-Signature``.
        body: The raw request body.
        now: The current time (seconds since the epoch).
        max_age_s: How far the timestamp may be from ``now``; older requests
            could be replays.
    """
    if not timestamp or not signature:
        return Verdict.MISSING
    try:
        sent_at = int(timestamp)
    except ValueError:
        return Verdict.INVALID
    if abs(now - sent_at) > max_age_s:
        return Verdict.INVALID
    expected = slack_signature(signing_secret, timestamp, body)
    return Verdict.VALID if _same(expected, signature) else Verdict.INVALID


def facebook_signature(app_secret: str, body: bytes) -> str:
    """Return the ``X-Hub-Signature-256`` Meta sends with ``body``."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_facebook(app_secret: str, signature: Optional[str], body: bytes) -> Verdict:
    """Check ``X-Hub-Signature-256`` of a Messenger webhook request."""
    if not signature:
        return Verdict.MISSING
    expected = facebook_signature(app_secret, body)
    return Verdict.VALID if _same(expected, signature.strip()) else Verdict.INVALID


def twilio_signature(auth_token: str, url: str, params: Mapping[str, Sequence[str]]) -> str:
    """Return the ``X-Twilio-Signature`` of a request to ``url`` with POST ``params``.

    Args:
        auth_token: The account's auth token.
        url: The full URL Twilio requested, query string included.
        params: The form parameters, each name with its values (blank values
            included: Twilio signs them too).
    """
    text = url
    for name in sorted(params):
        for value in sorted(set(params[name])):
            text += name + value
    digest = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _with_and_without_port(url: str) -> Sequence[str]:
    # Twilio signs the URL as configured; whether it names the default port
    # depends on where it was configured, so both forms are accepted (as in
    # Twilio's own RequestValidator).
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    if parts.port is None:
        with_port = parts._replace(netloc=f"{parts.netloc}:{default}")
        return (url, urlunsplit(with_port))
    if parts.port == default:
        netloc = parts.netloc.rsplit(":", 1)[0] if host else parts.netloc
        return (url, urlunsplit(parts._replace(netloc=netloc)))
    return (url,)


def check_twilio(
    auth_token: str, url: str, params: Mapping[str, Sequence[str]], signature: Optional[str]
) -> Verdict:
    """Check ``X-Twilio-Signature`` of a request Twilio made to ``url``."""
    if not signature:
        return Verdict.MISSING
    for candidate in _with_and_without_port(url):
        if _same(twilio_signature(auth_token, candidate, params), signature.strip()):
            return Verdict.VALID
    return Verdict.INVALID
