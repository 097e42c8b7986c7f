from pathlib import Path
from typing import List, Tuple

import pytest

from nlu_models.benchmark.__main__ import main
from nlu_models.benchmark.sentiment_topics import ALPHAS, run, topic_of
from nlu_models.text_classifier import TrainingOptions

FAST = TrainingOptions(
    epochs=2,
    batch_size=4,
    learning_rate=5e-4,
    validation_fraction=0.2,
    show_progress=False,
    device="cpu",
    balance_classes=True,
)
TRAINING_TOPICS = {
    "airline": [
        ("negative", "@united my flight was cancelled again, awful"),
        ("negative", "@USAirways lost my bag on the flight, furious"),
        ("negative", "worst airline ever, four hour delay"),
        ("neutral", "@JetBlue what time does flight 22 board"),
        ("neutral", "@SouthwestAir is there wifi on this flight"),
        ("neutral", "airline check-in opens at six"),
        ("positive", "@VirginAmerica lovely crew on my flight, thanks"),
        ("positive", "@AmericanAir smooth flight and early landing"),
        ("positive", "best airline staff I have met"),
    ],
    "deflategate": [
        ("negative", "Brady cheated and the Patriots should pay"),
        ("negative", "deflategate is a disgrace to the NFL"),
        ("negative", "Goodell botched this whole thing, terrible"),
        ("neutral", "NFL releases the deflategate report today"),
        ("neutral", "Brady press conference at 4pm"),
        ("neutral", "Patriots play on Sunday night"),
        ("positive", "so proud of the Patriots, great season"),
        ("positive", "Brady is the best quarterback ever"),
        ("positive", "love this NFL season already"),
    ],
    "self-driving": [
        ("negative", "self-driving cars scare me, they crash"),
        ("negative", "driverless taxis are a terrible idea"),
        ("negative", "autonomous trucks will kill jobs, awful"),
        ("neutral", "Google car spotted downtown today"),
        ("neutral", "new law on driverless vehicles in Nevada"),
        ("neutral", "self-driving test route announced"),
        ("positive", "self-driving cars will save so many lives"),
        ("positive", "rode in a driverless car, amazing"),
        ("positive", "autonomous buses are brilliant"),
    ],
}
HELD_OUT = {
    "apple": [
        ("negative", "my iphone battery died again, hate it"),
        ("neutral", "Apple event starts at 10am"),
        ("positive", "love my new ipad"),
    ],
    "coachella": [
        ("negative", "coachella tickets sold out, so sad"),
        ("neutral", "coachella lineup comes out tomorrow"),
        ("positive", "coachella was the best weekend ever"),
    ],
    "other": [
        ("negative", "this allergy season is miserable"),
        ("neutral", "pharmacy opens at nine"),
        ("positive", "finally feeling better, great day"),
    ],
}


def _write(path: Path, rows: List[Tuple[str, str]]) -> Path:
    lines = ["sentiment,confidence,text"] + [f'{label},0.9,"{text}"' for label, text in rows]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("@united where is my bag", "airline"),
        ("Tom Brady and the footballs", "deflategate"),
        ("Driverless cars in Austin", "self-driving"),
        ("heading to Coachella!", "coachella"),
        ("new iPhone who dis", "apple"),
        ("my flight to coachella is late", "mixed"),
        ("need my claritin", "other"),
    ],
)
def test_topics_come_from_keywords_of_the_raw_text(text: str, topic: str) -> None:
    assert topic_of(text) == topic


def test_holds_out_the_small_topics_and_scores_every_alpha(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    rows = [row for topic in (*TRAINING_TOPICS.values(), *HELD_OUT.values()) for row in topic]
    corpus = _write(tmp_path / "corpus.csv", rows)
    report = run(corpus, FAST, str(tiny_checkpoint), alphas=(0.0, 0.5, 1.0), probe_sample=100)
    assert report["topics"] == {
        "airline": 9,
        "apple": 3,
        "coachella": 3,
        "deflategate": 9,
        "other": 3,
        "self-driving": 9,
    }
    assert (report["train_rows"], report["held_out_rows"]) == (27, 9)
    assert report["training"]["train_examples"] + report["training"]["validation_examples"] == 27
    assert [row["alpha"] for row in report["wise"]] == [0.0, 0.5, 1.0]
    for row in report["wise"]:
        assert 0.0 <= row["held_out_macro_recall"] <= 1.0
        assert 0.0 <= row["validation_macro_recall"] <= 1.0
    assert [(row["topic"], row["rows"]) for row in report["fusion_leave_one_topic_out"]] == [
        ("apple", 3),
        ("coachella", 3),
        ("other", 3),
    ]
    assert ALPHAS[0] == 0.0 and ALPHAS[-1] == 1.0


def test_a_corpus_without_the_held_out_topics_is_refused(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    rows = [row for topic in TRAINING_TOPICS.values() for row in topic]
    corpus = _write(tmp_path / "corpus.csv", rows)
    with pytest.raises(ValueError, match="no tweets of the held-out topics"):
        run(corpus, FAST, str(tiny_checkpoint))


def test_a_held_out_side_without_a_label_is_refused(tmp_path: Path, tiny_checkpoint: Path) -> None:
    held = [row for topic in HELD_OUT.values() for row in topic if row[0] != "positive"]
    rows = [row for topic in TRAINING_TOPICS.values() for row in topic] + held
    corpus = _write(tmp_path / "corpus.csv", rows)
    with pytest.raises(ValueError, match="held-out topics lack a label"):
        run(corpus, FAST, str(tiny_checkpoint))


def test_the_held_out_topics_can_be_chosen(tmp_path: Path, tiny_checkpoint: Path) -> None:
    rows = [row for topic in (*TRAINING_TOPICS.values(), *HELD_OUT.values()) for row in topic]
    corpus = _write(tmp_path / "corpus.csv", rows)
    report = run(
        corpus, FAST, str(tiny_checkpoint), alphas=(1.0,), held_out_topics=("apple", "other")
    )
    assert report["held_out_topics"] == ["apple", "other"]
    assert (report["train_rows"], report["held_out_rows"]) == (30, 6)  # Coachella trains
    assert [row["alpha"] for row in report["wise"]] == [1.0]
    assert [row["topic"] for row in report["fusion_leave_one_topic_out"]] == ["apple", "other"]


@pytest.mark.parametrize(
    ("topics", "message"),
    [
        (("apple",), "Hold out at least two topics"),
        (("apple", "apple"), "Hold out at least two topics"),
        (("apple", "mars"), r"Unknown topics \['mars'\]"),
    ],
)
def test_unusable_held_out_topics_are_refused(
    topics: tuple, message: str, tiny_checkpoint: Path
) -> None:
    with pytest.raises(ValueError, match=message):
        run(Path("/nonexistent.csv"), FAST, str(tiny_checkpoint), held_out_topics=topics)


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--alphas", "0.5,2"], "error: --alphas must be numbers from 0 to 1, got '2'"),
        (["--alphas", "half"], "error: --alphas must be numbers from 0 to 1, got 'half'"),
        (["--epochs", "0"], "error: --epochs must be at least 1"),
        (["--held-out-topics", "apple"], "error: Hold out at least two topics"),
    ],
)
def test_the_command_refuses_bad_options(
    argv: list, error: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "report.json"
    assert main(["sentiment-topics", "--out", str(out), *argv]) == 2
    assert capsys.readouterr().err.startswith(error)
    assert not out.exists()
