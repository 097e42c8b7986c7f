"""The rendered nginx configuration, run by a real nginx in front of small fake servers.

Fake Rasa instances and action servers (threads with ``http.server``) answer
with their own name, or fail the way real ones do; nginx must spread requests,
skip a dead instance, and turn outages into the documented JSON answers.
"""

import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests

from bot.prod.messages import ACTIONS_UNAVAILABLE, ASSISTANT_UNAVAILABLE, RASA_UNAVAILABLE
from bot.prod.nginx import write_nginx_config
from bot.prod.settings import ProductionSettings
from tests.e2e.helpers import free_port

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")

TRACEBACK_PAGE = b"<html>Traceback (most recent call last): ...</html>"


class FakeServer:
    """A fake upstream on a port; ``mode`` is "ok" or "error" (500 with an HTML traceback)."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.mode = "ok"
        self.bodies: List[bytes] = []
        self.connections: List[int] = []  # the client port of each request
        self._server: Any = None

    def start(self, keep_alive: bool = False) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0 closes the connection after each answer, as a stopped
            # server's connections close; HTTP/1.1 keeps it open.
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.bodies.append(body)
                fake.connections.append(self.client_address[1])
                if fake.mode == "error":
                    self._answer(500, TRACEBACK_PAGE, "text/html")
                else:
                    answer = {"server": fake.name, "path": self.path}
                    self._answer(200, json.dumps(answer).encode(), "application/json")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Tuple[ProductionSettings, Dict[str, FakeServer]]]:
    settings = ProductionSettings(
        rasa_auth_token="t",
        listen_host="127.0.0.1",
        public_port=free_port(),
        actions_proxy_port=free_port(),
        rasa_ports=(free_port(), free_port()),
        actions_ports=(free_port(), free_port()),
        run_dir=tmp_path / "run",
        log_dir=tmp_path / "logs",
    )
    fakes = {
        "rasa-1": FakeServer("rasa-1", settings.rasa_ports[0]),
        "rasa-2": FakeServer("rasa-2", settings.rasa_ports[1]),
        "actions-1": FakeServer("actions-1", settings.actions_ports[0]),
        "actions-2": FakeServer("actions-2", settings.actions_ports[1]),
    }
    for fake in fakes.values():
        fake.start()
    config = write_nginx_config(settings)
    nginx = subprocess.Popen(
        ["nginx", "-p", str(settings.run_dir), "-c", str(config), "-e", "/dev/stderr"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if requests.get(f"{settings.public_url}/lb/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert nginx.poll() is None and time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield settings, fakes
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        for fake in fakes.values():
            fake.stop()


def post(url: str, body: Any) -> requests.Response:
    return requests.post(url, json=body, timeout=10)


def webhook(settings: ProductionSettings) -> str:
    return f"{settings.public_url}/webhooks/rest/webhook"


def actions_url(settings: ProductionSettings) -> str:
    return f"http://127.0.0.1:{settings.actions_proxy_port}/webhook"


def test_messages_are_spread_over_the_rasa_instances(topology: Any) -> None:
    settings, _ = topology
    servers = [post(webhook(settings), {"sender": "a"}).json()["server"] for _ in range(4)]
    assert sorted(servers) == ["rasa-1", "rasa-1", "rasa-2", "rasa-2"]


def test_a_dead_rasa_instance_is_skipped(topology: Any) -> None:
    settings, fakes = topology
    fakes["rasa-1"].stop()
    answers = [post(webhook(settings), {"sender": "a"}) for _ in range(4)]
    assert [(a.status_code, a.json()["server"]) for a in answers] == [(200, "rasa-2")] * 4


def test_no_rasa_instance_gives_json_503s(topology: Any) -> None:
    settings, fakes = topology
    fakes["rasa-1"].stop()
    fakes["rasa-2"].stop()
    answer = post(webhook(settings), {"sender": "a", "message": "hi"})
    assert answer.status_code == 503
    assert answer.json() == {"error": ASSISTANT_UNAVAILABLE}
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["Content-Type"] == "application/json"
    api = post(f"{settings.public_url}/conversations/a/tracker/events?token=t", [])
    assert (api.status_code, api.json()) == (503, {"error": RASA_UNAVAILABLE})


def test_a_rasa_error_page_never_reaches_a_customer(topology: Any) -> None:
    settings, fakes = topology
    fakes["rasa-1"].mode = fakes["rasa-2"].mode = "error"
    answer = post(webhook(settings), {"sender": "a", "message": "hi"})
    assert (answer.status_code, answer.json()) == (503, {"error": ASSISTANT_UNAVAILABLE})
    # The API's own errors pass through: the handoff service retries on them.
    api = post(f"{settings.public_url}/conversations/a/tracker/events?token=t", [])
    assert (api.status_code, api.content) == (500, TRACEBACK_PAGE)


def test_a_huge_body_is_a_json_413(topology: Any) -> None:
    settings, fakes = topology
    huge = {"sender": "a", "message": "x" * 2_000_000}
    for url in (webhook(settings), f"{settings.public_url}/conversations/a/tracker/events"):
        answer = post(url, huge)
        assert (answer.status_code, answer.json()) == (
            413,
            {"error": "the request body is too large"},
        )
    assert fakes["rasa-1"].bodies == [] and fakes["rasa-2"].bodies == []


def test_connections_to_the_action_servers_are_kept_alive(topology: Any) -> None:
    settings, fakes = topology
    for name in ("actions-1", "actions-2"):
        fakes[name].stop()
        fakes[name].start(keep_alive=True)
    with requests.Session() as client:  # one nginx connection, so one worker
        answers = [
            client.post(actions_url(settings), json={"next_action": "action_x"}, timeout=10)
            for _ in range(6)
        ]
    assert sorted(a.json()["server"] for a in answers) == ["actions-1"] * 3 + ["actions-2"] * 3
    # Without the upstream keepalive every request would open a connection.
    assert len(set(fakes["actions-1"].connections)) == 1
    assert len(set(fakes["actions-2"].connections)) == 1


def test_a_dead_action_server_is_skipped(topology: Any) -> None:
    settings, fakes = topology
    fakes["actions-2"].stop()
    answers = [post(actions_url(settings), {"next_action": "action_x"}) for _ in range(4)]
    assert [a.json()["server"] for a in answers] == ["actions-1"] * 4


def test_without_action_servers_the_turn_monitor_apologises_once(topology: Any) -> None:
    settings, fakes = topology
    fakes["actions-1"].stop()
    fakes["actions-2"].stop()
    big_tracker = {"events": [{"event": "user", "text": "x" * 2_000_000}]}
    monitor = post(
        actions_url(settings),
        {"next_action": "action_validate_slot_mappings", "tracker": big_tracker},
    )
    assert monitor.status_code == 200
    assert monitor.json() == {"events": [], "responses": [{"text": ACTIONS_UNAVAILABLE}]}
    # Any other action fails as it would without nginx; Rasa drops its events.
    other = post(actions_url(settings), {"next_action": "action_order_status"})
    assert (other.status_code, other.json()) == (502, {"error": "no action server is answering"})
    # A customer typing the monitor's name gets no special treatment.
    sneaky = post(
        actions_url(settings),
        {
            "next_action": "action_order_status",
            "tracker": {"text": '"next_action": "action_validate_slot_mappings"'},
        },
    )
    assert sneaky.status_code == 502
