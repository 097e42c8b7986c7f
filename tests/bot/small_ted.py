"""A small TED model trained once per test session, for the cached TED policy's tests."""

from pathlib import Path
from typing import Any, Dict

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from bot.policies.cached_ted_policy import CachedTEDPolicy

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, order_status, thanks, complain]
slots:
  vip:
    type: bool
    influence_conversation: true
    mappings:
      - type: custom
responses:
  utter_greet:
    - text: Hi!
  utter_order_status:
    - text: It ships tomorrow.
  utter_welcome:
    - text: You're welcome.
  utter_sorry:
    - text: Sorry about that.
  utter_vip_sorry:
    - text: Sorry, a specialist will call you.
"""
)

STORIES = """
version: "3.1"
stories:
  - story: order status
    steps:
      - intent: greet
      - action: utter_greet
      - intent: order_status
      - action: utter_order_status
      - intent: thanks
      - action: utter_welcome
  - story: complaint
    steps:
      - intent: complain
      - action: utter_sorry
  - story: vip complaint
    steps:
      - slot_was_set:
          - vip: true
      - intent: complain
      - action: utter_vip_sorry
"""

CONFIG = {"max_history": 3, "epochs": 40, "random_seed": 1}


def train_small_ted(directory: Path) -> Dict[str, Any]:
    """Train the policy into a model storage in ``directory``; TED trains in seconds.

    Returns:
        The ``storage``, ``context`` and ``resource`` to load it with.
    """
    storage = LocalModelStorage(directory)
    context = ExecutionContext(GraphSchema({}), "test-model")
    resource = Resource("cached_ted")
    steps = YAMLStoryReader(DOMAIN).read_from_string(STORIES)
    trackers = TrainingDataGenerator(StoryGraph(steps), DOMAIN, augmentation_factor=0).generate()
    policy = CachedTEDPolicy.create(
        {**CachedTEDPolicy.get_default_config(), **CONFIG}, storage, resource, context
    )
    policy.train(trackers, DOMAIN)
    return {"storage": storage, "context": context, "resource": resource}
