"""Keep what a Rasa instance loads at start out of Python's full garbage collections.

Under the saturated load of ``make bench-load`` a Rasa instance spent 15 to 20 %
of its CPU in the cyclic garbage collector: a full collection about every 10 s,
each walking the millions of objects of TensorFlow, torch and the loaded model
(0.6 to 1 s each, a pause for every conversation on that instance). Those
objects live as long as the process.

:func:`freeze_heap_on_start` (an ``after_server_start`` listener of the
production channels, when the model is loaded) collects once, then moves every
object alive into the permanent generation that :func:`gc.freeze` keeps out of
later collections, which then walk only what was created since.

Reference counting still frees frozen objects; only reference cycles among
them are never collected. After a model load through Rasa's ``PUT /model`` the
heap is unfrozen, collected (the replaced model's cycles go) and frozen again
(:mod:`bot.prod.model_reload`).
"""

import gc
import logging
from typing import Any

from sanic import Sanic

logger = logging.getLogger(__name__)


def freeze_heap() -> int:
    """Collect once, then keep every object alive out of later collections.

    Returns:
        How many objects are frozen in all.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def freeze_heap_on_start(app: Sanic, _loop: Any) -> None:
    """Sanic ``after_server_start`` listener: freeze the heap once per process."""
    if getattr(app.ctx, "heap_frozen", False):
        return
    app.ctx.heap_frozen = True
    frozen = freeze_heap()
    logger.info("%d objects alive after start are kept out of garbage collection.", frozen)
