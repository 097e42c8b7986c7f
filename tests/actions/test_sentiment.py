"""The action server's sentiment scorer: lazy, loaded once, off the event loop.

The model directory is an empty temporary one, so the VADER fallback scores.
"""

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any, List, Optional, Sequence

import pytest

from actions.sentiment import MAX_SCORED_CHARS, SentimentScorer, get_sentiment_scorer
from actions.settings import get_settings
from nlu_models.sentiment import SentimentModel, SentimentScore, load_sentiment_model


class CountingLoader:
    """Loads the real model and records each call and the thread it ran in."""

    def __init__(self) -> None:
        self.calls: List[Optional[Path]] = []
        self.threads: List[int] = []

    def __call__(self, directory: Optional[Path]) -> SentimentModel:
        self.calls.append(directory)
        self.threads.append(threading.get_ident())
        return load_sentiment_model(directory)


class RecordingModel:
    """A model that records what it was asked to score and where."""

    name = "recording"

    def __init__(self) -> None:
        self.texts: List[str] = []
        self.threads: List[int] = []

    def score(self, texts: Sequence[str]) -> List[SentimentScore]:
        self.texts.extend(texts)
        self.threads.append(threading.get_ident())
        return [SentimentScore("neutral", 0.1, 0.8, 0.1, 0.0, self.name) for _ in texts]


def test_constructing_the_scorer_loads_nothing(tmp_path: Path) -> None:
    loader = CountingLoader()
    scorer = SentimentScorer(tmp_path, loader=loader)
    assert loader.calls == []
    assert scorer.loaded is False


@pytest.mark.asyncio
async def test_without_a_trained_model_vader_scores(tmp_path: Path) -> None:
    scorer = SentimentScorer(tmp_path)

    furious = await scorer.score("This is ridiculous, I am furious")
    pleased = await scorer.score("Thanks, that was really helpful!")
    neutral = await scorer.score("Where is my order?")

    assert furious == SentimentScore("negative", 0.608, 0.392, 0.0, -0.7351, "vader")
    assert pleased == SentimentScore("positive", 0.0, 0.323, 0.677, 0.7419, "vader")
    assert neutral == SentimentScore("neutral", 0.0, 1.0, 0.0, 0.0, "vader")
    assert scorer.model().name == "vader"


@pytest.mark.asyncio
async def test_the_model_is_loaded_once_from_the_model_dir_in_a_worker_thread(
    tmp_path: Path,
) -> None:
    loader = CountingLoader()
    scorer = SentimentScorer(tmp_path, loader=loader)

    results = await asyncio.gather(*(scorer.score("that is not good") for _ in range(6)))

    assert loader.calls == [tmp_path]
    assert loader.threads[0] != threading.get_ident()
    assert [result.score for result in results] == [-0.3412] * 6
    assert scorer.loaded is True


@pytest.mark.asyncio
async def test_inference_runs_off_the_event_loop_and_long_texts_are_cut(tmp_path: Path) -> None:
    model = RecordingModel()
    scorer = SentimentScorer(tmp_path, loader=lambda _directory: model)

    result = await scorer.score("x" * (MAX_SCORED_CHARS + 500))

    assert result == SentimentScore("neutral", 0.1, 0.8, 0.1, 0.0, "recording")
    assert model.texts == ["x" * MAX_SCORED_CHARS]
    assert model.threads != [threading.get_ident()]


def test_the_process_wide_scorer_uses_the_configured_directory() -> None:
    first = get_sentiment_scorer()
    assert first is get_sentiment_scorer()
    assert first.model_dir == get_settings().sentiment_model_dir


@pytest.mark.parametrize(
    ("value", "weights"), [(None, "fp16"), ("fp32", "fp32"), (" INT8 ", "int8"), ("", "fp16")]
)
def test_the_process_wide_scorer_loads_the_configured_weights(
    monkeypatch: pytest.MonkeyPatch, value: Optional[str], weights: str
) -> None:
    import actions.sentiment as sentiment_module
    from actions.settings import Settings

    environ = {} if value is None else {"ASSISTANT_SENTIMENT_WEIGHTS": value}
    settings = Settings.from_env(environ)
    assert settings.sentiment_weights == weights
    monkeypatch.setattr(sentiment_module, "get_settings", lambda: settings)
    monkeypatch.setattr(sentiment_module, "_default_scorer", None)
    calls = []

    def loader(directory: Path, weights: str = "fp32") -> Any:
        calls.append((directory, weights))
        return RecordingModel()

    monkeypatch.setattr(sentiment_module, "load_sentiment_model", loader)
    sentiment_module.get_sentiment_scorer().model()
    assert calls == [(settings.sentiment_model_dir, weights)]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ASSISTANT_SENTIMENT_WEIGHTS": "bf16"}, "must be one of fp32, fp16, int8, got 'bf16'"),
        ({"ASSISTANT_SENTIMENT_QUANTIZE": "true"}, "was replaced by ASSISTANT_SENTIMENT_WEIGHTS"),
    ],
)
def test_bad_or_retired_weight_settings_are_refused(environ: dict, message: str) -> None:
    from actions.settings import Settings

    with pytest.raises(ValueError, match=message):
        Settings.from_env(environ)


class GatedModel(RecordingModel):
    """Blocks its first call until released, recording each batch it scores."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.batches: List[List[str]] = []
        self.busy = threading.Event()
        self.release = threading.Event()
        self.fail = fail

    def score(self, texts: Sequence[str]) -> List[SentimentScore]:
        self.batches.append(list(texts))
        if len(self.batches) == 1:
            self.busy.set()
            assert self.release.wait(10)
        if self.fail:
            raise RuntimeError("model broke")
        return [SentimentScore("neutral", 0.1, 0.8, 0.1, float(len(t)), self.name) for t in texts]


async def _wait_until(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 10)


@pytest.mark.asyncio
async def test_messages_that_arrive_while_the_model_is_busy_share_one_batch(
    tmp_path: Path,
) -> None:
    model = GatedModel()
    scorer = SentimentScorer(tmp_path, loader=lambda _directory: model)
    first = asyncio.ensure_future(scorer.score("a"))
    await _wait_until(model.busy)
    later = [asyncio.ensure_future(scorer.score("b" * n)) for n in range(2, 7)]
    await asyncio.sleep(0.05)  # they are queued behind the busy model
    model.release.set()

    results = await asyncio.gather(first, *later)

    assert model.batches == [["a"], ["bb", "bbb", "bbbb", "bbbbb", "bbbbbb"]]
    assert [r.score for r in results] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # each its own


@pytest.mark.asyncio
async def test_a_failing_model_fails_every_message_of_its_batch_and_a_cancelled_one_is_skipped(
    tmp_path: Path,
) -> None:
    model = GatedModel(fail=True)
    scorer = SentimentScorer(tmp_path, loader=lambda _directory: model)
    first = asyncio.ensure_future(scorer.score("a"))
    await _wait_until(model.busy)
    given_up = asyncio.ensure_future(scorer.score("gone"))
    waiting = asyncio.ensure_future(scorer.score("c"))
    await asyncio.sleep(0.05)
    given_up.cancel()
    # Its cancellation reaches the scorer's queue a few loop turns later;
    # releasing the model before then would let the worker take it.
    with contextlib.suppress(asyncio.CancelledError):
        await given_up
    model.release.set()

    outcomes = await asyncio.gather(first, given_up, waiting, return_exceptions=True)

    assert isinstance(outcomes[0], RuntimeError) and isinstance(outcomes[2], RuntimeError)
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert model.batches == [["a"], ["c"]]
