"""The credentials generator, and Rasa reading what it writes (and the example file)."""

import io
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import yaml
from rasa.core.run import create_http_input_channels
from rasa.shared.exceptions import RasaException

from bot.channels.credentials import main
from bot.channels.facebook import FacebookInput
from bot.channels.rest import HandoffRestInput
from bot.channels.slack import SlackInput
from bot.channels.socketio import SocketIOInput
from bot.channels.telegram import TelegramInput
from bot.channels.twilio import TwilioInput

ROOT = Path(__file__).resolve().parents[3]
BASE = yaml.safe_load((ROOT / "credentials.yml").read_text())

ALL_PLATFORMS = {
    "TELEGRAM_BOT_TOKEN": "123456:ABC-token",
    "TELEGRAM_SECRET_TOKEN": "s3cret_token",
    "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/webhooks/telegram/webhook",
    "SLACK_BOT_TOKEN": "xoxb-1-2-3",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "FACEBOOK_VERIFY_TOKEN": "verify-me",
    "FACEBOOK_APP_SECRET": "app$secret",
    "FACEBOOK_PAGE_ACCESS_TOKEN": "EAAG-page",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "2" * 32,
    "TWILIO_WEBHOOK_URL": "https://bot.example.com/webhooks/twilio/webhook",
    "TWILIO_SMS_NUMBER": "+14155550100",
    "TWILIO_WHATSAPP_NUMBER": "+14155238886",
}


def generate(tmp_path: Path, environ: Dict[str, str]) -> Tuple[int, str, Path]:
    out, report = tmp_path / "generated" / "credentials.yml", io.StringIO()
    status = main(["--out", str(out)], environ=environ, out=report)
    return status, report.getvalue(), out


def channels_rasa_builds(path: Path, monkeypatch: pytest.MonkeyPatch, environ: Dict) -> List:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return create_http_input_channels(None, str(path))


def test_without_platform_variables_only_the_default_channels_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, report, out = generate(tmp_path, {"PATH": "/usr/bin"})
    assert status == 0
    assert report.splitlines() == [
        "telegram: off",
        "slack: off",
        "facebook: off",
        "twilio: off",
        f"Wrote {out}: bot.channels.rest.HandoffRestInput, bot.channels.socketio.SocketIOInput",
    ]
    assert yaml.safe_load(out.read_text()) == BASE
    channels = channels_rasa_builds(out, monkeypatch, {})
    assert [channel.name() for channel in channels] == ["rest", "socketio"]
    assert [type(channel) for channel in channels] == [HandoffRestInput, SocketIOInput]
    assert (channels[1].user_message_evt, channels[1].session_persistence) == (
        "user_uttered",
        True,
    )


def test_every_configured_platform_is_added_with_references_rasa_expands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, report, out = generate(tmp_path, ALL_PLATFORMS)
    assert status == 0, report
    text = out.read_text()
    for value in ALL_PLATFORMS.values():
        assert value not in text  # only references: the secrets stay in the environment
    written = yaml.safe_load(text)
    assert written["bot.channels.facebook.FacebookInput"] == {
        "verify": "${FACEBOOK_VERIFY_TOKEN}",
        "secret": "${FACEBOOK_APP_SECRET}",
        "page-access-token": "${FACEBOOK_PAGE_ACCESS_TOKEN}",
    }
    channels = channels_rasa_builds(out, monkeypatch, ALL_PLATFORMS)
    assert [channel.name() for channel in channels] == [
        "rest",
        "socketio",
        "telegram",
        "slack",
        "facebook",
        "twilio",
    ]
    telegram, slack, facebook, twilio = channels[2:]
    assert isinstance(telegram, TelegramInput) and telegram.secret_token == "s3cret_token"
    assert isinstance(slack, SlackInput) and slack.slack_signing_secret == (
        "8f742231b10e8888abcd99yyyzzz85a5"
    )
    assert isinstance(facebook, FacebookInput) and facebook.fb_secret == "app$secret"
    assert isinstance(twilio, TwilioInput)
    assert (twilio.twilio_number, twilio.whatsapp_number) == (
        "+14155550100",
        "whatsapp:+14155238886",
    )
    assert twilio.webhook_url == "https://bot.example.com/webhooks/twilio/webhook"


def test_a_half_configured_platform_is_reported_and_left_out(tmp_path: Path) -> None:
    environ = {"SLACK_BOT_TOKEN": "xoxb-1", "TWILIO_AUTH_TOKEN": "t"}
    status, report, out = generate(tmp_path, environ)
    assert status == 0
    assert report.splitlines()[:4] == [
        "telegram: off",
        "slack: left out, SLACK_SIGNING_SECRET not set (see docs/channels/slack.md)",
        "facebook: off",
        "twilio: left out, TWILIO_ACCOUNT_SID, TWILIO_WEBHOOK_URL, TWILIO_SMS_NUMBER or "
        "TWILIO_WHATSAPP_NUMBER not set (see docs/channels/twilio.md)",
    ]
    assert list(yaml.safe_load(out.read_text())) == list(BASE)


def test_an_invalid_value_fails_and_writes_nothing(tmp_path: Path) -> None:
    environ = {**ALL_PLATFORMS, "TELEGRAM_SECRET_TOKEN": "not allowed: spaces"}
    status, report, out = generate(tmp_path, environ)
    assert status == 1
    assert report.splitlines()[-2:] == [
        "telegram: Telegram's secret_token must be 1 to 256 of the characters A-Z, a-z, "
        "0-9, _ and -.",
        f"Nothing written to {out}.",
    ]
    assert not out.exists()


def test_the_example_file_configures_every_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    example = ROOT / "credentials.example.yml"
    with pytest.raises(RasaException, match="TELEGRAM_BOT_TOKEN"):
        channels_rasa_builds(example, monkeypatch, {})
    channels = channels_rasa_builds(example, monkeypatch, ALL_PLATFORMS)
    assert [type(channel).__name__ for channel in channels] == [
        "HandoffRestInput",
        "SocketIOInput",
        "TelegramInput",
        "SlackInput",
        "FacebookInput",
        "TwilioInput",
    ]
    assert all(type(channel).__module__.startswith("bot.channels.") for channel in channels)


def test_invalid_channel_limits_fail_and_write_nothing(tmp_path: Path) -> None:
    status, report, out = generate(tmp_path, {"CHANNEL_RATE_BURST": "0"})
    assert status == 1
    assert report.splitlines()[-2:] == [
        "channel limits: CHANNEL_RATE_BURST must be at least 1, got 0",
        f"Nothing written to {out}.",
    ]
    assert not out.exists()
