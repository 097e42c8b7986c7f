"""The TED cache replay: hits and misses over test stories, from a model archive."""

import json
from pathlib import Path
from typing import Any, Dict

import pytest
from rasa.engine.graph import GraphModelConfiguration, GraphSchema, SchemaNode
from rasa.shared.data import TrainingType

from bot.loadtest.ted_cache import load_policy, main, measure, prediction_points
from bot.policies.cached_ted_policy import CachedTEDPolicy
from tests.bot.small_ted import CONFIG, DOMAIN

# Two customers with the same intents in other words, then one who complains.
TEST_STORIES = """
version: "3.1"
stories:
  - story: order status
    steps:
      - user: |
          hello there
        intent: greet
      - action: utter_greet
      - user: |
          where is my parcel
        intent: order_status
      - action: utter_order_status
  - story: order status again
    steps:
      - user: |
          hi
        intent: greet
      - action: utter_greet
      - user: |
          has my order shipped yet
        intent: order_status
      - action: utter_order_status
  - story: complaint
    steps:
      - user: |
          this is the third time it broke
        intent: complain
      - action: utter_sorry
"""


@pytest.fixture
def archive(small_ted: Dict[str, Any], tmp_path: Path) -> Path:
    """The small model packed as a Rasa model archive with the policy in its predict graph."""
    node = SchemaNode(
        needs={},
        uses=CachedTEDPolicy,
        constructor_name="load",
        fn="predict_action_probabilities",
        config=dict(CONFIG),
        resource=small_ted["resource"],
    )
    predict = GraphSchema({"run_CachedTEDPolicy": node})
    configuration = GraphModelConfiguration(
        GraphSchema({}), predict, TrainingType.CORE, "test", "en", None, None
    )
    path = tmp_path / "model.tar.gz"
    small_ted["storage"].create_model_package(path, configuration, DOMAIN)
    return path


@pytest.fixture
def stories(tmp_path: Path) -> Path:
    path = tmp_path / "stories" / "test_stories.yml"
    path.parent.mkdir()
    path.write_text(TEST_STORIES)
    return path.parent


def test_the_second_customer_with_the_same_intents_is_served_from_the_cache(
    archive: Path, stories: Path, tmp_path: Path
) -> None:
    policy, domain = load_policy(archive, tmp_path / "unpacked")
    points = prediction_points(stories, domain)
    per_story = sorted(sum(1 for number, _ in points if number == story) for story in range(3))

    report = measure(policy, domain, points)

    # Rasa predicts after each customer message and each bot action: twice a
    # turn. The second greet/order customer's states are all the first one's.
    assert per_story == [2, 4, 4]
    assert report.conversations == 3
    assert report.predictions == len(points) == 10
    assert (report.hits, report.misses) == (4, 6)
    assert report.hit_rate == round(report.hits / report.predictions, 4)
    assert report.ted_ms_median > 0 and report.hit_ms_median > 0


def test_the_command_writes_its_report(archive: Path, stories: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "ted_cache.json"
    assert main(["--model", str(archive), "--stories", str(stories), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["conversations"] == 3 and report["hits"] == 4


def test_a_missing_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tmp_path / "nope.tar.gz")])
    assert exit_info.value.code == 2
    assert "run `make train` first" in capsys.readouterr().err


def test_a_model_without_the_policy_is_a_clear_error(
    small_ted: Dict[str, Any], tmp_path: Path
) -> None:
    configuration = GraphModelConfiguration(
        GraphSchema({}), GraphSchema({}), TrainingType.CORE, "test", "en", None, None
    )
    path = tmp_path / "model.tar.gz"
    small_ted["storage"].create_model_package(path, configuration, DOMAIN)
    with pytest.raises(ValueError, match="has no CachedTEDPolicy"):
        load_policy(path, tmp_path / "unpacked")
