"""Trains and runs a list of Rasa NLU graph components outside ``rasa train``.

The benchmark uses this to train exactly the components the bot uses (and Rasa's
stock DIET pipeline) on a CSV split, persist them through a real
``LocalModelStorage`` and load them back the way ``rasa run`` does.
"""

import tempfile
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Type

from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

Step = Tuple[Type[GraphComponent], Dict[str, Any]]


def training_data(texts: Sequence[str], labels: Sequence[str]) -> TrainingData:
    """Rasa training data from parallel lists of texts and intents."""
    return TrainingData([Message(data={TEXT: t, INTENT: label}) for t, label in zip(texts, labels)])


class RasaPipeline:
    """An ordered list of Rasa NLU components, trained and served in-process."""

    def __init__(self, steps: Sequence[Step], storage_dir: Path | None = None) -> None:
        """Creates the pipeline.

        Args:
            steps: ``(component class, config)`` pairs in pipeline order.
            storage_dir: Where the model storage lives; a temporary folder if None.

        """
        self._steps = list(steps)
        self._tmp = None if storage_dir else tempfile.TemporaryDirectory()
        self._storage = LocalModelStorage(Path(storage_dir or self._tmp.name))
        self._context = ExecutionContext(GraphSchema({}), "benchmark")
        self._components: List[GraphComponent] = []

    def _resource(self, index: int) -> Resource:
        return Resource(f"step_{index}_{self._steps[index][0].__name__}")

    def train(self, data: TrainingData) -> None:
        """Trains each trainable step, then feeds the data through it."""
        for index, (cls, config) in enumerate(self._steps):
            component = cls.create(
                {**cls.get_default_config(), **config},
                self._storage,
                self._resource(index),
                self._context,
            )
            if hasattr(component, "train"):
                component.train(data)
            if hasattr(component, "process_training_data"):
                data = component.process_training_data(data)

    def load(self, load_options: Dict[str, Any] | None = None) -> None:
        """Loads every step from the model storage, as ``rasa run`` would.

        Args:
            load_options: Options that only matter when loading (such as
                ``quantize``), given to the steps whose defaults have them.
        """
        load_options = load_options or {}
        self._components = [
            cls.load(
                {
                    **cls.get_default_config(),
                    **config,
                    **{k: v for k, v in load_options.items() if k in cls.get_default_config()},
                },
                self._storage,
                self._resource(index),
                self._context,
            )
            for index, (cls, config) in enumerate(self._steps)
        ]

    def process(self, texts: Sequence[str]) -> List[Message]:
        """Runs the loaded pipeline on texts and returns the processed messages."""
        messages = [Message(data={TEXT: t}) for t in texts]
        for component in self._components:
            messages = component.process(messages)
        return messages

    def close(self) -> None:
        """Deletes the temporary model storage, if one was made."""
        if self._tmp is not None:
            self._tmp.cleanup()
