"""The load test's conversations ask about orders that the seeded database has."""

from datetime import datetime, timezone

from actions.sample_orders import build_sample_orders
from bot.loadtest.flows import (
    FLOWS,
    RETURNABLE_ORDER_ID,
    SAMPLE_ORDER_IDS,
    Step,
    render,
)


def test_sample_order_ids_are_seeded_orders() -> None:
    seeded = {order.order_id for order in build_sample_orders(datetime.now(timezone.utc))}
    assert set(SAMPLE_ORDER_IDS) <= seeded
    assert RETURNABLE_ORDER_ID in seeded


def test_render_fills_the_order_number() -> None:
    step = Step("where is my order {order_id}?")
    assert render(step, "ORD-104233") == "where is my order ORD-104233?"
    assert render(Step("hi"), "ORD-104233") == "hi"


def test_only_the_message_after_a_handoff_may_go_unanswered() -> None:
    silent = [
        (flow.name, index)
        for flows in FLOWS.values()
        for flow in flows
        for index, step in enumerate(flow.steps)
        if not step.expect_reply
    ]
    assert silent == [("escalation", 2)]
