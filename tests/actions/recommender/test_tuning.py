import json
from pathlib import Path

import pytest

from actions.recommender.evaluation import EVAL_FILE
from actions.recommender.tuning import MemoEmbedder, SweepRow, choose, main
from tests.actions.recommender.support import FakeEmbedder


def test_choose_takes_precision_then_ndcg_then_the_smaller_weight() -> None:
    rows = [
        SweepRow(0.0, 0.50, 0.70, 0.6),
        SweepRow(0.5, 0.60, 0.80, 0.7),
        SweepRow(1.0, 0.60, 0.85, 0.7),
        SweepRow(2.0, 0.60, 0.85, 0.7),
    ]

    assert choose(rows) == SweepRow(1.0, 0.60, 0.85, 0.7)
    with pytest.raises(ValueError, match="no weights"):
        choose([])


def test_the_memo_embeds_each_text_once() -> None:
    inner = FakeEmbedder()
    memo = MemoEmbedder(inner)

    first = memo.embed(["quiet", "loud", "quiet"])
    second = memo.embed(["loud", "new"])

    assert inner.calls == [["quiet", "loud"], ["new"]]
    assert (first[0] == first[2]).all() and (second[0] == first[1]).all()
    assert memo.texts_remembered == 3 and memo.model_name == "fake-bow"
    assert memo.embed([]).shape == (0, 256)


def test_the_sweep_runs_on_the_tune_half_only(tmp_path: Path) -> None:
    lines = EVAL_FILE.read_text(encoding="utf-8").splitlines()
    wanted = {"hp-01", "hp-02", "hp-03", "hp-04", "lt-01", "lt-02"}
    eval_file = tmp_path / "subset.jsonl"
    eval_file.write_text(
        "\n".join(line for line in lines if json.loads(line)["id"] in wanted) + "\n"
    )
    out = tmp_path / "tuning.json"
    inner = FakeEmbedder()

    argv = ["--out", str(out), "--eval", str(eval_file), "--weights", "0", "2"]
    assert main(argv, embedder=inner) == 0

    result = json.loads(out.read_text())
    assert (result["split"], result["needs"]) == ("tune", 3)  # hp-02, hp-04, lt-02
    assert [row["keyword_weight"] for row in result["rows"]] == [0.0, 2.0]
    best = choose([SweepRow(**row) for row in result["rows"]])
    assert result["chosen_keyword_weight"] == best.keyword_weight
    # The catalogue is embedded once for both weights: 342 products, then 3 queries.
    assert inner.texts_embedded == 342 + 3


@pytest.mark.parametrize("weights", [["-1"], ["x"]])
def test_bad_weights_are_rejected(tmp_path: Path, weights: list) -> None:
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "t.json"), "--weights", *weights], embedder=FakeEmbedder())
    assert not (tmp_path / "t.json").exists()
