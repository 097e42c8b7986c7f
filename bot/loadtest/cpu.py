"""CPU time per process during a run, from /proc (Linux): where the cores went under load."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far by each named process, and by the whole machine.

    Attributes:
        processes: Name to user + system CPU seconds (processes that are gone
            are left out).
        machine_busy_s: CPU seconds the machine spent not idle, all cores.
        machine_total_s: CPU seconds elapsed, all cores.
    """

    processes: Mapping[str, float]
    machine_busy_s: float
    machine_total_s: float


def process_cpu_s(pid: int) -> Optional[float]:
    """User + system CPU seconds of a process, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after it do not.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_cpu_s() -> Tuple[float, float]:
    """(busy, total) CPU seconds of the machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / _TICKS, total / _TICKS


def snapshot(pids: Mapping[str, int]) -> CpuSnapshot:
    """Take a snapshot of the processes' and the machine's CPU time."""
    processes = {}
    for name, pid in pids.items():
        used = process_cpu_s(pid)
        if used is not None:
            processes[name] = used
    busy, total = machine_cpu_s()
    return CpuSnapshot(processes, busy, total)


def cpu_split(before: CpuSnapshot, after: CpuSnapshot, messages: int) -> Dict[str, object]:
    """CPU milliseconds per message for each process between two snapshots.

    ``other`` is the machine's busy time not spent in the named processes:
    Locust itself, PostgreSQL, Redis, RabbitMQ and whatever else runs.

    Args:
        before: Snapshot at the start of the run.
        after: Snapshot at its end.
        messages: Messages answered in between; at least 1.

    Returns:
        ``ms_per_message`` per process (and ``other``), and how busy the
        machine was in percent of all its cores.
    """
    count = max(messages, 1)
    per_message: Dict[str, float] = {}
    named = 0.0
    for name, used in sorted(after.processes.items()):
        if name in before.processes:
            spent = used - before.processes[name]
            named += spent
            per_message[name] = round(spent * 1000 / count, 1)
    busy = after.machine_busy_s - before.machine_busy_s
    total = after.machine_total_s - before.machine_total_s
    per_message["other"] = round(max(busy - named, 0.0) * 1000 / count, 1)
    return {
        "ms_per_message": per_message,
        "machine_busy_percent": round(100 * busy / total, 1) if total > 0 else None,
    }
