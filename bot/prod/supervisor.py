"""Starts the processes of production mode, restarts any that dies, stops them all.

A process that exits (a crash, ``kill -9``, the out-of-memory killer) is
started again after 1, 2, 4 ... seconds, up to ``restart_max_s``; the pause
goes back to one second once the process has run for a minute. Each process
writes to ``<log_dir>/<name>.log`` and its current pid is kept in
``<run_dir>/pids/<name>.pid``. Children get SIGTERM if the supervisor itself
dies, so none is left behind.
"""

import ctypes
import logging
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from bot.prod.topology import ServiceSpec

logger = logging.getLogger(__name__)

# A process that ran this long is considered healthy again: the next restart
# waits one second.
STABLE_AFTER_S = 60.0
STOP_TIMEOUT_S = 20.0
_PR_SET_PDEATHSIG = 1


class StartError(RuntimeError):
    """A process exited or stayed unhealthy while the topology was starting."""


def http_ok(url: str) -> bool:
    """Return whether ``url`` answers 200 within two seconds."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: SIGTERM when the supervisor dies.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class _Slot:
    """The supervisor's bookkeeping for one service (internal, mutable)."""

    spec: ServiceSpec
    process: Optional[subprocess.Popen] = None
    started_at: float = 0.0
    backoff_s: float = 1.0
    restart_at: Optional[float] = None
    restarts: int = 0


class Supervisor:
    """Runs a list of services and keeps them running.

    Args:
        services: The processes, in start order (stopped in reverse).
        run_dir: Where the pid files go.
        log_dir: Where the log files go.
        restart_max_s: Longest pause before a restart.
        clock: Monotonic seconds.
        probe: Tells whether a health URL answers.
    """

    def __init__(
        self,
        services: Sequence[ServiceSpec],
        run_dir: Path,
        log_dir: Path,
        restart_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        probe: Callable[[str], bool] = http_ok,
    ) -> None:
        names = [spec.name for spec in services]
        if len(set(names)) != len(names):
            raise ValueError(f"service names must be unique, got {names}")
        self._slots: Dict[str, _Slot] = {spec.name: _Slot(spec) for spec in services}
        self._pid_dir = run_dir / "pids"
        self._log_dir = log_dir
        self._restart_max_s = restart_max_s
        self._clock = clock
        self._probe = probe

    @property
    def names(self) -> List[str]:
        """The services' names in start order."""
        return list(self._slots)

    def pid(self, name: str) -> Optional[int]:
        """Return the pid of a running service, None when it is not running."""
        process = self._slots[name].process
        if process is None or process.poll() is not None:
            return None
        return process.pid

    def restarts(self, name: str) -> int:
        """Return how many times a service was restarted after dying."""
        return self._slots[name].restarts

    def start(self, timeout_s: float, poll_s: float = 1.0) -> None:
        """Start every service and wait until all answer their health checks.

        Args:
            timeout_s: How long all of them together may take.
            poll_s: Pause between health checks.

        Raises:
            StartError: If a service exits or is not healthy in time; the
                services already started are stopped.
        """
        self._pid_dir.mkdir(parents=True, exist_ok=True)
        self._log_dir.mkdir(parents=True, exist_ok=True)
        waiting = [slot for slot in self._slots.values() if slot.spec.health_url]
        deadline = self._clock() + timeout_s
        try:
            for slot in self._slots.values():
                try:
                    self._spawn(slot)
                except OSError as exc:
                    raise StartError(f"could not start {slot.spec.name}: {exc}") from exc
            while waiting:
                for slot in list(waiting):
                    process = slot.process
                    assert process is not None
                    if process.poll() is not None:
                        raise StartError(
                            f"{slot.spec.name} exited with code {process.returncode} while "
                            f"starting; its log ends:\n{self.log_tail(slot.spec.name)}"
                        )
                    if self._probe(slot.spec.health_url or ""):
                        logger.info("%s is ready (pid %d)", slot.spec.name, process.pid)
                        waiting.remove(slot)
                if waiting and self._clock() > deadline:
                    names = ", ".join(slot.spec.name for slot in waiting)
                    raise StartError(f"not ready after {timeout_s:.0f} s: {names}")
                if waiting:
                    time.sleep(poll_s)
        except BaseException:
            self.stop()
            raise

    def check(self) -> None:
        """Restart services that exited, once their back-off has passed.

        Call it regularly (``supervise`` does, twice a second).
        """
        now = self._clock()
        for slot in self._slots.values():
            process = slot.process
            if process is None:
                continue
            if process.poll() is None:
                if now - slot.started_at >= STABLE_AFTER_S:
                    slot.backoff_s = 1.0
                continue
            if slot.restart_at is None:
                slot.restart_at = now + slot.backoff_s
                logger.warning(
                    "%s (pid %d) exited with code %s; restarting it in %.0f s",
                    slot.spec.name,
                    process.pid,
                    process.returncode,
                    slot.backoff_s,
                )
                slot.backoff_s = min(slot.backoff_s * 2, self._restart_max_s)
            elif now >= slot.restart_at:
                slot.restarts += 1
                try:
                    self._spawn(slot)
                except OSError as exc:
                    logger.error("could not start %s: %s", slot.spec.name, exc)
                    slot.restart_at = now + slot.backoff_s

    def supervise(self, should_stop: Callable[[], bool], poll_s: float = 0.5) -> None:
        """Keep the services running until ``should_stop()`` is true.

        Args:
            should_stop: Checked between rounds.
            poll_s: Pause between rounds.
        """
        while not should_stop():
            self.check()
            time.sleep(poll_s)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop every service: SIGTERM to all, the last started first, then SIGKILL.

        Args:
            timeout_s: How long the services may take to exit after SIGTERM.
        """
        slots = list(reversed(list(self._slots.values())))
        for slot in slots:
            slot.restart_at = None
            if slot.process is not None and slot.process.poll() is None:
                slot.process.terminate()
        deadline = self._clock() + timeout_s
        for slot in slots:
            process = slot.process
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.0, deadline - self._clock()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %.0f s; killing it", slot.spec.name, timeout_s)
                process.kill()
                process.wait()
            slot.process = None
            self._pid_file(slot.spec.name).unlink(missing_ok=True)

    def log_path(self, name: str) -> Path:
        """Return the log file of a service."""
        return self._log_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 20) -> str:
        """Return the last lines of a service's log."""
        try:
            return "\n".join(self.log_path(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _pid_file(self, name: str) -> Path:
        return self._pid_dir / f"{name}.pid"

    def _spawn(self, slot: _Slot) -> None:
        log = self.log_path(slot.spec.name).open("ab")
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {slot.spec.name}\n".encode())
        log.flush()
        try:
            slot.process = subprocess.Popen(
                list(slot.spec.argv),
                env=dict(slot.spec.env) or None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        slot.started_at = self._clock()
        slot.restart_at = None
        self._pid_file(slot.spec.name).write_text(f"{slot.process.pid}\n")
        logger.info("started %s (pid %d)", slot.spec.name, slot.process.pid)
