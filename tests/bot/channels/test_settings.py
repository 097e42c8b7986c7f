"""Which environment variables turn which platform on."""

from bot.channels.settings import PLATFORMS, platform_status, platform_statuses

TWILIO = next(p for p in PLATFORMS if p.name == "twilio")
TELEGRAM = next(p for p in PLATFORMS if p.name == "telegram")


def test_the_four_platforms_keep_rasas_channel_names() -> None:
    assert [(p.name, p.channel) for p in PLATFORMS] == [
        ("telegram", "bot.channels.telegram.TelegramInput"),
        ("slack", "bot.channels.slack.SlackInput"),
        ("facebook", "bot.channels.facebook.FacebookInput"),
        ("twilio", "bot.channels.twilio.TwilioInput"),
    ]


def test_nothing_set_means_every_platform_is_off() -> None:
    statuses = platform_statuses({"HOME": "/root"})
    assert [(s.enabled, s.mentioned) for s in statuses] == [(False, False)] * 4
    assert statuses[1].missing == ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")


def test_a_platform_is_on_when_its_required_variables_are_set() -> None:
    environ = {
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_SECRET_TOKEN": "s3cret",
        "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/webhooks/telegram/webhook",
        "TELEGRAM_API_URL": "  ",
    }
    status = platform_status(TELEGRAM, environ)
    assert status.enabled and status.missing == ()
    assert status.credentials() == {
        "access_token": "${TELEGRAM_BOT_TOKEN}",
        "secret_token": "${TELEGRAM_SECRET_TOKEN}",
        "webhook_url": "${TELEGRAM_WEBHOOK_URL}",
    }
    assert status.values({**environ, "TELEGRAM_BOT_TOKEN": " 123:abc\n"})["access_token"] == (
        "123:abc"
    )


def test_twilio_needs_one_of_its_numbers() -> None:
    account = {
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_WEBHOOK_URL": "https://bot.example.com/webhooks/twilio/webhook",
    }
    without = platform_status(TWILIO, account)
    assert (without.enabled, without.mentioned) == (False, True)
    assert without.missing == ("TWILIO_SMS_NUMBER or TWILIO_WHATSAPP_NUMBER",)
    whatsapp = platform_status(TWILIO, {**account, "TWILIO_WHATSAPP_NUMBER": "+14155238886"})
    assert whatsapp.enabled
    assert whatsapp.credentials()["whatsapp_number"] == "${TWILIO_WHATSAPP_NUMBER}"
    assert "twilio_number" not in whatsapp.credentials()
    partial = platform_status(TWILIO, {"TWILIO_SMS_NUMBER": "+14155550100"})
    assert partial.missing == ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_URL")
