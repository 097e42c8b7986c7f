from pathlib import Path

import pytest

from bot.web.__main__ import main


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
