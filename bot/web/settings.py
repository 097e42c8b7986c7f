"""Settings of the web widget server, read from the environment in one place.

Every ``WEB_*`` variable is read here, with a type and a default.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Tuple
from urllib.parse import urlsplit

from actions.settings import _check_http_url, _get_bool, _get_int, _get_port, _get_str

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WIDGET_JS = ROOT / "node_modules" / "rasa-webchat" / "lib" / "index.js"
"""rasa-webchat's standalone bundle, installed by ``make setup`` (``npm ci``)."""


@dataclass(frozen=True)
class WebSettings:
    """Typed settings of ``python -m bot.web serve``.

    Attributes:
        host: Interface to listen on. ``WEB_HOST``; "0.0.0.0".
        port: Port. ``WEB_PORT``; 8080.
        rasa_url: Rasa's base URL; the server relays the widget's socket.io
            connection and inbox requests there. ``WEB_RASA_URL``;
            "http://localhost:5005".
        rasa_timeout_s: Seconds to wait for Rasa to accept a connection.
            ``WEB_RASA_TIMEOUT_S``; 10.
        allowed_origins: Sites (``scheme://host[:port]``) whose pages may
            embed the widget and talk to this server; ``("*",)`` allows every
            site, ``()`` only this server's own page. ``WEB_ALLOWED_ORIGINS``,
            comma separated; "*".
        widget_js: rasa-webchat's bundle. ``WEB_WIDGET_JS``;
            ``node_modules/rasa-webchat/lib/index.js`` in the project.
        websockets: Relay socket.io's websocket transport too. Off, the widget
            uses long polling: Rasa 3.6's websockets fail on Python 3.11 (see
            :mod:`bot.web.proxy`). ``WEB_WEBSOCKETS``; false.
    """

    host: str = "0.0.0.0"
    port: int = 8080
    rasa_url: str = "http://localhost:5005"
    rasa_timeout_s: int = 10
    allowed_origins: Tuple[str, ...] = ("*",)
    widget_js: Path = DEFAULT_WIDGET_JS
    websockets: bool = False

    def __post_init__(self) -> None:
        _check_http_url("WEB_RASA_URL", self.rasa_url)
        for origin in self.allowed_origins:
            if origin != "*":
                _check_origin(origin)

    def origin_allowed(self, origin: str) -> bool:
        """Whether a page from ``origin`` (another site) may use the widget server."""
        return "*" in self.allowed_origins or origin.rstrip("/") in self.allowed_origins

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "WebSettings":
        """Build settings from environment variables.

        Args:
            environ: The environment to read; ``os.environ`` by default.

        Returns:
            The parsed settings.

        Raises:
            ValueError: If a variable is set to a value of the wrong type.
        """
        origins = _get_str(environ, "WEB_ALLOWED_ORIGINS")
        widget_js = _get_str(environ, "WEB_WIDGET_JS")
        return cls(
            host=_get_str(environ, "WEB_HOST") or "0.0.0.0",
            port=_get_port(environ, "WEB_PORT", 8080),
            rasa_url=(_get_str(environ, "WEB_RASA_URL") or "http://localhost:5005").rstrip("/"),
            rasa_timeout_s=_get_int(environ, "WEB_RASA_TIMEOUT_S", 10, minimum=1),
            allowed_origins=("*",) if origins is None else _split_origins(origins),
            widget_js=Path(widget_js) if widget_js else DEFAULT_WIDGET_JS,
            websockets=_get_bool(environ, "WEB_WEBSOCKETS", False),
        )


def _split_origins(raw: str) -> Tuple[str, ...]:
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    if "none" in origins:
        return ()
    return origins


def _check_origin(origin: str) -> None:
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path or parts.query:
        raise ValueError(
            f"WEB_ALLOWED_ORIGINS takes origins such as https://shop.example.com, got {origin!r}"
        )
