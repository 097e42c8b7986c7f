"""How often TED's prediction cache hits on real conversations, and what a hit saves.

``python -m bot.loadtest.ted_cache --model models/<model>.tar.gz``

The load benchmark repeats five conversations, so after its warm-up every TED
prediction is a cache hit (:mod:`bot.policies.cached_ted_policy`). This command
gives the other figure: it replays conversations that differ from one another,
the project's Rasa test stories by default, through the trained model's
``CachedTEDPolicy``, the cache cold at the start and the stories in the order Rasa's story
reader gives them, predicting at every point where Rasa predicts an action
(after each customer message and each bot action), and counts hits and
misses. It then times one prediction, TED's own run against a cache hit, over
the same conversation points.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from bot.policies.cached_ted_policy import CachedTEDPolicy

DEFAULT_STORIES = Path(__file__).resolve().parents[2] / "tests" / "stories"


@dataclass(frozen=True)
class CacheReport:
    """What one replay found."""

    conversations: int
    predictions: int
    hits: int
    misses: int
    hit_rate: float
    ted_ms_median: float
    hit_ms_median: float


def load_policy(model_archive: Path, workdir: Path) -> Tuple[CachedTEDPolicy, Domain]:
    """Load the model's ``CachedTEDPolicy`` (fresh, empty cache) and its domain.

    Raises:
        ValueError: If the model has no ``CachedTEDPolicy``.
    """
    workdir.mkdir(parents=True, exist_ok=True)  # Rasa unpacks into an existing folder
    storage, metadata = LocalModelStorage.from_model_archive(workdir, model_archive)
    schema = metadata.predict_schema
    for node in schema.nodes.values():
        if isinstance(node.uses, type) and issubclass(node.uses, CachedTEDPolicy):
            context = ExecutionContext(schema, metadata.model_id)
            config = {**node.uses.get_default_config(), **node.config}  # as Rasa's graph does
            policy = CachedTEDPolicy.load(config, storage, node.resource, context)
            return policy, metadata.domain
    raise ValueError(f"{model_archive} has no CachedTEDPolicy; train it with config.yml.")


def prediction_points(stories: Path, domain: Domain) -> List[Tuple[int, DialogueStateTracker]]:
    """Each story's tracker at every action Rasa predicts, as (story number, tracker)."""
    reader = YAMLStoryReader(domain)
    files = sorted(stories.glob("*.yml")) if stories.is_dir() else [stories]
    steps = [step for path in files for step in reader.read_from_file(path)]
    conversations = TrainingDataGenerator(
        StoryGraph(steps), domain, remove_duplicates=False, augmentation_factor=0
    ).generate()
    points = []
    for number, conversation in enumerate(conversations):
        # The prior tracker is updated in place after each yield, and training
        # trackers cache their states: keep plain copies, as Rasa predicts on.
        for prior, _hidden in conversation.generate_all_prior_trackers():
            # Rasa predicts after a customer message or a bot action, never
            # while it listens (the story's end).
            if prior.events and not _listening(prior):
                copy = DialogueStateTracker.from_events(
                    f"story-{number}", list(prior.events), slots=domain.slots
                )
                points.append((number, copy))
    return points


def _listening(tracker: DialogueStateTracker) -> bool:
    last = tracker.events[-1]
    return isinstance(last, ActionExecuted) and last.action_name == ACTION_LISTEN_NAME


def _median_ms(
    trackers: Sequence[DialogueStateTracker], run: Callable[[DialogueStateTracker], Any]
) -> float:
    timings = []
    for tracker in trackers:
        start = time.perf_counter()
        run(tracker)
        timings.append(time.perf_counter() - start)
    return 1000 * statistics.median(timings)


def measure(
    policy: CachedTEDPolicy, domain: Domain, points: Sequence[Tuple[int, DialogueStateTracker]]
) -> CacheReport:
    """Replay the points through a cold cache, then time TED against a hit.

    Args:
        policy: A freshly loaded policy (its cache empty).
        domain: The model's domain.
        points: From :func:`prediction_points`.
    """
    trackers = [tracker for _, tracker in points]
    for tracker in trackers:
        policy.predict_action_probabilities(tracker, domain)
    info = policy.cache_info()
    ted_ms = _median_ms(
        trackers, lambda t: TEDPolicy.predict_action_probabilities(policy, t, domain)
    )
    hit_ms = _median_ms(trackers, lambda t: policy.predict_action_probabilities(t, domain))
    lookups = info.hits + info.misses
    return CacheReport(
        conversations=len({number for number, _ in points}),
        predictions=len(points),
        hits=info.hits,
        misses=info.misses,
        hit_rate=round(info.hits / lookups, 4) if lookups else 0.0,
        ted_ms_median=round(ted_ms, 3),
        hit_ms_median=round(hit_ms, 3),
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the replay and print its report as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bot.loadtest.ted_cache", description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="a trained .tar.gz model")
    parser.add_argument("--stories", type=Path, default=DEFAULT_STORIES, help="test stories")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        parser.error(f"no model at {args.model}; run `make train` first")
    with tempfile.TemporaryDirectory() as workdir:
        policy, domain = load_policy(args.model, Path(workdir))
        report = measure(policy, domain, prediction_points(args.stories, domain))
    text = json.dumps(asdict(report), indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
