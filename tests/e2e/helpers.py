"""Helpers for end-to-end tests: the Rasa CLI, free ports, waiting for servers, a browser."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).parent / "rasa")
CHROMIUM = "/usr/bin/chromium"


def run_rasa(args: List[str], timeout: int = 1500) -> subprocess.CompletedProcess:
    """Runs a ``rasa`` CLI command from the project root and captures its output."""
    return subprocess.run(
        [RASA, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, seconds: int) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not come up in {seconds} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def chromium_page(
    url: str, width: int, timeout_ms: int, expected_error: Callable[[str], bool]
) -> Iterator[Any]:
    """Headless chromium (Debian's, through Playwright) open on ``url``.

    Skips the test without Playwright or chromium. After the block, fails the
    test on any page error and on console errors ``expected_error`` does not accept.
    """
    playwright_api = pytest.importorskip("playwright.sync_api")
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is missing; run `make setup`")
    problems: List[str] = []
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
        context.set_default_timeout(timeout_ms)
        page = context.new_page()

        def on_console(message: Any) -> None:
            if message.type == "error" and not expected_error(message.text):
                problems.append(f"console: {message.text}")

        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", on_console)
        page.goto(url)
        yield page
        context.close()
        browser.close()
    assert problems == []
