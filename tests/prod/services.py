"""Private PostgreSQL and Redis servers for the production tests.

The fault tests stop and start the stores. They get servers of their own, on
free ports in temporary folders, so that other work on this machine using the
system's PostgreSQL and Redis is never disturbed. PostgreSQL refuses to run as
root, so as root it runs as the ``postgres`` user.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from tests.e2e.helpers import free_port

POSTGRES_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, up: bool, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while accepts_connections(port) != up:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} on port {port} not {'up' if up else 'down'} in {seconds} s")
        time.sleep(0.1)


def postgres_binary(name: str) -> Optional[str]:
    for directory in POSTGRES_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    return shutil.which(name)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (trust authentication, user ``postgres``)."""

    def __init__(self) -> None:
        initdb, postgres = postgres_binary("initdb"), postgres_binary("postgres")
        if initdb is None or postgres is None:
            raise RuntimeError("PostgreSQL's initdb and postgres programs are not installed")
        self._postgres = postgres
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="prod-test-pg-"))
        self._as_user: Dict[str, Any] = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.directory, account.pw_uid, account.pw_gid)
            self._as_user = {"user": account.pw_uid, "group": account.pw_gid}
        self.process: Optional[subprocess.Popen] = None
        result = subprocess.run(
            [initdb, "-D", str(self.directory / "data"), "-U", "postgres", "--auth=trust"],
            capture_output=True,
            text=True,
            timeout=120,
            **self._as_user,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stdout}{result.stderr}")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        log = (self.directory / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [
                self._postgres,
                "-D",
                str(self.directory / "data"),
                "-p",
                str(self.port),
                "-k",
                str(self.directory),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            **self._as_user,
        )
        log.close()
        wait_for_port(self.port, True, 60, "PostgreSQL")

    def stop(self) -> None:
        """Fast shutdown: clients are disconnected, committed data is kept."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)
        self.process = None
        wait_for_port(self.port, False, 10, "PostgreSQL")

    def remove(self) -> None:
        if self.process is not None:
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRedis:
    """A throwaway Redis without persistence (locks are short-lived anyway)."""

    def __init__(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed")
        self._argv: List[str] = [server]
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="prod-test-redis-"))
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                *self._argv,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.port, True, 30, "Redis")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None
        wait_for_port(self.port, False, 10, "Redis")

    def remove(self) -> None:
        if self.process is not None:
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
