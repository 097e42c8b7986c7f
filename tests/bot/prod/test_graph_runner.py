"""The sequential graph runner returns what Rasa's dask runner returns, without dask."""

from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.engine.exceptions import GraphComponentException, GraphRunError
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

from bot.prod.graph_runner import (
    SequentialGraphRunner,
    sequential_graph_runner_on_start,
    use_sequential_graph_runner,
)

CALLS: List[str] = []


class Add(GraphComponent):
    """Adds its ``amount`` to a number; records each call."""

    def __init__(self, config: Dict[str, Any]) -> None:
        self.amount = config["amount"]

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "Add":
        return cls(config)

    def add(self, number: int) -> int:
        CALLS.append(f"add {self.amount}")
        if number < 0:
            raise ValueError("negative")
        return number + self.amount

    def join(self, first: int, second: int) -> List[int]:
        CALLS.append("join")
        return [first, second]


def node(fn: str, needs: Dict[str, str], amount: int = 0) -> SchemaNode:
    return SchemaNode(needs, Add, "create", fn, {"amount": amount})


# A diamond: both branches need "start"; "unused" is pruned unless targeted.
SCHEMA = GraphSchema(
    {
        "start": node("add", {"number": "__number__"}, amount=1),
        "left": node("add", {"number": "start"}, amount=10),
        "right": node("add", {"number": "start"}, amount=100),
        "joined": node("join", {"first": "left", "second": "right"}),
        "unused": node("add", {"number": "__number__"}, amount=1000),
    }
)


@pytest.fixture
def runners(tmp_path: Path) -> Dict[str, Any]:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(SCHEMA, "model")
    dask_runner = DaskGraphRunner.create(SCHEMA, storage, context)
    CALLS.clear()
    return {"dask": dask_runner, "sequential": SequentialGraphRunner.replacing(dask_runner)}


@pytest.mark.parametrize(
    "targets",
    [["joined"], ["left"], ["joined", "unused"], ["right", "start"], ["__number__", "left"]],
)
def test_the_same_outputs_and_calls_as_dask(runners: Dict[str, Any], targets: List[str]) -> None:
    results = {}
    calls = {}
    for name, runner in runners.items():
        CALLS.clear()
        results[name] = runner.run(inputs={"__number__": 5}, targets=targets)
        calls[name] = sorted(CALLS)
    assert results["sequential"] == results["dask"]
    assert calls["sequential"] == calls["dask"]  # each needed node once, nothing else


def test_outputs_of_the_diamond(runners: Dict[str, Any]) -> None:
    sequential = runners["sequential"]
    assert sequential.run(inputs={"__number__": 5}, targets=["joined"]) == {"joined": [16, 106]}
    assert CALLS.index("join") == 3 and CALLS[0] == "add 1"  # parents before children
    assert sequential.run(inputs={"__number__": 0}, targets=["unused"]) == {"unused": 1000}


def test_without_targets_the_schema_s_targets_run(tmp_path: Path) -> None:
    schema = GraphSchema(
        {
            "start": node("add", {"number": "__number__"}, amount=1),
            "end": SchemaNode(
                {"number": "start"}, Add, "create", "add", {"amount": 2}, is_target=True
            ),
        }
    )
    runner = DaskGraphRunner.create(schema, LocalModelStorage(tmp_path), ExecutionContext(schema))
    expected = runner.run(inputs={"__number__": 1})
    assert SequentialGraphRunner.replacing(runner).run(inputs={"__number__": 1}) == expected
    assert expected == {"end": 4}


def test_an_input_named_like_a_node_is_refused(runners: Dict[str, Any]) -> None:
    for runner in runners.values():
        with pytest.raises(GraphRunError, match="clashes with a node name"):
            runner.run(inputs={"__number__": "left"}, targets=["left"])


def test_an_input_naming_a_node_the_targets_do_not_need_is_accepted_as_under_dask(
    runners: Dict[str, Any],
) -> None:
    results = [
        runner.run(inputs={"__number__": 5, "__note__": "unused"}, targets=["left"])
        for runner in runners.values()
    ]
    assert results[0] == results[1] == {"left": 16}


def test_a_failing_component_raises_as_under_dask(runners: Dict[str, Any]) -> None:
    errors = []
    for runner in runners.values():
        with pytest.raises(GraphComponentException) as error:
            runner.run(inputs={"__number__": -5}, targets=["joined"])
        errors.append(str(error.value))
    assert errors[0] == errors[1]


def test_a_missing_input_fails_as_under_dask(runners: Dict[str, Any]) -> None:
    for runner in runners.values():
        with pytest.raises(GraphRunError, match="Missing input to run node 'start'"):
            runner.run(inputs={}, targets=["start"])


class Processor:
    def __init__(self, graph_runner: Any) -> None:
        self.graph_runner = graph_runner


class Agent:
    def __init__(self, graph_runner: Any) -> None:
        self.processor = Processor(graph_runner) if graph_runner else None


def test_the_processor_gets_the_sequential_runner_once(runners: Dict[str, Any]) -> None:
    agent = Agent(runners["dask"])
    assert use_sequential_graph_runner(agent) is True
    assert isinstance(agent.processor.graph_runner, SequentialGraphRunner)
    assert agent.processor.graph_runner.run(inputs={"__number__": 5}, targets=["left"]) == {
        "left": 16
    }
    assert use_sequential_graph_runner(agent) is False


@pytest.mark.asyncio
async def test_without_a_model_nothing_changes() -> None:
    agent = Agent(None)
    assert use_sequential_graph_runner(agent) is False

    class App:
        class ctx:  # noqa: N801 (Sanic's name)
            agent = None

    await sequential_graph_runner_on_start(App(), None)  # type: ignore[arg-type]


def test_create_instantiates_the_nodes_itself(tmp_path: Path) -> None:
    runner = SequentialGraphRunner.create(
        SCHEMA, LocalModelStorage(tmp_path), ExecutionContext(SCHEMA, "model")
    )
    assert runner.run(inputs={"__number__": 2}, targets=["right"]) == {"right": 103}


@pytest.mark.slow
@pytest.mark.asyncio
async def test_the_project_model_parses_and_predicts_the_same(trained_model: Path) -> None:
    from rasa.core.agent import Agent as RasaAgent
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    agent = RasaAgent.load(str(trained_model))
    processor = agent.processor
    dask_runner = processor.graph_runner
    runners = {"dask": dask_runner, "sequential": SequentialGraphRunner.replacing(dask_runner)}
    texts = [
        "hi there",
        "where is my order ORD-104187",
        "noise cancelling headphones under 300 euros",
        "this is useless, I want a human",
        "what's the capital of peru",
    ]
    results: Dict[str, List[Any]] = {}
    for name, runner in runners.items():
        processor.graph_runner = runner
        outputs: List[Any] = []
        events: List[Any] = [ActionExecuted("action_listen")]
        for text in texts:
            parsed = await processor.parse_message(UserMessage(text, sender_id="same"))
            outputs.append(parsed)
            events += [UserUttered(text, parsed["intent"], parsed["entities"])]
            tracker = DialogueStateTracker.from_events("same", events, slots=agent.domain.slots)
            prediction = processor.predict_next_with_tracker(tracker)
            prediction.pop("tracker")  # the events' timestamps differ between the loops
            outputs.append(prediction)
            events += [ActionExecuted("action_listen")]
        results[name] = outputs
    assert results["sequential"] == results["dask"]
    assert results["dask"][0]["intent"]["name"] == "greet"
    assert results["dask"][1]["policy"] == "RulePolicy"
