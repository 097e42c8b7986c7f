from pathlib import Path
from typing import Iterator

import pytest

from bot.privacy import log_masking_installed, uninstall_log_masking
from bot.web.__main__ import main


@pytest.fixture(autouse=True)
def no_log_masking_left_behind() -> Iterator[None]:
    uninstall_log_masking()
    yield
    uninstall_log_masking()


def test_a_bad_setting_stops_the_server_with_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("WEB_RASA_URL", "localhost:5005")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "error: WEB_RASA_URL must be an http(s) URL, got 'localhost:5005'\n"
    )


def test_a_missing_widget_stops_the_server_with_advice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    missing = tmp_path / "node_modules" / "rasa-webchat" / "lib" / "index.js"
    monkeypatch.setenv("WEB_WIDGET_JS", str(missing))
    assert main(["serve", "--port", "1"]) == 2
    assert capsys.readouterr().err == (
        f"error: rasa-webchat is not installed ({missing} is missing): run `make setup`\n"
    )


def test_serve_is_required() -> None:
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2


def test_the_server_masks_customer_data_in_its_logs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("WEB_RASA_URL", "localhost:5005")
    assert main(["serve"]) == 2
    assert log_masking_installed()


def test_a_bad_body_cap_stops_the_server_with_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    widget = tmp_path / "index.js"
    widget.write_text("window.WebChat = {};")
    monkeypatch.setenv("WEB_WIDGET_JS", str(widget))
    monkeypatch.setenv("CHANNEL_MAX_BODY_BYTES", "ten")
    assert main(["serve", "--port", "1"]) == 2
    assert capsys.readouterr().err == (
        "error: CHANNEL_MAX_BODY_BYTES must be an integer, got 'ten'\n"
    )
