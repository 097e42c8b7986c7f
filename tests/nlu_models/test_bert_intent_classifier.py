from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_models.bert_intent_classifier import BertIntentClassifier

CONTEXT = ExecutionContext(GraphSchema({}), "test")
RESOURCE = Resource("bert_intent_classifier")
QUERIES = [
    "where's my parcel?",
    "hello!",
    "I want a refund",
    "",
    "completely unrelated text",
    " \n",
]
NO_INTENT = {"name": None, "confidence": 0.0}


def _config(checkpoint: Path, **overrides: Any) -> Dict[str, Any]:
    return {
        "checkpoint": str(checkpoint),
        "epochs": 3,
        "min_steps": 0,
        "batch_size": 4,
        "learning_rate": 5e-4,
        "validation_fraction": 0.25,
        "show_progress": False,
        "device": "cpu",
        **overrides,
    }


def _data(texts: List[str], labels: List[str]) -> TrainingData:
    return TrainingData([Message(data={"text": t, "intent": i}) for t, i in zip(texts, labels)])


def _train(tmp_path: Path, config: Dict[str, Any], texts_labels: tuple) -> LocalModelStorage:
    tmp_path.mkdir(parents=True, exist_ok=True)
    storage = LocalModelStorage(tmp_path)
    component = BertIntentClassifier.create(config, storage, RESOURCE, CONTEXT)
    component.train(_data(*texts_labels))
    return storage


def _parse(component: BertIntentClassifier, texts: List[str]) -> List[Message]:
    return component.process([Message(data={"text": t}) for t in texts])


def test_persisted_model_predicts_exactly_like_the_trained_one(
    tmp_path: Path, tiny_checkpoint: Path, tiny_texts_labels: tuple
) -> None:
    config = _config(tiny_checkpoint)
    storage = LocalModelStorage(tmp_path)
    trained = BertIntentClassifier.create(config, storage, RESOURCE, CONTEXT)
    trained.train(_data(*tiny_texts_labels))
    before = [m.get("intent_ranking") for m in _parse(trained, QUERIES)]
    # Loaded models predict through the TorchScript graph unless told otherwise.
    for torchscript in (True, False):
        loaded = BertIntentClassifier.load(
            {**config, "torchscript": torchscript}, storage, RESOURCE, CONTEXT
        )
        assert loaded._classifier is not None
        assert loaded._classifier.compiled is torchscript
        after = [m.get("intent_ranking") for m in _parse(loaded, QUERIES)]
        assert len(before) == len(after) == len(QUERIES)
        for first, second in zip(before, after):
            assert [e["name"] for e in first] == [e["name"] for e in second]
            assert [e["confidence"] for e in first] == pytest.approx(
                [e["confidence"] for e in second], abs=1e-6
            )


def test_same_seed_gives_the_same_model(
    tmp_path: Path, tiny_checkpoint: Path, tiny_texts_labels: tuple
) -> None:
    config = _config(tiny_checkpoint, random_seed=7)
    runs = []
    for name in ("a", "b"):
        storage = _train(tmp_path / name, config, tiny_texts_labels)
        component = BertIntentClassifier.load(config, storage, RESOURCE, CONTEXT)
        runs.append([m.get("intent_ranking") for m in _parse(component, QUERIES[:3])])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("ranking_length", [0, 2, 10])
def test_ranking_is_sorted_truncated_and_consistent(
    tmp_path: Path, tiny_checkpoint: Path, tiny_texts_labels: tuple, ranking_length: int
) -> None:
    config = _config(tiny_checkpoint, ranking_length=ranking_length)
    storage = _train(tmp_path, config, tiny_texts_labels)
    component = BertIntentClassifier.load(config, storage, RESOURCE, CONTEXT)
    messages = _parse(component, QUERIES)
    for message in messages:
        if not message.get("text").strip():
            assert message.get("intent") == NO_INTENT and message.get("intent_ranking") == []
            continue
        ranking = message.get("intent_ranking")
        expected_length = 3 if ranking_length in (0, 10) else ranking_length
        assert len(ranking) == expected_length
        confidences = [e["confidence"] for e in ranking]
        assert confidences == sorted(confidences, reverse=True)
        assert all(0.0 <= c <= 1.0 for c in confidences)
        assert sum(confidences) <= 1.0 + 1e-5
        assert {e["name"] for e in ranking} <= {"greet", "order_status", "return_refund"}
        assert message.get("intent") == ranking[0]
        assert message.as_dict(only_output_properties=True)["intent"] == ranking[0]


def test_unknown_option_is_rejected_by_name(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigException, match="unknown option.*'epoch'"):
        BertIntentClassifier.create(
            _config(tiny_checkpoint, epoch=3), LocalModelStorage(tmp_path), RESOURCE, CONTEXT
        )


def test_missing_checkpoint_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(InvalidConfigException, match="no-such-model.*does not exist"):
        BertIntentClassifier.create(
            _config(missing), LocalModelStorage(tmp_path), RESOURCE, CONTEXT
        )


def test_folder_without_config_json_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidConfigException, match="no config.json"):
        BertIntentClassifier.create(
            _config(tmp_path / "empty"), LocalModelStorage(tmp_path), RESOURCE, CONTEXT
        )


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("epochs", 0, "'epochs' must be an integer >= 1"),
        ("validation_fraction", 1.0, "'validation_fraction' must be in"),
        ("learning_rate", -1, "'learning_rate' must be positive"),
    ],
)
def test_invalid_values_are_rejected(
    tiny_checkpoint: Path, tmp_path: Path, option: str, value: Any, message: str
) -> None:
    with pytest.raises(InvalidConfigException, match=message):
        BertIntentClassifier.create(
            _config(tiny_checkpoint, **{option: value}),
            LocalModelStorage(tmp_path),
            RESOURCE,
            CONTEXT,
        )


def test_too_few_examples_names_the_intent(tiny_checkpoint: Path, tmp_path: Path) -> None:
    texts = ["hi", "hello", "hey", "good morning", "hiya", "where is my order", "track it"]
    labels = ["greet"] * 5 + ["order_status"] * 2
    component = BertIntentClassifier.create(
        _config(tiny_checkpoint), LocalModelStorage(tmp_path), RESOURCE, CONTEXT
    )
    with pytest.raises(InvalidConfigException, match=r"at least 5 examples.*'order_status' \(2\)"):
        component.train(_data(texts, labels))


def test_untrained_model_loads_and_leaves_messages_alone(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    storage = LocalModelStorage(tmp_path)
    component = BertIntentClassifier.create(_config(tiny_checkpoint), storage, RESOURCE, CONTEXT)
    component.train(TrainingData([]))
    loaded = BertIntentClassifier.load(_config(tiny_checkpoint), storage, RESOURCE, CONTEXT)
    message = _parse(loaded, ["hello"])[0]
    assert message.get("intent") == NO_INTENT and message.get("intent_ranking") == []


def test_fingerprint_changes_with_the_checkpoint_files(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_checkpoint, copy)
    first = BertIntentClassifier.fingerprint_addon({"checkpoint": str(copy)})
    assert first == BertIntentClassifier.fingerprint_addon({"checkpoint": str(copy)})
    (copy / "config.json").write_text((copy / "config.json").read_text() + "\n")
    assert BertIntentClassifier.fingerprint_addon({"checkpoint": str(copy)}) != first
    assert BertIntentClassifier.fingerprint_addon({"checkpoint": str(tmp_path / "none")}) is None
