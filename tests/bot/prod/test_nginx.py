"""Rendering the nginx configuration from deploy/nginx.conf.template."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.prod.messages import ACTIONS_UNAVAILABLE, ASSISTANT_UNAVAILABLE, RASA_UNAVAILABLE
from bot.prod.nginx import (
    TEMPLATE_PATH,
    quote_for_nginx,
    render_nginx_config,
    render_template,
    upstream_servers,
    write_nginx_config,
)
from bot.prod.settings import ProductionSettings


def settings(tmp_path: Path, **overrides: object) -> ProductionSettings:
    values = {
        "rasa_auth_token": "t",
        "public_port": 7005,
        "actions_proxy_port": 7055,
        "rasa_ports": (7006, 7007),
        "actions_ports": (7056, 7057, 7058),
        "run_dir": tmp_path / "run",
        "log_dir": tmp_path / "logs",
        **overrides,
    }
    return ProductionSettings(**values)  # type: ignore[arg-type]


def test_placeholders_are_filled() -> None:
    assert render_template("a {{ x }} b {{y}} {{ x }}", {"x": "1", "y": "$2"}) == "a 1 b $2 1"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"x": "1"}, r"missing \['y'\], unused \[\]"),
        ({"x": "1", "y": "2", "z": "3"}, r"missing \[\], unused \['z'\]"),
    ],
)
def test_a_missing_or_unused_value_is_an_error(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_template("{{ x }} {{ y }}", values)


def test_text_is_quoted_for_nginx() -> None:
    assert quote_for_nginx("""can't \\ "x" {}""") == """can\\'t \\\\ "x" {}"""
    for bad in ("costs $5", "two\nlines"):
        with pytest.raises(ValueError, match="must not hold"):
            quote_for_nginx(bad)


def test_upstream_lines() -> None:
    assert upstream_servers((1, 2)) == (
        "        server 127.0.0.1:1 max_fails=1 fail_timeout=2s;\n"
        "        server 127.0.0.1:2 max_fails=1 fail_timeout=2s;"
    )


def test_the_configuration_lists_every_instance_and_the_error_bodies(tmp_path: Path) -> None:
    config = render_nginx_config(settings(tmp_path), TEMPLATE_PATH.read_text())
    assert "{{" not in config
    assert config.count("server 127.0.0.1:7006 ") == 2  # round robin and sticky
    assert config.count("server 127.0.0.1:7058 ") == 1
    assert "listen 0.0.0.0:7005;" in config
    assert "listen 127.0.0.1:7055;" in config
    assert f"pid {tmp_path}/run/nginx.pid;" in config
    assert quote_for_nginx(json.dumps({"error": ASSISTANT_UNAVAILABLE})) in config
    assert quote_for_nginx(json.dumps({"error": RASA_UNAVAILABLE})) in config
    assert "can\\'t look anything up" in config and ACTIONS_UNAVAILABLE.startswith("Sorry")


def test_an_ipv6_listen_address_is_bracketed(tmp_path: Path) -> None:
    config = render_nginx_config(settings(tmp_path, listen_host="::1"), TEMPLATE_PATH.read_text())
    assert "listen [::1]:7005;" in config


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_written_configuration(tmp_path: Path) -> None:
    current = settings(tmp_path)
    path = write_nginx_config(current)
    assert path == tmp_path / "run" / "nginx.conf"
    assert (tmp_path / "run" / "nginx" / "client_body").is_dir()
    result = subprocess.run(
        ["nginx", "-t", "-p", str(current.run_dir), "-c", str(path), "-e", "/dev/stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
