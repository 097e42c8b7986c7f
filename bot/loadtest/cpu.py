"""CPU time per process during a run, from /proc (Linux): where the cores went under load."""

import os
import resource
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional, Tuple

_TICKS = os.sysconf("SC_CLK_TCK")

SERVICE_OF_COMMAND: Mapping[str, str] = {
    "postgres": "postgresql",
    "beam.smp": "rabbitmq",
    "erl_child_setup": "rabbitmq",
    "epmd": "rabbitmq",
    "redis-server": "redis",
    "nginx": "nginx workers",
}
"""Services of the machine, by process command name, whose CPU is reported apart."""

LOCUST = "locust (load generator)"


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far by each named process, and by the whole machine.

    Attributes:
        processes: Name to user + system CPU seconds (processes that are gone
            are left out).
        machine_busy_s: CPU seconds the machine spent not idle, all cores.
        machine_total_s: CPU seconds elapsed, all cores.
        services: :data:`SERVICE_OF_COMMAND` service to CPU seconds of its
            processes, those in ``processes`` left out.
        finished_children_s: CPU seconds of this process's children that have
            ended (Locust, between two snapshots around its run).
    """

    processes: Mapping[str, float]
    machine_busy_s: float
    machine_total_s: float
    services: Mapping[str, float] = field(default_factory=dict)
    finished_children_s: float = 0.0


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


def _all_pids() -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def process_command(pid: int) -> Optional[str]:
    """The command name of a process (``/proc/<pid>/comm``), or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def services_cpu_s(exclude: Mapping[str, int]) -> Dict[str, float]:
    """CPU seconds so far of each :data:`SERVICE_OF_COMMAND` service's processes."""
    excluded = set(exclude.values())
    used: Dict[str, float] = defaultdict(float)
    for pid in _all_pids():
        service = SERVICE_OF_COMMAND.get(process_command(pid) or "")
        if service is None or pid in excluded:
            continue
        seconds = process_cpu_s(pid)
        if seconds is not None:
            used[service] += seconds
    return dict(used)


def snapshot(pids: Mapping[str, int]) -> CpuSnapshot:
    """Take a snapshot of the processes', the services' and the machine's CPU time."""
    processes = {}
    for name, pid in pids.items():
        used = process_cpu_s(pid)
        if used is not None:
            processes[name] = used
    busy, total = machine_cpu_s()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSnapshot(
        processes, busy, total, services_cpu_s(pids), children.ru_utime + children.ru_stime
    )


def cpu_split(before: CpuSnapshot, after: CpuSnapshot, messages: int) -> Dict[str, object]:
    """CPU milliseconds per message for each process between two snapshots.

    Besides the named processes: each service of :data:`SERVICE_OF_COMMAND`
    (processes that ended in between are not counted), :data:`LOCUST` (the
    children of this process that ended in between: the load generator), and
    ``other``, the machine's busy time not spent in any of them.

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
    for service, used in sorted(after.services.items()):
        spent = max(used - before.services.get(service, 0.0), 0.0)
        named += spent
        per_message[service] = round(spent * 1000 / count, 1)
    locust = max(after.finished_children_s - before.finished_children_s, 0.0)
    if locust > 0:
        named += locust
        per_message[LOCUST] = round(locust * 1000 / count, 1)
    busy = after.machine_busy_s - before.machine_busy_s
    total = after.machine_total_s - before.machine_total_s
    per_message["other"] = round(max(busy - named, 0.0) * 1000 / count, 1)
    return {
        "ms_per_message": per_message,
        "machine_busy_percent": round(100 * busy / total, 1) if total > 0 else None,
    }
