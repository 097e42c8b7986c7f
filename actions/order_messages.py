"""What the assistant says about orders: status replies, return answers, problems.

Plain functions from typed records to text, kept apart from the actions so the
wording can be read (and tested) in one place. Dates are UTC calendar days,
named relative to ``today`` ("tomorrow", "on Friday 14 March").
"""

from datetime import date, datetime
from typing import Optional

from actions.order_policy import ReturnDecision, ReturnReason, expected_dispatch_date
from actions.orders import ORDER_ID_FORMAT, OrderState, OrderStatus, RefundStatus

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def weekday_day_month(day: date) -> str:
    """Name a day the way customers read it, e.g. "Friday 14 March"."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


FORMAT_HINT = (
    f'Order numbers look like {ORDER_ID_FORMAT}: "ORD-" followed by six digits. '
    "You'll find yours in your order confirmation email."
)
MALFORMED_ORDER_ID = f"Sorry, that doesn't look like an order number. {FORMAT_HINT}"
MISSING_ORDER_ID = f"I need your order number to look that up. {FORMAT_HINT}"
ORDER_SYSTEM_UNAVAILABLE = (
    "Sorry, I can't reach our order system right now, please try again in a few minutes."
)
# Offers of a person are phrased as an invitation, not a yes/no question: the
# rules follow these replies with "anything else?", whose yes/no they would steal.
_OFFER_HUMAN = "Someone from our team can take a look: just ask me for a person."
GIVE_UP_ASKING = (
    "I'm sorry, I still can't match that to an order, so I'll stop asking for the number. "
    "Someone from our team can find your order with your email address: just ask me for "
    "a person and I'll tell you how to reach them."
)
_LABEL_HOW_TO = (
    "To send it back, download a free returns label from the Orders page of your account, "
    "pack the items and drop the parcel off with the carrier named on the label."
)
_REFUNDED_IF_CHARGED = (
    "If you were charged for it, the money has been refunded to your original payment method."
)


def unknown_order(order_id: str) -> str:
    """Say that a well-formed order number matches no order.

    Args:
        order_id: The canonical number that was looked up.

    Returns:
        The reply.
    """
    return (
        f"I couldn't find an order {order_id}. Please check the number in your order "
        "confirmation email and send it to me again."
    )


def day_name(day: date, today: date) -> str:
    """Name a day relative to today: "today", "tomorrow", "Friday 14 March".

    Args:
        day: The day to name.
        today: The current day.

    Returns:
        "yesterday", "today" or "tomorrow" when it is one of those, otherwise
        weekday, day and month, plus the year when it is not this year's.
    """
    offset = (day - today).days
    if offset in (-1, 0, 1):
        return ("yesterday", "today", "tomorrow")[offset + 1]
    name = weekday_day_month(day)
    return name if day.year == today.year else f"{name} {day.year}"


def on_day(day: date, today: date) -> str:
    """Name a day for use after a verb: "today", "on Friday 14 March".

    Args:
        day: The day to name.
        today: The current day.

    Returns:
        The name, with "on" before a weekday.
    """
    name = day_name(day, today)
    return name if name in ("yesterday", "today", "tomorrow") else f"on {name}"


def format_money(cents: int, currency: str) -> str:
    """Format an amount in cents the way the shop writes prices ("49.90 EUR").

    Args:
        cents: The amount in minor units.
        currency: ISO 4217 code.

    Returns:
        The amount with two decimals and the currency code.
    """
    return f"{cents // 100}.{cents % 100:02d} {currency}"


def _when(moment: Optional[datetime], today: date) -> str:
    """Return " on <day>" (with a leading space) or "" when the moment is unknown."""
    return f" {on_day(moment.date(), today)}" if moment is not None else ""


def refund_message(order: OrderStatus, today: date) -> str:
    """Describe the return and refund of a returned order.

    Args:
        order: An order in state ``returned``.
        today: The current day (UTC).

    Returns:
        The reply.
    """
    text = f"We received your return of order {order.order_id}{_when(order.returned_at, today)}."
    amount = (
        f" of {format_money(order.refund_amount_cents, order.currency)}"
        if order.refund_amount_cents is not None
        else ""
    )
    if order.refund_status is RefundStatus.ISSUED:
        return (
            f"{text} Your refund{amount} was issued{_when(order.refunded_at, today)} "
            "to your original payment method; your bank may take up to 5 working days "
            "to show it."
        )
    if order.refund_status is RefundStatus.PENDING:
        return (
            f"{text} Your refund{amount} is being processed and should reach your "
            "original payment method within 5 working days."
        )
    return f"{text} We're checking the items and will email you as soon as the refund is issued."


def status_message(order: OrderStatus, today: date) -> str:
    """Describe where an order is.

    Args:
        order: The order.
        today: The current day (UTC).

    Returns:
        The reply for the order's status.
    """
    oid = order.order_id
    if order.status is OrderState.PROCESSING:
        placed = on_day(order.placed_at.date(), today)
        dispatch = expected_dispatch_date(order.placed_at)
        if dispatch >= today:
            when = "today" if dispatch == today else f"by {day_name(dispatch, today)}"
            timing = f"It should leave our warehouse {when}"
        else:
            timing = "It's taking a little longer than usual to leave our warehouse"
        return (
            f"Order {oid} was placed {placed} and we're getting it ready. {timing}, "
            "and we'll email you the tracking number as soon as it ships."
        )
    if order.status is OrderState.SHIPPED:
        return _shipped_message(order, today)
    if order.status is OrderState.DELIVERED:
        return (
            f"Order {oid} was delivered{_when(order.delivered_at, today)}. If something isn't "
            "right with it, just tell me and I'll check whether it can be returned."
        )
    if order.status is OrderState.CANCELLED:
        return (
            f"Order {oid} was cancelled{_when(order.cancelled_at, today)}, so it won't be "
            f"shipped. {_REFUNDED_IF_CHARGED}"
        )
    return refund_message(order, today)


def _shipped_message(order: OrderStatus, today: date) -> str:
    eta = order.estimated_delivery
    late = eta is not None and eta < today
    if late:
        opening = f"Order {order.order_id} is on its way, but it's running a little late."
    else:
        opening = f"Good news: order {order.order_id} is on its way!"
    carrier = f" with {order.carrier}" if order.carrier else ""
    shipped = f"It shipped{carrier}{_when(order.shipped_at, today)}"
    if eta is None:
        shipped += "."
    elif late:
        shipped += (
            f" and was due {on_day(eta, today)}; carriers usually catch up within a day or two."
        )
    else:
        shipped += f" and should arrive {on_day(eta, today)}."
    parts = [opening, shipped]
    if order.tracking_number:
        owner = f"{order.carrier} " if order.carrier else ""
        parts.append(f"Your {owner}tracking number is {order.tracking_number}.")
    return " ".join(parts)


def return_message(decision: ReturnDecision, today: date) -> str:
    """Explain whether and how an order can be returned.

    Args:
        decision: The return policy's decision for the order.
        today: The current day (UTC).

    Returns:
        The reply.
    """
    order = decision.order
    oid = order.order_id
    reason = decision.reason
    if reason is ReturnReason.WITHIN_WINDOW and decision.last_return_day is not None:
        return (
            f"Yes, order {oid} can be returned. It was delivered"
            f"{_when(order.delivered_at, today)}, so you have until "
            f"{day_name(decision.last_return_day, today)} to send it back. {_LABEL_HOW_TO} "
            "We'll refund you as soon as it reaches us."
        )
    if reason is ReturnReason.WINDOW_CLOSED and decision.last_return_day is not None:
        return (
            f"I'm sorry, order {oid} can't be returned any more. It was delivered"
            f"{_when(order.delivered_at, today)}, and our {decision.window_days}-day return "
            f"window closed {on_day(decision.last_return_day, today)}. If something is wrong "
            "with it, someone from our team can take a look: just ask me for a person."
        )
    if reason is ReturnReason.NOT_SHIPPED:
        return (
            f"Order {oid} hasn't shipped yet, so there's nothing to return, but you can still "
            "cancel it: open the order on the Orders page of your account and choose "
            '"Cancel order".'
        )
    if reason is ReturnReason.IN_TRANSIT:
        eta = order.estimated_delivery
        expected = f" (expected {on_day(eta, today)})" if eta is not None else ""
        return (
            f"Order {oid} is still on its way{expected}. Once it's delivered you'll have "
            f"{decision.window_days} days to return it, or you can simply refuse the parcel "
            "at the door and it will come back to us for a full refund."
        )
    if reason is ReturnReason.CANCELLED:
        return f"Order {oid} was cancelled, so there's nothing to return. {_REFUNDED_IF_CHARGED}"
    if reason is ReturnReason.ALREADY_RETURNED:
        return refund_message(order, today)
    return (
        f"I can't tell from our records when order {oid} was delivered, so I can't confirm "
        f"whether it can still be returned. {_OFFER_HUMAN}"
    )
