"""The handoff policy: silent bot during a handoff, persisted like Rasa's policies."""

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.graph import ExecutionContext, GraphModelConfiguration, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph
from rasa.shared.data import TrainingType
from rasa.shared.exceptions import InvalidConfigException

from bot.policies.handoff_policy import HandoffPolicy

ROOT = Path(__file__).resolve().parents[3]

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, order_status, inform, request_human, restart, session_start, nlu_fallback]
entities: [order_id]
slots:
  order_id:
    type: text
    influence_conversation: false
    mappings:
      - type: from_entity
        entity: order_id
  handoff_active:
    type: bool
    initial_value: false
    influence_conversation: false
    mappings:
      - type: custom
forms:
  order_status_form:
    required_slots: [order_id]
actions: [action_order_status]
responses:
  utter_greet:
    - text: Hi!
  utter_human_contact:
    - text: Call us.
"""
)

RULES = """
version: "3.1"
rules:
  - rule: greet
    steps:
      - intent: greet
      - action: utter_greet
  - rule: give contacts
    steps:
      - intent: request_human
      - action: utter_human_contact
  - rule: activate the form
    steps:
      - intent: order_status
      - action: order_status_form
      - active_loop: order_status_form
  - rule: submit the form
    condition:
      - active_loop: order_status_form
    steps:
      - action: order_status_form
      - active_loop: null
      - slot_was_set:
          - requested_slot: null
      - action: action_order_status
