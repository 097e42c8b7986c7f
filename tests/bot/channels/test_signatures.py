"""The signature checks against the platforms' documented examples and Twilio's own validator."""

import hashlib
import hmac

import pytest
from twilio.request_validator import RequestValidator

from bot.channels.signatures import (
    Verdict,
    check_facebook,
    check_slack,
    check_telegram,
    check_twilio,
    facebook_signature,
    refusal,
    slack_signature,
    twilio_signature,
)

# https://api.slack.com/authentication/verifying-requests-from-slack
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

# https://www.twilio.com/docs/usage/security#validating-requests
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": ["CA1234567890ABCDE"],
    "Caller": ["+12349013030"],
    "Digits": ["1234"],
    "From": ["+12349013030"],
    "To": ["+18005551212"],
}
TWILIO_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_slack_matches_slacks_example() -> None:
    assert slack_signature(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_BODY) == SLACK_SIGNATURE
    now = int(SLACK_TIMESTAMP) + 299
    check = check_slack(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY, now=now)
    assert check is Verdict.VALID


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "now", "expected"),
    [
        (None, SLACK_SIGNATURE, SLACK_BODY, 1531420618, Verdict.MISSING),
        (SLACK_TIMESTAMP, None, SLACK_BODY, 1531420618, Verdict.MISSING),
        (SLACK_TIMESTAMP, "", SLACK_BODY, 1531420618, Verdict.MISSING),
        (SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY + b"&x=1", 1531420618, Verdict.INVALID),
        (SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY, 1531420618 + 301, Verdict.INVALID),
        (SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY, 1531420618 - 301, Verdict.INVALID),
        ("soon", SLACK_SIGNATURE, SLACK_BODY, 1531420618, Verdict.INVALID),
        (SLACK_TIMESTAMP, SLACK_SIGNATURE.upper(), SLACK_BODY, 1531420618, Verdict.INVALID),
    ],
)
def test_slack_refuses(timestamp, signature, body, now, expected) -> None:
    assert check_slack(SLACK_SECRET, timestamp, signature, body, now=now) is expected


def test_twilio_matches_twilios_example_and_validator() -> None:
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == TWILIO_SIGNATURE
    assert check_twilio(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, TWILIO_SIGNATURE) is Verdict.VALID
    # Blank values and repeated names are signed too, as Twilio's validator does.
    params = {"Body": [""], "MediaUrl0": ["b", "a", "a"], "ToCity": [""], "From": ["+43"]}
    expected = RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_URL, _MultiDict(params))
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, params) == expected


class _MultiDict(dict):
    def getall(self, name: str) -> list:
        return self[name]


def test_twilio_accepts_the_url_with_or_without_the_default_port() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    signed_with_port = twilio_signature(TWILIO_TOKEN, with_port, TWILIO_PARAMS)
    assert check_twilio(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, signed_with_port) is Verdict.VALID
    assert check_twilio(TWILIO_TOKEN, with_port, TWILIO_PARAMS, TWILIO_SIGNATURE) is Verdict.VALID
    other_port = "https://mycompany.com:8443/myapp.php?foo=1&bar=2"
    assert (
        check_twilio(TWILIO_TOKEN, other_port, TWILIO_PARAMS, TWILIO_SIGNATURE) is Verdict.INVALID
    )


def test_twilio_refuses() -> None:
    assert check_twilio(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, None) is Verdict.MISSING
    forged = {**TWILIO_PARAMS, "From": ["+15005550006"]}
    assert check_twilio(TWILIO_TOKEN, TWILIO_URL, forged, TWILIO_SIGNATURE) is Verdict.INVALID
    http = TWILIO_URL.replace("https", "http")
    assert check_twilio(TWILIO_TOKEN, http, TWILIO_PARAMS, TWILIO_SIGNATURE) is Verdict.INVALID
    assert check_twilio("54321", TWILIO_URL, TWILIO_PARAMS, TWILIO_SIGNATURE) is Verdict.INVALID


def test_facebook() -> None:
    body = b'{"object":"page","entry":[]}'
    expected = "sha256=" + hmac.new(b"app secret", body, hashlib.sha256).hexdigest()
    assert facebook_signature("app secret", body) == expected
    assert check_facebook("app secret", expected, body) is Verdict.VALID
    assert check_facebook("app secret", None, body) is Verdict.MISSING
    assert check_facebook("app secret", expected, body + b" ") is Verdict.INVALID
    sha1 = "sha1=" + hmac.new(b"app secret", body, hashlib.sha1).hexdigest()
    assert check_facebook("app secret", sha1, body) is Verdict.INVALID


def test_telegram() -> None:
    assert check_telegram("s3cret", "s3cret") is Verdict.VALID
    assert check_telegram("s3cret", None) is Verdict.MISSING
    assert check_telegram("s3cret", "") is Verdict.MISSING
    assert check_telegram("s3cret", "s3cre") is Verdict.INVALID
    assert check_telegram("s3cret", "s3cretü") is Verdict.INVALID


def test_refusal() -> None:
    assert refusal(Verdict.VALID, "X-Sig") is None
    missing = refusal(Verdict.MISSING, "X-Sig")
    invalid = refusal(Verdict.INVALID, "X-Sig")
    assert missing is not None and invalid is not None
    assert (missing.status, missing.body) == (
        401,
        b'{"error":"the request is not signed (X-Sig missing)"}',
    )
    assert (invalid.status, invalid.body) == (403, b'{"error":"the request\'s X-Sig is not valid"}')
