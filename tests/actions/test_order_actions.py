import logging
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.db import Database
from actions.order_actions import ActionCheckReturnEligibility, ActionOrderStatus
from actions.orders import OrderRepository
from actions.settings import Settings

FORMAT_HINT = (
    'Order numbers look like ORD-104233: "ORD-" followed by six digits. '
    "You'll find yours in your order confirmation email."
)
UNAVAILABLE = "Sorry, I can't reach our order system right now, please try again in a few minutes."
RETURN_HOW_TO = (
    "To send it back, download a free returns label from the Orders page of your account, "
    "pack the items and drop the parcel off with the carrier named on the label."
)
REFUNDED_IF_CHARGED = (
    "If you were charged for it, the money has been refunded to your original payment method."
)


def texts(dispatcher: CollectingDispatcher) -> List[Optional[str]]:
    return [message["text"] for message in dispatcher.messages]


@pytest.fixture
def status_action(seeded_repository: OrderRepository, now: datetime) -> ActionOrderStatus:
    return ActionOrderStatus(repository=seeded_repository, clock=lambda: now)


@pytest.fixture
def return_action(
    seeded_repository: OrderRepository, settings: Settings, now: datetime
) -> ActionCheckReturnEligibility:
    return ActionCheckReturnEligibility(
        repository=seeded_repository, settings=settings, clock=lambda: now
    )


async def run_action(
    action: Any, tracker: Tracker, domain: Optional[Dict[str, Any]] = None
) -> Tuple[List[Dict[str, Any]], List[Optional[str]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain or {})
    return events, texts(dispatcher)


# --- action_order_status -------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("order_id", "expected"),
    [
        (
            "ORD-104233",
            "Good news: order ORD-104233 is on its way! It shipped with DHL on Wednesday "
            "12 March and should arrive tomorrow. Your DHL tracking number is "
            "JD014600006281530012.",
        ),
        (
            "ORD-104160",
            "Good news: order ORD-104160 is on its way! It shipped with DPD on Tuesday "
            "11 March and should arrive today. Your DPD tracking number is 01906098765432.",
        ),
        (
            "ORD-104219",
            "Order ORD-104219 is on its way, but it's running a little late. It shipped with "
            "GLS on Sunday 9 March and was due yesterday; carriers usually catch up within a "
            "day or two. Your GLS tracking number is 60123498765.",
        ),
        (
            "ORD-104251",
            "Order ORD-104251 was placed today and we're getting it ready. It should leave our "
            "warehouse by Tuesday 18 March, and we'll email you the tracking number as soon as "
            "it ships.",
        ),
        (
            "ORD-104240",
            "Order ORD-104240 was placed yesterday and we're getting it ready. It should leave "
            "our warehouse by Monday 17 March, and we'll email you the tracking number as soon "
            "as it ships.",
        ),
        (
            "ORD-104187",
            "Order ORD-104187 was delivered on Sunday 9 March. If something isn't right with "
            "it, just tell me and I'll check whether it can be returned.",
        ),
        (
            "ORD-104020",
            f"Order ORD-104020 was cancelled on Sunday 2 March, so it won't be shipped. "
            f"{REFUNDED_IF_CHARGED}",
        ),
        (
            "ORD-103877",
            "We received your return of order ORD-103877 on Thursday 27 February. Your refund "
            "of 159.00 EUR was issued on Saturday 1 March to your original payment method; "
            "your bank may take up to 5 working days to show it.",
        ),
        (
            "ORD-104102",
            "We received your return of order ORD-104102 on Wednesday 12 March. Your refund "
            "of 39.80 EUR is being processed and should reach your original payment method "
            "within 5 working days.",
        ),
    ],
)
async def test_order_status_describes_each_status(
    status_action: ActionOrderStatus,
    tracker_with_order_id: Callable[..., Tracker],
    order_id: str,
    expected: str,
) -> None:
    events, replies = await run_action(status_action, tracker_with_order_id(order_id))

    assert replies == [expected]
    assert events == []


@pytest.mark.asyncio
async def test_order_status_normalises_a_raw_slot_value(
    status_action: ActionOrderStatus, tracker_with_order_id: Callable[..., Tracker]
) -> None:
    events, replies = await run_action(status_action, tracker_with_order_id("ord 104187"))

    assert replies[0] is not None and replies[0].startswith("Order ORD-104187 was delivered")
    assert events == []


@pytest.mark.asyncio
async def test_order_status_for_an_unknown_order_clears_the_slot(
    status_action: ActionOrderStatus, tracker_with_order_id: Callable[..., Tracker]
) -> None:
    events, replies = await run_action(status_action, tracker_with_order_id("ORD-999999"))

    assert replies == [
        "I couldn't find an order ORD-999999. Please check the number in your order "
        "confirmation email and send it to me again."
    ]
    assert events == [SlotSet("order_id", None)]


@pytest.mark.asyncio
async def test_order_status_for_a_malformed_number_explains_the_format(
    status_action: ActionOrderStatus, tracker_with_order_id: Callable[..., Tracker]
) -> None:
    events, replies = await run_action(status_action, tracker_with_order_id("ORD-12"))

    assert replies == [f"Sorry, that doesn't look like an order number. {FORMAT_HINT}"]
    assert events == [SlotSet("order_id", None)]


@pytest.mark.asyncio
async def test_order_status_without_a_number_asks_for_it(
    status_action: ActionOrderStatus, tracker_with_order_id: Callable[..., Tracker]
) -> None:
    events, replies = await run_action(status_action, tracker_with_order_id(None))

    assert replies == [f"I need your order number to look that up. {FORMAT_HINT}"]
    assert events == []


