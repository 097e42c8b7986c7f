"""The conversations the load test sends: realistic multi-turn flows over REST.

This module uses the standard library only: the Locust file imports it inside
the separate ``.venv-load`` virtualenv, where neither Rasa nor the project's
dependencies are installed.
"""

from dataclasses import dataclass
from typing import Dict, Tuple

# Orders of actions/sample_orders.py (seeded into the benchmark's database);
# tests/bot/loadtest/test_flows.py checks that they exist there.
SAMPLE_ORDER_IDS: Tuple[str, ...] = (
    "ORD-104233",
    "ORD-104187",
    "ORD-104251",
    "ORD-103512",
    "ORD-104020",
    "ORD-104219",
)
RETURNABLE_ORDER_ID = "ORD-104187"
ANGRY = "This is absolutely terrible. Worst service ever, I am furious and disgusted!"
ORDER_PLACEHOLDER = "{order_id}"


@dataclass(frozen=True)
class Step:
    """One customer message.

    Attributes:
        text: The message; ``{order_id}`` is replaced by a sample order number.
        expect_reply: Whether the bot must answer it. False after a handoff,
            where the conversation is with a person and the bot stays silent:
            an empty reply is then correct, and a non-empty one is not an error
            either (the handoff may not have happened, e.g. a busy queue).
    """

    text: str
    expect_reply: bool = True


@dataclass(frozen=True)
class Flow:
    """One conversation, sent by one simulated customer with a fresh sender id.

    Attributes:
        name: Short name, used in the samples.
        weight: How often it is picked relative to the other flows.
        steps: The messages, in order.
    """

    name: str
    weight: int
    steps: Tuple[Step, ...]


PROJECT_FLOWS: Tuple[Flow, ...] = (
    Flow(
        "recommendation",
        3,
        (
            Step("hi"),
            Step("I need noise cancelling headphones under 300 euros"),
            Step("something cheaper please"),
            Step("thanks, bye"),
        ),
    ),
    Flow(
        "order_status",
        3,
        (
            Step("hello"),
            Step("where is my order {order_id}?"),
            Step("thanks"),
        ),
    ),
    Flow(
        "return",
        2,
        (
            Step(f"I'd like to return order {RETURNABLE_ORDER_ID} please"),
            Step("thank you"),
        ),
    ),
    Flow(
        "escalation",
        1,
        (
            Step("hi, where is my order {order_id}?"),
            Step(ANGRY),
            Step("ok, it was supposed to arrive last Monday", expect_reply=False),
        ),
    ),
    Flow(
        "out_of_scope",
        1,
        (
            Step("what's the weather like on mars?"),
            Step("goodbye"),
        ),
    ),
)

# Rasa's `rasa init` assistant (moodbot): its own intents.
STOCK_FLOWS: Tuple[Flow, ...] = (
    Flow("happy", 3, (Step("hello"), Step("I'm great"), Step("bye"))),
    Flow("sad", 2, (Step("hi there"), Step("I am sad"), Step("yes"), Step("goodbye"))),
    Flow("bot_challenge", 1, (Step("are you a bot?"), Step("ok, bye"))),
)

FLOWS: Dict[str, Tuple[Flow, ...]] = {"project": PROJECT_FLOWS, "stock": STOCK_FLOWS}


def render(step: Step, order_id: str) -> str:
    """Return the step's message with the conversation's order number filled in.

    Args:
        step: The step.
        order_id: The sample order this conversation asks about.

    Returns:
        The text to send.
    """
    return step.text.replace(ORDER_PLACEHOLDER, order_id)
