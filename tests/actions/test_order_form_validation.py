"""Tests of validate_order_status_form and validate_return_form."""

from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.db import Database
from actions.order_actions import ValidateOrderStatusForm, ValidateReturnForm
from actions.orders import OrderRepository
from actions.settings import Settings

FORMAT_HINT = (
    'Order numbers look like ORD-104233: "ORD-" followed by six digits. '
    "You'll find yours in your order confirmation email."
)
GIVE_UP = (
    "I'm sorry, I still can't match that to an order, so I'll stop asking for the number. "
    "Someone from our team can find your order with your email address: just ask me for "
    "a person and I'll tell you how to reach them."
)


async def run_action(
    action: Any, tracker: Tracker, domain: Dict[str, Any]
) -> Tuple[List[Dict[str, Any]], List[Optional[str]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return events, [message["text"] for message in dispatcher.messages]


@pytest.fixture(params=[ValidateOrderStatusForm, ValidateReturnForm])
def validator(request: pytest.FixtureRequest, seeded_repository: OrderRepository) -> Any:
    return request.param(repository=seeded_repository)


def form_of(validator: Any) -> str:
    return validator.form_name()


def test_validators_have_the_names_rasa_expects() -> None:
    assert ValidateOrderStatusForm().name() == "validate_order_status_form"
    assert ValidateReturnForm().name() == "validate_return_form"
    assert ValidateOrderStatusForm().form_name() == "order_status_form"
    assert ValidateReturnForm().form_name() == "return_form"


@pytest.mark.asyncio
async def test_a_known_order_is_normalised_and_resets_the_counter(
    validator: Any, tracker_for_form_turn: Callable[..., Tracker], form_domain: Dict[str, Any]
) -> None:
    tracker = tracker_for_form_turn(form_of(validator), "it's ord 104233", entity="ord 104233")

    events, replies = await run_action(validator, tracker, form_domain)

    assert replies == []
    assert events == [SlotSet("order_id", "ORD-104233"), SlotSet("order_id_attempts", 0.0)]


@pytest.mark.asyncio
async def test_a_known_order_given_when_the_form_starts_is_accepted(
    validator: Any, tracker_for_form_turn: Callable[..., Tracker], form_domain: Dict[str, Any]
) -> None:
    tracker = tracker_for_form_turn(
        form_of(validator),
        "where is #104187",
        intent="order_status",
        entity="#104187",
        activation=True,
    )

    events, replies = await run_action(validator, tracker, form_domain)

    assert replies == []
    assert events == [SlotSet("order_id", "ORD-104187"), SlotSet("order_id_attempts", 0.0)]


@pytest.mark.asyncio
async def test_an_unknown_order_is_rejected_and_counted(
    validator: Any, tracker_for_form_turn: Callable[..., Tracker], form_domain: Dict[str, Any]
) -> None:
    tracker = tracker_for_form_turn(form_of(validator), "ORD-999999", entity="ORD-999999")

    events, replies = await run_action(validator, tracker, form_domain)

    assert replies == [
        "I couldn't find an order ORD-999999. Please check the number in your order "
        "confirmation email and send it to me again."
    ]
    assert events == [SlotSet("order_id", None), SlotSet("order_id_attempts", 1.0)]


@pytest.mark.asyncio
async def test_a_malformed_reply_without_an_entity_is_rejected_with_the_format(
    validator: Any, tracker_for_form_turn: Callable[..., Tracker], form_domain: Dict[str, Any]
) -> None:
    # The regex entity extractor does not recognise "ORD-10423": the validator
    # takes the reply itself as the attempt.
    tracker = tracker_for_form_turn(form_of(validator), "ORD-10423", earlier_attempts=1)

    events, replies = await run_action(validator, tracker, form_domain)

    assert replies == [f"Sorry, that doesn't look like an order number. {FORMAT_HINT}"]
    assert events == [SlotSet("order_id", None), SlotSet("order_id_attempts", 2.0)]


@pytest.mark.asyncio
async def test_a_bare_number_without_an_entity_is_found(
    validator: Any, tracker_for_form_turn: Callable[..., Tracker], form_domain: Dict[str, Any]
) -> None:
    tracker = tracker_for_form_turn(form_of(validator), "it is 104233", intent="order_status")

    events, replies = await run_action(validator, tracker, form_domain)

    assert replies == []
    assert events == [SlotSet("order_id", "ORD-104233"), SlotSet("order_id_attempts", 0.0)]


@pytest.mark.asyncio
async def test_an_unrelated_question_is_left_to_the_rules(
    validator: Any, tracker_for_form_turn: Callable[..., Tracker], form_domain: Dict[str, Any]
) -> None:
    # No slot candidate: Rasa rejects the form and the interruption is handled.
    tracker = tracker_for_form_turn(
        form_of(validator), "how much is shipping?", intent="shipping_delivery"
    )

    events, replies = await run_action(validator, tracker, form_domain)

    assert replies == []
    assert events == []


@pytest.mark.asyncio
async def test_the_third_failure_in_a_row_ends_the_form_and_offers_a_person(
    validator: Any, tracker_for_form_turn: Callable[..., Tracker], form_domain: Dict[str, Any]
) -> None:
    tracker = tracker_for_form_turn(
        form_of(validator), "banana", earlier_attempts=2, intent="inform"
    )

    events, replies = await run_action(validator, tracker, form_domain)

    assert replies == [GIVE_UP]
    assert events == [
        SlotSet("order_id", None),
        SlotSet("requested_slot", None),
        SlotSet("order_id_attempts", 3.0),
    ]


@pytest.mark.asyncio
async def test_failures_from_an_earlier_form_run_do_not_count(
    validator: Any,
    tracker_for_form_turn: Callable[..., Tracker],
    build_tracker: Callable[..., Tracker],
    form_domain: Dict[str, Any],
) -> None:
    # The customer gave two wrong numbers, walked away, and starts the form again.
    form = form_of(validator)
    earlier = tracker_for_form_turn(form, "ORD-999998", entity="ORD-999998", earlier_attempts=2)
    current = tracker_for_form_turn(form, "ORD-999999", entity="ORD-999999")

    events = [*earlier.events, ActiveLoop(None), *current.events]
    tracker = build_tracker(events, latest_message=current.latest_message, active_loop=form)
    assert tracker.get_slot("order_id_attempts") == 2.0

    result, replies = await run_action(validator, tracker, form_domain)

    assert result == [SlotSet("order_id", None), SlotSet("order_id_attempts", 1.0)]
    assert len(replies) == 1


@pytest.mark.asyncio
async def test_a_failure_when_the_form_starts_counts_from_zero(
    validator: Any,
    tracker_for_form_turn: Callable[..., Tracker],
    build_tracker: Callable[..., Tracker],
    form_domain: Dict[str, Any],
) -> None:
    stale = build_tracker([SlotSet("order_id_attempts", 2.0)])
    start = tracker_for_form_turn(
        form_of(validator),
        "where is ORD-999999",
        intent="order_status",
        entity="ORD-999999",
        activation=True,
    )
    tracker = build_tracker([*stale.events, *start.events], latest_message=start.latest_message)

    events, _ = await run_action(validator, tracker, form_domain)

    assert events == [SlotSet("order_id", None), SlotSet("order_id_attempts", 1.0)]


@pytest.mark.asyncio
async def test_validation_with_the_database_down_keeps_the_number(
    unreachable_settings: Settings,
    tracker_for_form_turn: Callable[..., Tracker],
    form_domain: Dict[str, Any],
) -> None:
    # The form completes and its submit action tells the customer about the outage.
    database = Database(unreachable_settings)
    validator = ValidateOrderStatusForm(repository=OrderRepository(database))
    tracker = tracker_for_form_turn("order_status_form", "ORD-104233", entity="ORD-104233")

    events, replies = await run_action(validator, tracker, form_domain)
    database.dispose()

    assert replies == []
    assert events == [SlotSet("order_id", "ORD-104233"), SlotSet("order_id_attempts", 0.0)]
