"""How the queue is ordered and how long a customer is told to wait.

Priority (higher is served first)::

    priority = 30 * negativity + waiting_s / 60

* ``negativity`` (0..1) is minus the mean sentiment score of the customer's
  last three scored messages, floored at 0: a customer whose recent messages
  are all clearly negative (score -1) counts as much as 30 minutes of waiting;
  neutral and positive customers add nothing.
* ``waiting_s`` is how long the customer has waited for a person: since the
  escalation while queued, since their latest unanswered message once an agent
  owns the ticket, 0 once answered or closed.

One point per minute waited means every queued customer's priority grows at
the same rate, so an angry customer moves ahead of calmer ones that escalated
less than 30 minutes earlier, but nobody waits behind newcomers forever. Ties
go to the older ticket.

Expected wait of the ``n``-th queued customer with ``a`` agents online and an
average handling time ``h``: ``ceil(n * h / a)`` seconds; unknown (None) when
no agent is online.
"""

import math
from datetime import datetime
from typing import Optional, Sequence

NEGATIVITY_WINDOW = 3
"""Number of latest sentiment scores that make up the negativity."""
NEGATIVITY_WEIGHT_MINUTES = 30.0
"""Minutes of waiting that a fully negative customer is worth."""
ONLINE_WINDOW_S = 60
"""Agents whose console was active this recently count as online."""


def negativity(scores: Sequence[float]) -> float:
    """Return how negative the latest scores are, from 0 to 1.

    Args:
        scores: Sentiment scores (-1..1), oldest first.

    Returns:
        Minus the mean of the last three scores, floored at 0; 0 without scores.
    """
    recent = list(scores)[-NEGATIVITY_WINDOW:]
    if not recent:
        return 0.0
    mean = sum(recent) / len(recent)
    return round(min(1.0, max(0.0, -mean)), 4)


def waiting_seconds(waiting_since: Optional[datetime], now: datetime) -> int:
    """Return whole seconds since ``waiting_since``; 0 when nobody waits."""
    if waiting_since is None:
        return 0
    return max(0, int((now - waiting_since).total_seconds()))


def priority(negativity_value: float, waiting_s: int) -> float:
    """Return the priority of a ticket (see the module docstring).

    Args:
        negativity_value: The customer's negativity, 0..1.
        waiting_s: Seconds the customer has been waiting for a person.

    Returns:
        The priority, rounded to two decimals.
    """
    return round(NEGATIVITY_WEIGHT_MINUTES * negativity_value + waiting_s / 60, 2)


def expected_wait_s(position: int, agents_online: int, average_handling_s: int) -> Optional[int]:
    """Return the expected seconds until an agent takes the ticket.

    Args:
        position: 1-based place in the queue.
        agents_online: Agents active in the last minute.
        average_handling_s: Seconds an agent spends per customer.

    Returns:
        The estimate, or None when no agent is online.
    """
    if agents_online <= 0:
        return None
    return math.ceil(position * average_handling_s / agents_online)
