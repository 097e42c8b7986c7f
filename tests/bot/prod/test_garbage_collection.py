"""What a Rasa instance loads at start is kept out of later garbage collections."""

import gc
import logging
from types import SimpleNamespace
from typing import Iterator, List

import pytest

from bot.prod.garbage_collection import freeze_heap, freeze_heap_on_start


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the other tests' collections see every object again


class Cycle:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_frozen_objects_are_left_alone_and_new_ones_collected() -> None:
    loaded: List[Cycle] = [Cycle() for _ in range(100)]
    frozen = freeze_heap()
    assert frozen == gc.get_freeze_count() >= len(loaded)
    del loaded  # cycles alive at the freeze: no collection walks them any more
    assert gc.collect() == 0
    created = Cycle()
    del created  # a cycle made after the freeze is collected as usual
    assert gc.collect() >= 1


@pytest.mark.asyncio
async def test_the_listener_freezes_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    app = SimpleNamespace(ctx=SimpleNamespace())
    with caplog.at_level(logging.INFO, logger="bot.prod.garbage_collection"):
        await freeze_heap_on_start(app, None)
        first = gc.get_freeze_count()
        await freeze_heap_on_start(app, None)  # the second production channel's listener
    assert first > 0 and app.ctx.heap_frozen is True
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    count, text = messages[0].split(" ", 1)
    assert text == "objects alive after start are kept out of garbage collection."
    # Reference counting may free a frozen object or two (a finished frame) meanwhile.
    assert abs(int(count) - first) <= 10
