"""The nginx configuration of production mode, rendered from deploy/nginx.conf.template.

The template's placeholders are ``{{ name }}`` (nginx itself uses ``$``); a
placeholder without a value, or a value without a placeholder, is an error.
"""

import re
from pathlib import Path
from typing import Mapping, Sequence

from actions.settings import PROJECT_ROOT
from bot.prod.messages import (
    ASSISTANT_UNAVAILABLE,
    RASA_UNAVAILABLE,
    RETRY_AFTER_S,
    actions_down_body,
    error_body,
)
from bot.prod.settings import ProductionSettings

TEMPLATE_PATH = PROJECT_ROOT / "deploy" / "nginx.conf.template"
NGINX_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")

# An instance that failed is left alone for this long: short, so that a restarted
# one is used again at once; probing a dead local port costs one refused connect.
_FAIL_TIMEOUT_S = 2
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Fill the ``{{ name }}`` placeholders of a template.

    Args:
        template: The template text.
        values: The value of every placeholder.

    Returns:
        The rendered text.

    Raises:
        ValueError: If a placeholder has no value or a value is not used.
    """
    names = set(_PLACEHOLDER.findall(template))
    missing = sorted(names - set(values))
    unused = sorted(set(values) - names)
    if missing or unused:
        raise ValueError(f"template placeholders: missing {missing}, unused {unused}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def quote_for_nginx(text: str) -> str:
    """Escape text for a single-quoted nginx string.

    Args:
        text: The text, e.g. a JSON body for ``return``.

    Returns:
        The text with backslashes and single quotes escaped.

    Raises:
        ValueError: If the text holds a ``$`` (nginx would read a variable) or
            a line break.
    """
    if "$" in text or "\n" in text or "\r" in text:
        raise ValueError(f"text for nginx must not hold '$' or line breaks: {text!r}")
    return text.replace("\\", "\\\\").replace("'", "\\'")


def upstream_servers(ports: Sequence[int]) -> str:
    """Return the ``server`` lines of an upstream block for local ports."""
    return "\n".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout={_FAIL_TIMEOUT_S}s;"
        for port in ports
    )


def render_nginx_config(settings: ProductionSettings, template: str) -> str:
    """Render the nginx configuration for the settings.

    Args:
        settings: The production settings (ports, folders).
        template: The text of deploy/nginx.conf.template.

    Returns:
        The configuration.
    """
    listen_host = settings.listen_host
    if ":" in listen_host and not listen_host.startswith("["):
        listen_host = f"[{listen_host}]"
    return render_template(
        template,
        {
            "run_dir": str(settings.run_dir),
            "log_dir": str(settings.log_dir),
            "listen_host": listen_host,
            "public_port": str(settings.public_port),
            "actions_proxy_port": str(settings.actions_proxy_port),
            "rasa_ports": ", ".join(map(str, settings.rasa_ports)),
            "actions_ports": ", ".join(map(str, settings.actions_ports)),
            "rasa_servers": upstream_servers(settings.rasa_ports),
            "actions_servers": upstream_servers(settings.actions_ports),
            "retry_after_s": str(RETRY_AFTER_S),
            "assistant_unavailable_body": quote_for_nginx(error_body(ASSISTANT_UNAVAILABLE)),
            "rasa_unavailable_body": quote_for_nginx(error_body(RASA_UNAVAILABLE)),
            "actions_down_body": quote_for_nginx(actions_down_body()),
        },
    )


def write_nginx_config(settings: ProductionSettings, template_path: Path = TEMPLATE_PATH) -> Path:
    """Render the configuration into the run folder, with nginx's temporary folders.

    Args:
        settings: The production settings.
        template_path: The template; deploy/nginx.conf.template by default.

    Returns:
        The path of the written ``nginx.conf``.
    """
    for name in NGINX_TEMP_DIRS:
        (settings.run_dir / "nginx" / name).mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    path = settings.run_dir / "nginx.conf"
    path.write_text(render_nginx_config(settings, template_path.read_text()))
    return path
