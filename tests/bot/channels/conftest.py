"""Channel tests: each test starts without log masking and leaves none behind.

A channel installs :func:`bot.privacy.install_log_masking` for the whole
process when it builds its routes (as in Rasa); undoing it after each test
keeps other test modules' log assertions independent of the order tests run in.
"""

from typing import Iterator

import pytest

from bot.privacy import uninstall_log_masking


@pytest.fixture(autouse=True)
def no_log_masking_left_behind() -> Iterator[None]:
    uninstall_log_masking()
    yield
    uninstall_log_masking()
