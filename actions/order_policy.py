"""The shop's rules about orders: when they ship and whether they can be returned.

Pure functions of an :class:`~actions.orders.OrderStatus` and the current time,
so the actions and the tests share one definition of the policy.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import Optional

from actions.orders import OrderState, OrderStatus

DISPATCH_WORKING_DAYS = 2
"""Orders leave the warehouse within this many working days (Mon-Fri)."""


class ReturnReason(str, Enum):
    """Why an order can or cannot be returned."""

    WITHIN_WINDOW = "within_window"
    """Delivered, and the return window is still open."""
    WINDOW_CLOSED = "window_closed"
    """Delivered, but longer ago than the return window."""
    NOT_SHIPPED = "not_shipped"
    """Still being prepared: it can be cancelled instead."""
    IN_TRANSIT = "in_transit"
    """On its way: return it after delivery, or refuse it at the door."""
    CANCELLED = "cancelled"
    """Cancelled: there is nothing to return."""
    ALREADY_RETURNED = "already_returned"
    """Already returned: only the refund is left to report."""
    NEEDS_REVIEW = "needs_review"
    """Marked delivered without a delivery date: a person has to check."""


@dataclass(frozen=True)
class ReturnDecision:
    """Whether an order can be returned, and until when.

    Attributes:
        order: The order the decision is about.
        reason: Why it can or cannot be returned.
        window_days: Length of the return window the decision applied.
        last_return_day: Last day (UTC) a delivered order can be sent back;
            None unless the order was delivered.
    """

    order: OrderStatus
    reason: ReturnReason
    window_days: int
    last_return_day: Optional[date] = None

    @property
    def eligible(self) -> bool:
        """Whether the customer can start a return today."""
        return self.reason is ReturnReason.WITHIN_WINDOW


def decide_return(order: OrderStatus, *, window_days: int, now: datetime) -> ReturnDecision:
    """Apply the return policy to an order.

    A delivered order can be returned until ``window_days`` days after the day
    of delivery, that day included (UTC calendar days).

    Args:
        order: The order to decide on.
        window_days: Days after delivery during which returns are accepted.
        now: The current time (timezone-aware).

    Returns:
        The decision.
    """
    if order.status is OrderState.PROCESSING:
        return ReturnDecision(order, ReturnReason.NOT_SHIPPED, window_days)
    if order.status is OrderState.SHIPPED:
        return ReturnDecision(order, ReturnReason.IN_TRANSIT, window_days)
    if order.status is OrderState.CANCELLED:
        return ReturnDecision(order, ReturnReason.CANCELLED, window_days)
    if order.status is OrderState.RETURNED:
        return ReturnDecision(order, ReturnReason.ALREADY_RETURNED, window_days)
    if order.delivered_at is None:
        return ReturnDecision(order, ReturnReason.NEEDS_REVIEW, window_days)
    last_day = order.delivered_at.date() + timedelta(days=window_days)
    reason = (
        ReturnReason.WITHIN_WINDOW
        if now.astimezone(timezone.utc).date() <= last_day
        else ReturnReason.WINDOW_CLOSED
    )
    return ReturnDecision(order, reason, window_days, last_day)


def expected_dispatch_date(placed_at: datetime) -> date:
    """Return the day by which an order placed at ``placed_at`` should ship.

    Args:
        placed_at: When the order was placed.

    Returns:
        The date ``DISPATCH_WORKING_DAYS`` working days (Mon-Fri) later.
    """
    day = placed_at.date()
    remaining = DISPATCH_WORKING_DAYS
    while remaining:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    return day