@pytest.mark.asyncio
async def test_submit_after_the_form_gave_up_only_resets_the_counter(
    status_action: ActionOrderStatus, tracker_with_order_id: Callable[..., Tracker]
) -> None:
    # The validator already told the customer it stops asking; no second message.
    tracker = tracker_with_order_id(None, SlotSet("order_id_attempts", 3.0))

    events, replies = await run_action(status_action, tracker)

    assert replies == []
    assert events == [SlotSet("order_id_attempts", 0.0)]


@pytest.mark.asyncio
async def test_order_status_with_the_database_down_says_so_honestly(
    unreachable_settings: Settings,
    tracker_with_order_id: Callable[..., Tracker],
    now: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = Database(unreachable_settings)
    action = ActionOrderStatus(repository=OrderRepository(database), clock=lambda: now)

    with caplog.at_level(logging.ERROR, logger="actions.order_actions"):
        events, replies = await run_action(action, tracker_with_order_id("ORD-104233"))
    database.dispose()

    assert replies == [UNAVAILABLE]
    assert events == []  # the number is kept, so asking again later works
    assert [record.getMessage() for record in caplog.records] == [
        "Order lookup for ORD-104233 failed: the order database is unreachable."
    ]


# --- action_check_return_eligibility ------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("order_id", "expected"),
    [
        (
            "ORD-104187",
            "Yes, order ORD-104187 can be returned. It was delivered on Sunday 9 March, so you "
            f"have until Tuesday 8 April to send it back. {RETURN_HOW_TO} We'll refund you as "
            "soon as it reaches us.",
        ),
        (
            "ORD-103950",
            "Yes, order ORD-103950 can be returned. It was delivered on Thursday 13 February, "
            f"so you have until tomorrow to send it back. {RETURN_HOW_TO} We'll refund you as "
            "soon as it reaches us.",
        ),
        (
            "ORD-103512",
            "I'm sorry, order ORD-103512 can't be returned any more. It was delivered on "
            "Tuesday 28 January, and our 30-day return window closed on Thursday 27 February. "
            "If something is wrong with it, someone from our team can take a look: just ask "
            "me for a person.",
        ),
        (
            "ORD-103901",
            "I'm sorry, order ORD-103901 can't be returned any more. It was delivered on "
            "Tuesday 11 February, and our 30-day return window closed yesterday. If something "
            "is wrong with it, someone from our team can take a look: just ask me for a "
            "person.",
        ),
        (
            "ORD-104251",
            "Order ORD-104251 hasn't shipped yet, so there's nothing to return, but you can "
            "still cancel it: open the order on the Orders page of your account and choose "
            '"Cancel order".',
        ),
        (
            "ORD-104233",
            "Order ORD-104233 is still on its way (expected tomorrow). Once it's delivered "
            "you'll have 30 days to return it, or you can simply refuse the parcel at the door "
            "and it will come back to us for a full refund.",
        ),
        (
            "ORD-104020",
            f"Order ORD-104020 was cancelled, so there's nothing to return. {REFUNDED_IF_CHARGED}",
        ),
        (
            "ORD-103877",
            "We received your return of order ORD-103877 on Thursday 27 February. Your refund "
            "of 159.00 EUR was issued on Saturday 1 March to your original payment method; "
            "your bank may take up to 5 working days to show it.",
        ),
    ],
)
async def test_return_eligibility_for_each_situation(
    return_action: ActionCheckReturnEligibility,
    tracker_with_order_id: Callable[..., Tracker],
    order_id: str,
    expected: str,
) -> None:
    events, replies = await run_action(return_action, tracker_with_order_id(order_id))

    assert replies == [expected]
    assert events == []


@pytest.mark.asyncio
async def test_return_window_comes_from_the_settings(
    seeded_repository: OrderRepository,
    tracker_with_order_id: Callable[..., Tracker],
    now: datetime,
    tmp_path: Any,
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", return_window_days=60)
    action = ActionCheckReturnEligibility(
        repository=seeded_repository, settings=settings, clock=lambda: now
    )

    _, replies = await run_action(action, tracker_with_order_id("ORD-103512"))

    assert replies[0] is not None
    assert replies[0].startswith(
        "Yes, order ORD-103512 can be returned. It was delivered on Tuesday 28 January, "
        "so you have until Saturday 29 March to send it back."
    )


@pytest.mark.asyncio
async def test_return_eligibility_handles_unknown_and_missing_numbers(
    return_action: ActionCheckReturnEligibility, tracker_with_order_id: Callable[..., Tracker]
) -> None:
    events, replies = await run_action(return_action, tracker_with_order_id("#999999"))
    assert replies == [
        "I couldn't find an order ORD-999999. Please check the number in your order "
        "confirmation email and send it to me again."
    ]
    assert events == [SlotSet("order_id", None)]

    events, replies = await run_action(return_action, tracker_with_order_id(None))
    assert replies == [f"I need your order number to look that up. {FORMAT_HINT}"]
    assert events == []


@pytest.mark.asyncio
async def test_return_eligibility_with_the_database_down_says_so_honestly(
    unreachable_settings: Settings, tracker_with_order_id: Callable[..., Tracker], now: datetime
) -> None:
    database = Database(unreachable_settings)
    action = ActionCheckReturnEligibility(
        repository=OrderRepository(database), settings=unreachable_settings, clock=lambda: now
    )

    events, replies = await run_action(action, tracker_with_order_id("ORD-104187"))
    database.dispose()

    assert replies == [UNAVAILABLE]
    assert events == []
