"""The cached TED policy: TED's exact predictions, the model run once per dialogue state."""

from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
import yaml
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

from bot.policies.cached_ted_policy import CachedTEDPolicy, CacheInfo
from tests.bot.small_ted import CONFIG, DOMAIN

ROOT = Path(__file__).resolve().parents[3]


def load(trained: Dict[str, Any]) -> CachedTEDPolicy:
    """The policy loaded from the trained model, as Rasa loads it."""
    return CachedTEDPolicy.load(
        {**CachedTEDPolicy.get_default_config(), **CONFIG},
        trained["storage"],
        trained["resource"],
        trained["context"],
    )


@pytest.fixture(scope="module")
def loaded(small_ted: Dict[str, Any]) -> CachedTEDPolicy:
    return load(small_ted)


def fresh(loaded: CachedTEDPolicy, **config: Any) -> CachedTEDPolicy:
    """A policy with an empty cache around the loaded model (loading takes seconds)."""
    return CachedTEDPolicy(
        {**CachedTEDPolicy.get_default_config(), **CONFIG, **config},
        loaded._model_storage,
        loaded._resource,
        ExecutionContext(GraphSchema({}), "test-model"),
        model=loaded.model,
        featurizer=loaded.featurizer,
        fake_features=defaultdict(list, loaded.fake_features),
        entity_tag_specs=loaded._entity_tag_specs,
    )


@pytest.fixture
def policy(loaded: CachedTEDPolicy) -> CachedTEDPolicy:
    return fresh(loaded)


@pytest.fixture
def count_model_runs(monkeypatch: pytest.MonkeyPatch) -> Callable[[CachedTEDPolicy], List[int]]:
    """Count the calls of a policy's TensorFlow model from now on."""

    def start(policy: CachedTEDPolicy) -> List[int]:
        calls: List[int] = []
        run_inference: Callable = policy.model.run_inference

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return run_inference(*args, **kwargs)

        monkeypatch.setattr(policy.model, "run_inference", counted)
        return calls

    return start


def user(intent: str) -> List[Event]:
    return [ActionExecuted("action_listen"), UserUttered(f"/{intent}", {"name": intent})]


def tracker(*events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("customer", list(events), slots=DOMAIN.slots)


def teds_own(policy: CachedTEDPolicy, conversation: DialogueStateTracker) -> List[float]:
    """What TED itself predicts, with the same model and no cache."""
    return TEDPolicy.predict_action_probabilities(policy, conversation, DOMAIN).probabilities


def predict(policy: CachedTEDPolicy, conversation: DialogueStateTracker) -> List[float]:
    return policy.predict_action_probabilities(conversation, DOMAIN).probabilities


GREETED = [*user("greet"), ActionExecuted("utter_greet"), BotUttered("Hi!")]


def test_default_config_is_teds_plus_the_cache_size() -> None:
    assert CachedTEDPolicy.get_default_config() == {
        **TEDPolicy.get_default_config(),
        "prediction_cache_size": 10_000,
    }


def test_a_repeated_state_is_answered_from_the_cache_with_teds_prediction(
    policy: CachedTEDPolicy, count_model_runs: Callable
) -> None:
    runs = count_model_runs(policy)
    conversation = tracker(*GREETED, *user("order_status"))

    first = policy.predict_action_probabilities(conversation, DOMAIN)
    second = policy.predict_action_probabilities(conversation, DOMAIN)

    assert len(runs) == 1
    assert policy.cache_info() == CacheInfo(hits=1, misses=1, size=1, max_size=10_000)
    assert second.probabilities == first.probabilities == teds_own(policy, conversation)
    assert second.policy_name == first.policy_name == "CachedTEDPolicy"
    assert second.is_end_to_end_prediction is False
    assert second.optional_events == []


def test_another_conversation_with_the_same_last_turns_hits(
    policy: CachedTEDPolicy, count_model_runs: Callable
) -> None:
    short = tracker(*user("complain"))
    # max_history 3: the complaint and the turns before it read the same as
    # in the short conversation only when the history is cut off identically.
    longer = tracker(*GREETED, *user("order_status"), ActionExecuted("utter_order_status"))
    longer_again = tracker(
        *user("complain"),
        ActionExecuted("utter_sorry"),
        *GREETED,
        *user("order_status"),
        ActionExecuted("utter_order_status"),
    )
    predict(policy, short)
    predict(policy, longer)
    runs = count_model_runs(policy)

    from_cache = predict(policy, longer_again)

    assert len(runs) == 0
    assert policy.cache_info() == CacheInfo(hits=1, misses=2, size=2, max_size=10_000)
    assert from_cache == teds_own(policy, longer_again) == teds_own(policy, longer)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param([SlotSet("vip", True), *user("complain")], id="a featurized slot"),
        pytest.param([*user("thanks")], id="another intent"),
        pytest.param([*user("complain"), ActionExecuted("utter_sorry")], id="another action"),
    ],
)
def test_different_states_run_the_model(
    policy: CachedTEDPolicy, count_model_runs: Callable, other: List[Event]
) -> None:
    predict(policy, tracker(*user("complain")))
    runs = count_model_runs(policy)

    conversation = tracker(*other)
    assert predict(policy, conversation) == teds_own(policy, conversation)
    assert len(runs) == 2  # the policy's own run, then TED's in teds_own
    assert policy.cache_info().misses == 2


