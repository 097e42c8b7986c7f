"""The Rasa command line over the project: data validation, test stories, bad config."""

from pathlib import Path

import pytest
import yaml

from tests.e2e.helpers import ROOT, run_rasa

pytestmark = pytest.mark.slow


def test_training_data_validates_without_warnings() -> None:
    result = run_rasa(
        [
            "data",
            "validate",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--data",
            "bot/data",
            "--fail-on-warnings",
        ]
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_end_to_end_test_stories_pass(trained_model: Path, tmp_path: Path) -> None:
    result = run_rasa(
        [
            "test",
            "core",
            "--model",
            str(trained_model),
            "--stories",
            "tests/stories",
            "--fail-on-prediction-errors",
            "--out",
            str(tmp_path),
        ]
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, details + result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"epoch": 3}, "unknown option(s) 'epoch'"),
        ({"checkpoint": "/nonexistent/bert-model"}, "'/nonexistent/bert-model' does not exist"),
    ],
)
def test_rasa_train_fails_with_a_clear_message_on_bad_config(
    tmp_path: Path, options: dict, message: str
) -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text())
    for step in config["pipeline"]:
        if step["name"].endswith("BertIntentClassifier"):
            step.update(options)
    config_path = tmp_path / "config.yml"
    config_path.write_text(yaml.safe_dump(config))
    result = run_rasa(
        [
            "train",
            "nlu",
            "--config",
            str(config_path),
            "--nlu",
            "bot/data/nlu.yml",
            "--out",
            str(tmp_path / "models"),
        ],
        timeout=600,
    )
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not list((tmp_path / "models").glob("*.tar.gz"))
