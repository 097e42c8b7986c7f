"""Run Rasa's prediction graph in a fixed order instead of through dask.

Rasa runs its NLU pipeline and its policies, for every message and every
predicted action, with ``DaskGraphRunner``: each run builds a dask graph of the
needed nodes and has dask's synchronous scheduler order and execute it. For a
graph of a dozen nodes that is pure overhead, and under load it was about 8 %
of a Rasa instance's CPU, more than TED's model (docs/benchmarks.md, "Load").
:class:`SequentialGraphRunner` runs the same instantiated nodes (the components
Rasa loaded, with their hooks) in a topological order computed once per set of
targets, passing each node its parents' outputs exactly as dask does, and
returns what ``DaskGraphRunner.run`` returns.

Production mode installs it when Rasa has started
(:func:`sequential_graph_runner_on_start`), and again on a model loaded later
through Rasa's ``PUT /model`` (:mod:`bot.prod.model_reload`).
"""

import logging
from typing import Any, Dict, List, Optional, Tuple

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import ExecutionContext, GraphNode, GraphNodeHook, GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.runner.interface import GraphRunner
from rasa.engine.storage.storage import ModelStorage
from sanic import Sanic

logger = logging.getLogger(__name__)


class SequentialGraphRunner(GraphRunner):
    """Runs the instantiated nodes of a graph schema one after the other.

    Args:
        graph_schema: The schema the nodes were instantiated from.
        nodes: The instantiated nodes, by name (as ``DaskGraphRunner`` holds them).
    """

    def __init__(self, graph_schema: GraphSchema, nodes: Dict[str, GraphNode]) -> None:
        self._graph_schema = graph_schema
        self._nodes = nodes
        self._orders: Dict[Tuple[str, ...], List[str]] = {}

    @classmethod
    def create(
        cls,
        graph_schema: GraphSchema,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
        hooks: Optional[List[GraphNodeHook]] = None,
    ) -> "SequentialGraphRunner":
        """Instantiate the schema's nodes, as ``DaskGraphRunner.create`` does."""
        dask_runner = DaskGraphRunner(graph_schema, model_storage, execution_context, hooks)
        return cls.replacing(dask_runner)

    @classmethod
    def replacing(cls, runner: DaskGraphRunner) -> "SequentialGraphRunner":
        """Take over a loaded ``DaskGraphRunner``'s schema and nodes (nothing is reloaded)."""
        # DaskGraphRunner offers no public accessor for what it loaded.
        return cls(runner._graph_schema, runner._instantiated_nodes)

    def run(
        self,
        inputs: Optional[Dict[str, Any]] = None,
        targets: Optional[List[str]] = None,
    ) -> Dict[str, Any]:
        """Run the nodes the targets need; see ``GraphRunner.run``.

        Returns:
            Each target's output, by target name.

        Raises:
            GraphRunError: If an input's value names a node the targets need, or
                a node raised a ``RuntimeError`` (as ``DaskGraphRunner`` wraps it).
        """
        run_targets = list(targets) if targets else self._graph_schema.target_names
        order = self._order(tuple(run_targets))
        values: Dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            # As DaskGraphRunner._add_inputs_to_graph, against the graph it runs.
            if isinstance(value, str) and value in order:
                raise GraphRunError(
                    f"Input value '{value}' clashes with a node name. Make sure "
                    f"that none of the input names passed to the `run` method are the "
                    f"same as node names in the graph schema."
                )
            values[name] = (name, value)
        try:
            for node_name in order:
                needs = self._graph_schema.nodes[node_name].needs.values()
                # As dask: a need that names no node or input is passed as it is.
                values[node_name] = self._nodes[node_name](*(values.get(n, n) for n in needs))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(values[target] for target in run_targets)

    def _order(self, targets: Tuple[str, ...]) -> List[str]:
        """The nodes the targets need, each after the nodes it needs."""
        order = self._orders.get(targets)
        if order is None:
            order = []
            done: set = set()

            def visit(name: str) -> None:
                if name in done or name not in self._graph_schema.nodes:
                    return  # inputs (placeholders) are not nodes
                done.add(name)
                for need in self._graph_schema.nodes[name].needs.values():
                    visit(need)
                order.append(name)

            for target in targets:
                visit(target)
            self._orders[targets] = order
        return order


def use_sequential_graph_runner(agent: Any) -> bool:
    """Make the agent's processor run its graph with :class:`SequentialGraphRunner`.

    Args:
        agent: Rasa's ``Agent`` (``app.ctx.agent``).

    Returns:
        Whether the runner was replaced (False without a model, or when done already).
    """
    processor = getattr(agent, "processor", None)
    runner = getattr(processor, "graph_runner", None)
    if not isinstance(runner, DaskGraphRunner):
        return False
    processor.graph_runner = SequentialGraphRunner.replacing(runner)
    logger.info("The model's graph runs in a fixed order, without dask.")
    return True


async def sequential_graph_runner_on_start(app: Sanic, _loop: Any) -> None:
    """Sanic ``after_server_start`` listener: the agent is loaded by then."""
    agent = getattr(app.ctx, "agent", None)
    if agent is not None:
        use_sequential_graph_runner(agent)
