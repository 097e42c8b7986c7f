from pathlib import Path

import pytest

from bot.web.settings import DEFAULT_WIDGET_JS, WebSettings


def test_defaults() -> None:
    settings = WebSettings.from_env({})
    assert settings == WebSettings(
        host="0.0.0.0",
        port=8080,
        rasa_url="http://localhost:5005",
        rasa_timeout_s=10,
        allowed_origins=("*",),
        widget_js=DEFAULT_WIDGET_JS,
    )
    assert DEFAULT_WIDGET_JS.parts[-4:] == ("node_modules", "rasa-webchat", "lib", "index.js")
    assert settings.origin_allowed("https://anything.example")


def test_every_variable_is_read() -> None:
    settings = WebSettings.from_env(
        {
            "WEB_HOST": " 127.0.0.1 ",
            "WEB_PORT": "9000",
            "WEB_RASA_URL": "https://rasa.internal:5005/",
            "WEB_RASA_TIMEOUT_S": "3",
            "WEB_ALLOWED_ORIGINS": "https://shop.example.com, http://localhost:3000/",
            "WEB_WIDGET_JS": "/opt/webchat.js",
        }
    )
    assert settings == WebSettings(
        host="127.0.0.1",
        port=9000,
        rasa_url="https://rasa.internal:5005",
        rasa_timeout_s=3,
        allowed_origins=("https://shop.example.com", "http://localhost:3000"),
        widget_js=Path("/opt/webchat.js"),
    )
    assert settings.origin_allowed("https://shop.example.com")
    assert settings.origin_allowed("http://localhost:3000/")
    assert not settings.origin_allowed("https://evil.example")


def test_none_allows_only_the_servers_own_page() -> None:
    settings = WebSettings.from_env({"WEB_ALLOWED_ORIGINS": "none"})
    assert settings.allowed_origins == ()
    assert not settings.origin_allowed("https://shop.example.com")


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"WEB_PORT": "eighty"}, "WEB_PORT must be an integer, got 'eighty'"),
        ({"WEB_PORT": "70000"}, "WEB_PORT must be at most 65535, got 70000"),
        ({"WEB_PORT": "0"}, "WEB_PORT must be at least 1, got 0"),
        ({"WEB_RASA_TIMEOUT_S": "0"}, "WEB_RASA_TIMEOUT_S must be at least 1, got 0"),
        ({"WEB_RASA_URL": "localhost:5005"}, "WEB_RASA_URL must be an http(s) URL"),
        ({"WEB_RASA_URL": "ftp://rasa"}, "WEB_RASA_URL must be an http(s) URL"),
        (
            {"WEB_ALLOWED_ORIGINS": "shop.example.com"},
            "WEB_ALLOWED_ORIGINS takes origins such as https://shop.example.com, "
            "got 'shop.example.com'",
        ),
        (
            {"WEB_ALLOWED_ORIGINS": "https://shop.example.com/chat"},
            "WEB_ALLOWED_ORIGINS takes origins such as https://shop.example.com",
        ),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(environ: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        WebSettings.from_env(environ)
    assert str(error.value).startswith(message)
