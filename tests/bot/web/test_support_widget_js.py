"""Runs the loader's unit tests (``support_widget.test.js``) with node's test runner."""

import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).with_name("support_widget.test.js")


def test_the_loader_passes_its_node_tests() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (make setup installs npm, which brings it)")
    result = subprocess.run(
        [node, "--test", str(TESTS)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
