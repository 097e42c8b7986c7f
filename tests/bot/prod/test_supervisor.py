"""The supervisor with real child processes (short Python scripts) and a fake clock."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from bot.prod.supervisor import StartError, Supervisor
from bot.prod.topology import ServiceSpec
from tests.e2e.helpers import ROOT

SLEEPER = (sys.executable, "-c", "import time; time.sleep(120)")
STUBBORN = (
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)",
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spec(name: str, argv: tuple = SLEEPER, health_url: str = "") -> ServiceSpec:
    return ServiceSpec(name=name, argv=argv, health_url=health_url or None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def started(tmp_path: Path, clock: Clock):
    supervisor = Supervisor(
        [spec("web-1"), spec("web-2")],
        tmp_path / "run",
        tmp_path / "logs",
        restart_max_s=4,
        clock=clock,
        probe=lambda url: True,
    )
    supervisor.start(timeout_s=10, poll_s=0.01)
    yield supervisor
    supervisor.stop(timeout_s=5)


def kill_and_reap(supervisor: Supervisor, name: str) -> int:
    pid = supervisor.pid(name)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while supervisor.pid(name) is not None:
        assert time.monotonic() < deadline, f"{name} did not die"
        time.sleep(0.01)
    return pid


def pid_file(tmp_path: Path, name: str) -> int:
    return int((tmp_path / "run" / "pids" / f"{name}.pid").read_text())


def test_start_writes_pid_files_and_logs(started: Supervisor, tmp_path: Path) -> None:
    assert started.names == ["web-1", "web-2"]
    for name in started.names:
        assert pid_file(tmp_path, name) == started.pid(name)
        assert f"starting {name}" in (tmp_path / "logs" / f"{name}.log").read_text()


def test_a_killed_process_is_restarted_with_growing_back_off(
    started: Supervisor, clock: Clock, tmp_path: Path
) -> None:
    first = kill_and_reap(started, "web-1")
    other = started.pid("web-2")

    started.check()  # notices the exit: restart in 1 s
    clock.now += 0.9
    started.check()
    assert started.pid("web-1") is None and started.restarts("web-1") == 0
    clock.now += 0.1
    started.check()
    second = started.pid("web-1")
    assert second is not None and second != first
    assert pid_file(tmp_path, "web-1") == second
    assert started.restarts("web-1") == 1
    assert started.pid("web-2") == other

    kill_and_reap(started, "web-1")
    started.check()  # the second crash in a row waits 2 s
    clock.now += 1.9
    started.check()
    assert started.pid("web-1") is None
    clock.now += 0.1
    started.check()
    assert started.pid("web-1") is not None and started.restarts("web-1") == 2

    log = (tmp_path / "logs" / "web-1.log").read_text()
    assert log.count("starting web-1") == 3


def test_back_off_is_capped_and_reset_after_a_stable_minute(
    started: Supervisor, clock: Clock
) -> None:
    waits: List[float] = []
    for _ in range(5):
        kill_and_reap(started, "web-1")
        started.check()
        begin = clock.now
        while started.pid("web-1") is None:
            clock.now += 0.5
            started.check()
        waits.append(clock.now - begin)
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0]

    clock.now += 60
    started.check()  # ran a minute: the next restart waits 1 s again
    kill_and_reap(started, "web-1")
    started.check()
    clock.now += 1
    started.check()
    assert started.pid("web-1") is not None


def test_a_process_exiting_during_start_fails_the_start_with_its_log(
    tmp_path: Path, clock: Clock
) -> None:
    crashing = (sys.executable, "-c", "import sys; print('no model found'); sys.exit(3)")
    supervisor = Supervisor(
        [spec("ok"), spec("broken", crashing, "http://127.0.0.1:1/")],
        tmp_path / "run",
        tmp_path / "logs",
        clock=clock,
        probe=lambda url: False,
    )
    with pytest.raises(StartError) as raised:
        supervisor.start(timeout_s=60, poll_s=0.05)
    assert str(raised.value).startswith("broken exited with code 3 while starting")
    assert str(raised.value).endswith("no model found")
    assert supervisor.pid("ok") is None
    assert list((tmp_path / "run" / "pids").iterdir()) == []


def test_a_process_that_never_gets_healthy_times_out(tmp_path: Path, clock: Clock) -> None:
    def probe(url: str) -> bool:
        clock.now += 5
        return url.endswith("/ready")

    supervisor = Supervisor(
        [spec("fine", health_url="http://x/ready"), spec("slow", health_url="http://x/never")],
        tmp_path / "run",
        tmp_path / "logs",
        clock=clock,
        probe=probe,
    )
    with pytest.raises(StartError, match=r"^not ready after 12 s: slow$"):
        supervisor.start(timeout_s=12, poll_s=0.01)
    assert supervisor.pid("fine") is None and supervisor.pid("slow") is None


def test_a_missing_executable_fails_the_start(tmp_path: Path) -> None:
    supervisor = Supervisor(
        [spec("ghost", ("/nonexistent/nginx",))], tmp_path / "run", tmp_path / "logs"
    )
    with pytest.raises(StartError, match="could not start ghost: .*No such file"):
        supervisor.start(timeout_s=5)


def test_stop_terminates_everything_and_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    supervisor = Supervisor(
        [spec("polite"), spec("stubborn", STUBBORN)],
        tmp_path / "run",
        tmp_path / "logs",
        probe=lambda url: True,
    )
    supervisor.start(timeout_s=10, poll_s=0.01)
    time.sleep(0.5)  # let the stubborn one install its handler
    began = time.monotonic()
    supervisor.stop(timeout_s=1)
    assert time.monotonic() - began < 5
    assert supervisor.pid("polite") is None and supervisor.pid("stubborn") is None
    assert list((tmp_path / "run" / "pids").iterdir()) == []


def test_names_must_be_unique(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="service names must be unique"):
        Supervisor([spec("a"), spec("a")], tmp_path, tmp_path)


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from bot.prod.supervisor import Supervisor\n"
        "from bot.prod.topology import ServiceSpec\n"
        f"spec = ServiceSpec('child', {SLEEPER!r}, None)\n"
        f"Supervisor([spec], Path({str(tmp_path)!r}), Path({str(tmp_path)!r})).start(10)\n"
        "print('started', flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "started\n"
        child = int((tmp_path / "pids" / "child.pid").read_text())
        assert alive(child)
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(child):
            assert time.monotonic() < deadline, "the child outlived the supervisor"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait(timeout=10)


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
