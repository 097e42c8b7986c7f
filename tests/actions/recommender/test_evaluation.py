import json
import math
from pathlib import Path

import pytest

from actions.catalogue_files import load_seed_catalogue
from actions.catalogue_vocabulary import CATEGORIES, FEATURE_BY_KEY
from actions.recommender.evaluation import (
    EVAL_FILE,
    GoldNeed,
    is_relevant,
    load_eval,
    main,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    relevant_skus,
    satisfies_constraints,
    select_split,
    split_needs,
)
from tests.actions.recommender.support import BY_SKU, FakeEmbedder


def test_precision_at_k() -> None:
    assert precision_at_k(["a", "b", "c", "d", "e"], ["a", "c", "x"], 5) == 0.4
    assert precision_at_k(["a", "b"], ["a", "b"], 5) == 0.4  # fewer results count as misses
    assert precision_at_k([], ["a"], 5) == 0.0


def test_recall_at_k() -> None:
    assert recall_at_k(["a", "b", "c"], ["a", "c", "x", "y"], 5) == 0.5
    assert recall_at_k(["a"], [], 5) == 0.0


def test_ndcg_at_k_exact_values() -> None:
    assert ndcg_at_k(["a", "b"], ["a", "b"], 5) == pytest.approx(1.0)
    # One relevant item at rank 2 of 1 relevant: (1/log2 3) / 1.
    assert ndcg_at_k(["x", "a"], ["a"], 5) == pytest.approx(1 / math.log2(3))
    # Relevant at ranks 1 and 3, two relevant in all.
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["a", "x", "b"], ["a", "b"], 5) == pytest.approx(expected)
    # Only the first k count.
    assert ndcg_at_k(["x", "y", "a"], ["a"], 2) == 0.0


def test_gold_constraints_and_relevance_rule() -> None:
    gold = GoldNeed.from_dict(
        {
            "id": "t",
            "text": "noise cancelling headphones under 300, not Bose",
            "category": "headphones",
            "budget_max_cents": 30000,
            "brands_excluded": ["Bose"],
            "conditions": [{"attribute": "noise_cancelling", "op": "==", "value": True}],
        }
    )
    assert not satisfies_constraints(BY_SKU["HP-1"], gold)  # €329
    assert satisfies_constraints(BY_SKU["HP-4"], gold)
    assert is_relevant(BY_SKU["HP-4"], gold)
    assert satisfies_constraints(BY_SKU["HP-3"], gold) and not is_relevant(BY_SKU["HP-3"], gold)
    assert not satisfies_constraints(BY_SKU["HP-5"], gold)  # sold out
    assert not satisfies_constraints(BY_SKU["HP-2"], gold)  # Bose, and too dear
    assert relevant_skus(gold, list(BY_SKU.values())) == ["HP-4", "HP-6"]


def test_bad_condition_is_rejected() -> None:
    with pytest.raises(ValueError):
        GoldNeed.from_dict(
            {
                "id": "t",
                "text": "x",
                "category": "tents",
                "conditions": [{"attribute": "a", "op": "~"}],
            }
        )


def test_the_eval_file_is_valid() -> None:
    needs = load_eval(EVAL_FILE)
    catalogue = load_seed_catalogue()
    skus = {record.sku for record in catalogue}
    brands = {record.brand for record in catalogue}
    assert len(needs) >= 100
    assert len({need.id for need in needs}) == len(needs)
    assert {need.category for need in needs} == {category.key for category in CATEGORIES}
    for need in needs:
        assert set(need.relevant) <= skus, need.id
        assert set(need.brands_wanted) | set(need.brands_excluded) <= brands, need.id
        assert set(need.features) <= FEATURE_BY_KEY.keys(), need.id
        # The stored judgements are the documented rule's output on the seed catalogue.
        assert list(need.relevant) == relevant_skus(need, catalogue), need.id
    assert sum(1 for need in needs if need.relevant) >= 100


def test_end_to_end_on_a_subset(tmp_path: Path) -> None:
    lines = EVAL_FILE.read_text(encoding="utf-8").splitlines()
    wanted = {"hp-01", "lt-01", "dw-01", "rs-01", "rj-01"}
    subset = [line for line in lines if json.loads(line)["id"] in wanted]
    eval_file = tmp_path / "subset.jsonl"
    eval_file.write_text("\n".join(subset) + "\n", encoding="utf-8")
    out = tmp_path / "report.json"

    assert main(["--out", str(out), "--eval", str(eval_file)], embedder=FakeEmbedder()) == 0

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["needs"] == 5 and report["top"] == 5 and report["model"] == "fake-bow"
    assert report["catalogue_products"] == 342
    for system in ("recommender", "bm25"):
        constraint = report["constraint_satisfaction"][system]
        assert constraint["needs_with_results"] + constraint["needs_without_results"] == 5
        assert 0.0 <= constraint["precision_at_k"] <= 1.0
        relevance = report["relevance"][system]
        assert relevance["needs_judged"] == 5
        assert 0.0 <= relevance["ndcg_at_k"] <= 1.0
    assert set(report["parser_accuracy"]) >= {"category", "budget_max", "features", "all"}
    assert set(report["ndcg_by_category"]) == {
        "headphones", "laptops", "dishwashers", "running_shoes", "rain_jackets"
    }  # fmt: skip
    ids = ["hp-01", "lt-01", "dw-01", "rs-01", "rj-01"]
    assert [need["id"] for need in report["per_need"]] == ids
    for need in report["per_need"]:
        assert len(need["recommender"]) <= 5 and len(need["bm25"]) <= 5


def test_the_split_is_deterministic_stratified_and_disjoint() -> None:
    needs = load_eval(EVAL_FILE)

    halves = split_needs(needs)

    assert (len(halves.tune), len(halves.report)) == (52, 65)
    tune_ids = {need.id for need in halves.tune}
    report_ids = {need.id for need in halves.report}
    assert not tune_ids & report_ids and tune_ids | report_ids == {need.id for need in needs}
    for category in {need.category for need in needs}:
        ids = sorted(need.id for need in needs if need.category == category)
        assert sorted(tune_ids & set(ids)) == ids[1::2]
        assert sorted(report_ids & set(ids)) == ids[0::2]
    assert split_needs(list(reversed(needs))) == halves
    assert select_split(needs, "report") == list(halves.report)
    assert select_split(needs, "all") == needs
    with pytest.raises(ValueError, match="unknown split 'half'"):
        select_split(needs, "half")


def test_the_report_half_with_another_keyword_weight(tmp_path: Path) -> None:
    lines = EVAL_FILE.read_text(encoding="utf-8").splitlines()
    wanted = {"hp-01", "hp-02", "hp-03", "lt-01", "lt-02"}
    subset = [line for line in lines if json.loads(line)["id"] in wanted]
    eval_file = tmp_path / "subset.jsonl"
    eval_file.write_text("\n".join(subset) + "\n", encoding="utf-8")
    out = tmp_path / "report.json"
    argv = ["--out", str(out), "--eval", str(eval_file), "--split", "report"]

    assert main([*argv, "--keyword-weight", "0"], embedder=FakeEmbedder()) == 0

    report = json.loads(out.read_text(encoding="utf-8"))
    assert (report["split"], report["weights"]["keyword"]) == ("report", 0.0)
    assert [need["id"] for need in report["per_need"]] == ["hp-01", "hp-03", "lt-01"]
    with pytest.raises(SystemExit):
        main([*argv, "--keyword-weight", "-1"], embedder=FakeEmbedder())