def test_the_vip_slot_changes_the_prediction_that_the_cache_keeps_apart(
    policy: CachedTEDPolicy,
) -> None:
    plain = tracker(*user("complain"))
    vip = tracker(SlotSet("vip", True), *user("complain"))
    for _ in range(2):
        assert predict(policy, plain) == teds_own(policy, plain)
        assert predict(policy, vip) == teds_own(policy, vip)
    assert predict(policy, plain) != predict(policy, vip)


def test_the_cache_keeps_the_most_recently_used_states(
    loaded: CachedTEDPolicy, count_model_runs: Callable
) -> None:
    policy = fresh(loaded, prediction_cache_size=2)
    a, b, c = (tracker(*user(intent)) for intent in ("greet", "complain", "thanks"))
    for conversation in (a, b, a, c):  # c evicts b, the least recently used
        predict(policy, conversation)
    runs = count_model_runs(policy)

    predict(policy, a)
    assert len(runs) == 0
    predict(policy, b)
    assert len(runs) == 1
    assert policy.cache_info() == CacheInfo(hits=2, misses=4, size=2, max_size=2)


def test_a_returned_prediction_can_be_changed_without_changing_the_cache(
    policy: CachedTEDPolicy,
) -> None:
    conversation = tracker(*user("greet"))
    expected = teds_own(policy, conversation)
    predict(policy, conversation)
    predict(policy, conversation)[0] = 42.0
    assert predict(policy, conversation) == expected


def test_size_zero_turns_the_cache_off(loaded: CachedTEDPolicy, count_model_runs: Callable) -> None:
    policy = fresh(loaded, prediction_cache_size=0)
    runs = count_model_runs(policy)
    conversation = tracker(*user("greet"))
    assert predict(policy, conversation) == predict(policy, conversation)
    assert len(runs) == 2
    assert policy.cache_info() == CacheInfo(hits=0, misses=0, size=0, max_size=0)


def test_a_model_that_reads_user_text_is_never_cached(
    policy: CachedTEDPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy.fake_features[TEXT] = []  # as TED records it after end-to-end training
    teds_calls: List[DialogueStateTracker] = []

    def ted(self: TEDPolicy, conversation: DialogueStateTracker, *args: Any, **kwargs: Any) -> Any:
        teds_calls.append(conversation)
        return self._prediction(self._default_predictions(DOMAIN))

    # TED itself would now featurize the user's text through the NLU pipeline,
    # which this test has not got; what matters is that it is asked every time.
    monkeypatch.setattr(TEDPolicy, "predict_action_probabilities", ted)
    conversation = tracker(*user("greet"))
    predict(policy, conversation)
    predict(policy, conversation)
    assert teds_calls == [conversation, conversation]
    assert policy.cache_info() == CacheInfo(hits=0, misses=0, size=0, max_size=10_000)


def test_it_is_persisted_and_loaded_as_ted(
    small_ted: Dict[str, Any], loaded: CachedTEDPolicy
) -> None:
    again = load(small_ted)
    conversation = tracker(*GREETED, *user("thanks"))
    assert isinstance(again, CachedTEDPolicy)
    assert again.cache_info() == CacheInfo(hits=0, misses=0, size=0, max_size=10_000)
    assert predict(again, conversation) == teds_own(loaded, conversation)


def test_the_project_config_uses_it_instead_of_ted() -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text())
    names = [entry["name"] for entry in config["policies"]]
    assert "bot.policies.cached_ted_policy.CachedTEDPolicy" in names
    assert "TEDPolicy" not in names