"""


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return model_storage(tmp_path / "model")


@pytest.fixture
def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test-model")


def model_storage(directory: Path) -> LocalModelStorage:
    directory.mkdir(parents=True)
    return LocalModelStorage(directory)


def make_policy(
    storage: LocalModelStorage, context: ExecutionContext, **config: Any
) -> HandoffPolicy:
    return HandoffPolicy.create(
        {**HandoffPolicy.get_default_config(), **config},
        storage,
        Resource("handoff_policy"),
        context,
    )


@pytest.fixture
def policy(storage: LocalModelStorage, context: ExecutionContext) -> HandoffPolicy:
    trained = make_policy(storage, context)
    trained.train([], DOMAIN)
    return trained


def user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.95})


def tracker(*events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("customer-1", list(events), slots=DOMAIN.slots)


def predicted(policy: HandoffPolicy, conversation: DialogueStateTracker) -> Dict[str, float]:
    prediction = policy.predict_action_probabilities(conversation, DOMAIN)
    return {
        DOMAIN.action_names_or_texts[index]: confidence
        for index, confidence in enumerate(prediction.probabilities)
        if confidence
    }


HANDOFF_OPENED: List[Event] = [
    ActionExecuted("action_listen"),
    user("I want a person", "request_human"),
    SlotSet("handoff_active", True),
    BotUttered("You're number 1 in the queue."),
]


def test_default_config() -> None:
    assert HandoffPolicy.get_default_config() == {
        "priority": 5,
        "slot": "handoff_active",
        "deactivate_loop": True,
    }


def test_listens_right_after_the_message_that_opened_the_handoff(policy: HandoffPolicy) -> None:
    prediction = policy.predict_action_probabilities(tracker(*HANDOFF_OPENED), DOMAIN)
    assert predicted(policy, tracker(*HANDOFF_OPENED)) == {"action_listen": 1.0}
    assert prediction.is_no_user_prediction is True
    assert prediction.policy_priority == 5
    assert prediction.policy_name == "HandoffPolicy"


def test_listens_after_every_later_message_during_the_handoff(policy: HandoffPolicy) -> None:
    conversation = tracker(
        *HANDOFF_OPENED,
        ActionExecuted("action_listen"),
        user("hello? anyone there", "greet"),
    )
    assert predicted(policy, conversation) == {"action_listen": 1.0}


def test_abstains_without_a_handoff(policy: HandoffPolicy) -> None:
    conversation = tracker(ActionExecuted("action_listen"), user("hi", "greet"))
    prediction = policy.predict_action_probabilities(conversation, DOMAIN)
    assert predicted(policy, conversation) == {}
    assert prediction.is_no_user_prediction is False


def test_abstains_after_the_handback(policy: HandoffPolicy) -> None:
    conversation = tracker(
        *HANDOFF_OPENED,
        SlotSet("handoff_active", False),
        BotUttered("You're back with the virtual assistant."),
        ActionExecuted("action_listen"),
        user("hi again", "greet"),
    )
    assert predicted(policy, conversation) == {}


def test_abstains_after_a_bot_action_during_the_handoff(policy: HandoffPolicy) -> None:
    conversation = tracker(*HANDOFF_OPENED, ActionExecuted("utter_greet"))
    assert predicted(policy, conversation) == {}


@pytest.mark.parametrize("intent", ["restart", "session_start"])
def test_lets_restart_and_session_start_through(policy: HandoffPolicy, intent: str) -> None:
    conversation = tracker(
        *HANDOFF_OPENED, ActionExecuted("action_listen"), user(f"/{intent}", intent)
    )
    assert predicted(policy, conversation) == {}


def test_deactivates_an_active_form_first_then_listens(policy: HandoffPolicy) -> None:
    in_form = [
        ActionExecuted("action_listen"),
        user("where is my order", "order_status"),
        ActionExecuted("order_status_form"),
        ActiveLoop("order_status_form"),
        SlotSet("requested_slot", "order_id"),
        ActionExecuted("action_listen"),
        user("just get me a human", "request_human"),
        SlotSet("handoff_active", True),
    ]
    assert predicted(policy, tracker(*in_form)) == {"action_deactivate_loop": 1.0}

    deactivated = [
        *in_form,
        ActionExecuted("action_deactivate_loop"),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
    ]
    assert predicted(policy, tracker(*deactivated)) == {"action_listen": 1.0}


def test_keeps_the_form_when_configured(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    policy = make_policy(storage, context, deactivate_loop=False)
    conversation = tracker(
        ActionExecuted("order_status_form"),
        ActiveLoop("order_status_form"),
        SlotSet("handoff_active", True),
        ActionExecuted("action_listen"),
        user("hello?", "greet"),
    )
    assert predicted(policy, conversation) == {"action_listen": 1.0}


def test_a_string_true_counts_as_set(policy: HandoffPolicy) -> None:
    conversation = tracker(
        SlotSet("handoff_active", "true"), ActionExecuted("action_listen"), user("hi", "greet")
    )
    assert predicted(policy, conversation) == {"action_listen": 1.0}


def test_abstains_when_the_domain_lacks_the_slot(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    policy = make_policy(storage, context, slot="agent_owns_chat")
    assert predicted(policy, tracker(*HANDOFF_OPENED)) == {}


def test_training_needs_the_slot_in_the_domain(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    policy = make_policy(storage, context, slot="agent_owns_chat")
    with pytest.raises(InvalidConfigException) as error:
        policy.train([], DOMAIN)
    assert "needs the slot 'agent_owns_chat'" in str(error.value)


def test_persists_and_loads_its_configuration_through_the_model_storage(
    tmp_path: Path, context: ExecutionContext
) -> None:
    storage = model_storage(tmp_path / "model")
    resource = Resource("handoff_policy")
    config = {"priority": 9, "slot": "handoff_active", "deactivate_loop": False}
    trained = HandoffPolicy.create(config, storage, resource, context)
    assert trained.train([], DOMAIN) == resource

    with storage.read_from(resource) as directory:
        stored = json.loads((directory / "handoff_policy.json").read_text())
    assert stored == config

    # The graph passes the config again at load time; the stored one wins.
    loaded = HandoffPolicy.load(HandoffPolicy.get_default_config(), storage, resource, context)
    assert (loaded.priority, loaded.slot, loaded.deactivate_loop) == (9, "handoff_active", False)
    prediction = loaded.predict_action_probabilities(tracker(*HANDOFF_OPENED), DOMAIN)
    assert prediction.policy_priority == 9


def test_persists_into_a_model_archive_and_back(tmp_path: Path, context: ExecutionContext) -> None:
    storage = model_storage(tmp_path / "model")
    resource = Resource("handoff_policy")
    HandoffPolicy.create(HandoffPolicy.get_default_config(), storage, resource, context).train(
        [], DOMAIN
    )
    archive = tmp_path / "model.tar.gz"
    schema = GraphSchema({})
    configuration = GraphModelConfiguration(
        schema, schema, TrainingType.CORE, "test", "en", None, None
    )
    storage.create_model_package(archive, configuration, DOMAIN)
    (tmp_path / "unpacked").mkdir()
    unpacked, metadata = LocalModelStorage.from_model_archive(tmp_path / "unpacked", archive)
    assert metadata.training_type is TrainingType.CORE

    loaded = HandoffPolicy.load({}, unpacked, resource, context)
    assert predicted(loaded, tracker(*HANDOFF_OPENED)) == {"action_listen": 1.0}


def test_loading_without_a_trained_policy_fails_clearly(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    with pytest.raises(InvalidConfigException) as error:
        HandoffPolicy.load({}, storage, Resource("never_trained"), context)
    assert "Retrain the model" in str(error.value)


# --- together with the RulePolicy in Rasa's ensemble ------------------------------


@pytest.fixture
def rule_policy(tmp_path: Path, context: ExecutionContext) -> RulePolicy:
    steps = YAMLStoryReader(DOMAIN).read_from_string(RULES)
    trackers = TrainingDataGenerator(StoryGraph(steps), DOMAIN, augmentation_factor=0).generate()
    rules = RulePolicy.create(
        RulePolicy.get_default_config(),
        model_storage(tmp_path / "rules"),
        Resource("rule_policy"),
        context,
    )
    rules.train(trackers, DOMAIN)
    return rules


def winner(conversation: DialogueStateTracker, *policies: Any) -> tuple:
    predictions = [p.predict_action_probabilities(conversation, DOMAIN) for p in policies]
    best = DefaultPolicyPredictionEnsemble().combine_predictions(predictions, conversation, DOMAIN)
    return DOMAIN.action_names_or_texts[best.max_confidence_index], best.policy_name


def test_the_ensemble_listens_instead_of_following_a_rule(
    policy: HandoffPolicy, rule_policy: RulePolicy
) -> None:
    conversation = tracker(*HANDOFF_OPENED)
    assert winner(conversation, rule_policy) == ("utter_human_contact", "RulePolicy")
    assert winner(conversation, rule_policy, policy) == ("action_listen", "HandoffPolicy")


def test_the_ensemble_stops_an_active_form_instead_of_continuing_it(
    policy: HandoffPolicy, rule_policy: RulePolicy
) -> None:
    conversation = tracker(
        ActionExecuted("action_listen"),
        user("where is my order", "order_status"),
        ActionExecuted("order_status_form"),
        ActiveLoop("order_status_form"),
        SlotSet("requested_slot", "order_id"),
        ActionExecuted("action_listen"),
        user("this is useless", "inform"),
        SlotSet("handoff_active", True),
    )
    # The RulePolicy continues the form with a "no user" prediction ...
    assert winner(conversation, rule_policy) == ("order_status_form", "RulePolicy")
    # ... which the handoff policy outranks.
    assert winner(conversation, rule_policy, policy) == ("action_deactivate_loop", "HandoffPolicy")


def test_the_ensemble_follows_the_rules_without_a_handoff(
    policy: HandoffPolicy, rule_policy: RulePolicy
) -> None:
    conversation = tracker(ActionExecuted("action_listen"), user("hi", "greet"))
    assert winner(conversation, rule_policy, policy) == ("utter_greet", "RulePolicy")


def test_the_project_config_and_domain_use_the_policy() -> None:
    import yaml

    config = yaml.safe_load((ROOT / "config.yml").read_text())
    names = [entry["name"] for entry in config["policies"]]
    assert "bot.policies.handoff_policy.HandoffPolicy" in names
    domain = Domain.load(ROOT / "domain.yml")
    slot = next(slot for slot in domain.slots if slot.name == "handoff_active")
    assert slot.type_name == "bool"
    assert slot.influence_conversation is False
