"""CPU accounting of the load benchmark: per-process milliseconds per message."""

import os

from bot.loadtest.cpu import CpuSnapshot, cpu_split, process_cpu_s, snapshot


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
