"""CPU accounting of the load benchmark: per-process milliseconds per message."""

import os
import subprocess
import sys

from bot.loadtest.cpu import LOCUST, CpuSnapshot, cpu_split, process_cpu_s, snapshot


def test_cpu_split_divides_each_process_and_the_rest_by_the_messages() -> None:
    before = CpuSnapshot({"rasa-1": 10.0, "actions-1": 2.0, "gone": 1.0}, 100.0, 400.0)
    after = CpuSnapshot({"rasa-1": 13.0, "actions-1": 2.5, "new": 9.0}, 105.0, 410.0)
    assert cpu_split(before, after, messages=50) == {
        "ms_per_message": {"actions-1": 10.0, "rasa-1": 60.0, "other": 30.0},
        "machine_busy_percent": 50.0,
    }


def test_snapshot_reads_this_process_and_skips_missing_ones() -> None:
    own = process_cpu_s(os.getpid())
    assert own is not None and own > 0
    taken = snapshot({"me": os.getpid(), "nobody": 2**22 + 1})
    assert list(taken.processes) == ["me"]
    assert 0 < taken.machine_busy_s < taken.machine_total_s


def test_services_and_finished_children_are_split_out_of_other() -> None:
    before = CpuSnapshot({"rasa-1": 10.0}, 100.0, 400.0, {"postgresql": 4.0}, 1.0)
    after = CpuSnapshot({"rasa-1": 12.0}, 106.0, 410.0, {"postgresql": 5.0, "redis": 0.5}, 1.5)
    assert cpu_split(before, after, messages=100) == {
        "ms_per_message": {
            "rasa-1": 20.0,
            "postgresql": 10.0,
            "redis": 5.0,
            LOCUST: 5.0,
            "other": 20.0,
        },
        "machine_busy_percent": 60.0,
    }


def test_snapshot_counts_a_finished_child_and_leaves_named_processes_out_of_services() -> None:
    before = snapshot({"me": os.getpid()})
    busy_loop = (
        "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    )
    subprocess.run([sys.executable, "-c", busy_loop], check=True)
    after = snapshot({"me": os.getpid()})
    assert after.finished_children_s - before.finished_children_s >= 0.25
    assert all(seconds >= 0 for seconds in after.services.values())
