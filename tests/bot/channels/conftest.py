"""Fixtures shared by the channel tests.

Each test starts without log masking and leaves none behind: a channel installs
:func:`bot.privacy.install_log_masking` for the whole process when it builds its
routes (as in Rasa); undoing it after each test keeps other test modules' log
assertions independent of the order tests run in.
"""

from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from bot.privacy import uninstall_log_masking
from tests.bot.channels.platform_apis import FakePlatformApis


@pytest_asyncio.fixture
async def apis() -> AsyncIterator[FakePlatformApis]:
    """Local fakes of the platforms' APIs, recording what the channels send."""
    fakes = FakePlatformApis()
    await fakes.start()
    yield fakes
    await fakes.close()


@pytest.fixture(autouse=True)
def no_log_masking_left_behind() -> Iterator[None]:
    uninstall_log_masking()
    yield
    uninstall_log_masking()
