"""The two deployments the load benchmark measures, started and stopped by it.

* **project**: production mode (``python -m bot.prod run``, as ``make run-prod``):
  two Rasa instances and two action servers behind nginx, PostgreSQL, Redis
  and RabbitMQ, the fine-tuned MiniLM intent and sentiment models, handoff on
  (office always open). It uses the machine's services with databases, Redis
  key prefix and RabbitMQ queue of its own (``loadtest_*``), recreated empty on
  every run so that earlier conversations do not slow it down.
* **stock**: Rasa's ``rasa init --no-prompt`` assistant, trained in a temporary
  folder and served by one ``rasa run`` process (REST channel, in-memory
  tracker store, as ``rasa init`` leaves it).
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import requests
from sqlalchemy import create_engine, text

from actions.settings import PROJECT_ROOT

RASA = str(Path(sys.executable).parent / "rasa")
SERVER = "postgresql://postgres@127.0.0.1:5432"
ASSISTANT_DB = "loadtest_assistant"
TRACKER_DB = "loadtest_rasa"
RABBITMQ_QUEUE = "loadtest_events"
RABBITMQ_EXCHANGE = "loadtest-exchange"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _wait(urls: List[str], process: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not all(_answers(url) for url in urls):
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not healthy after {seconds} s:\n{_tail(log)}")
        time.sleep(1)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: Optional[subprocess.Popen]) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _run(args: List[str], env: Mapping[str, str], cwd: Path, timeout: int = 900) -> None:
    result = subprocess.run(
        args, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        output = result.stdout[-2000:] + result.stderr[-2000:]
        raise RuntimeError(f"{' '.join(args)} failed:\n{output}")


def recreate_databases(names: List[str], server_url: str = SERVER) -> None:
    """Drop and create empty PostgreSQL databases (``DROP ... WITH (FORCE)``)."""
    engine = create_engine(f"{server_url}/postgres", future=True, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def newest_model(folder: Path) -> Path:
    """The newest ``*.tar.gz`` in ``folder`` (what Rasa itself would load)."""
    models = sorted(folder.glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    if not models:
        raise RuntimeError(f"no trained model in {folder}: run `make train` first")
    return models[-1]


@dataclass(frozen=True)
class Endpoints:
    """Where a running deployment answers.

    Attributes:
        public_url: The REST channel's base URL (nginx for the project).
        rasa_url: One Rasa instance directly (for /model/parse and the API).
        actions_url: One action server directly; None for the stock assistant.
        token: Rasa's API token ("" when the API has none).
        database_url: The project database; None for the stock assistant.
    """

    public_url: str
    rasa_url: str
    actions_url: Optional[str]
    token: str
    database_url: Optional[str]


class ProjectDeployment:
    """Production mode on the machine's services, with benchmark-only databases."""

    def __init__(
        self, model: Path, work_dir: Path, extra_env: Optional[Mapping[str, str]] = None
    ) -> None:
        self.model = model
        self.work_dir = work_dir
        self.process: Optional[subprocess.Popen] = None
        token = secrets.token_urlsafe(24)
        rasa_ports = [free_port(), free_port()]
        actions_ports = [free_port(), free_port()]
        public = free_port()
        self.endpoints = Endpoints(
            public_url=f"http://127.0.0.1:{public}",
            rasa_url=f"http://127.0.0.1:{rasa_ports[0]}",
            actions_url=f"http://127.0.0.1:{actions_ports[0]}",
            token=token,
            database_url=f"{SERVER}/{ASSISTANT_DB}",
        )
        self.env: Dict[str, str] = {
            **os.environ,
            "RASA_AUTH_TOKEN": token,
            "RASA_MODEL": str(model),
            "PROD_LISTEN_HOST": "127.0.0.1",
            "PROD_PUBLIC_PORT": str(public),
            "PROD_ACTIONS_PROXY_PORT": str(free_port()),
            "PROD_RASA_PORTS": ",".join(map(str, rasa_ports)),
            "PROD_ACTIONS_PORTS": ",".join(map(str, actions_ports)),
            "HANDOFF_PORT": str(free_port()),
            "PROD_RUN_DIR": str(work_dir / "run"),
            "PROD_LOG_DIR": str(work_dir / "logs"),
            "ASSISTANT_DATABASE_URL": f"{SERVER}/{ASSISTANT_DB}",
            "RASA_TRACKER_DB_NAME": TRACKER_DB,
            "REDIS_KEY_PREFIX": "loadtest",
            "RABBITMQ_QUEUE": RABBITMQ_QUEUE,
            "RABBITMQ_EXCHANGE": RABBITMQ_EXCHANGE,
            "HANDOFF_OFFICE_HOURS": "24/7",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            **(extra_env or {}),
        }
        self.health_urls = [
            f"{self.endpoints.public_url}/lb/health",
            *(f"http://127.0.0.1:{port}/" for port in rasa_ports),
            *(f"http://127.0.0.1:{port}/health" for port in actions_ports),
        ]

    def start(self, seconds: float = 900) -> Endpoints:
        """Prepare the stores as ``run_prod.sh`` does, start and wait until healthy."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        recreate_databases([ASSISTANT_DB, TRACKER_DB])
        python = sys.executable
        _run([python, "-m", "bot.prod", "check"], self.env, PROJECT_ROOT)
        _run([python, "-m", "actions.db", "seed"], self.env, PROJECT_ROOT)
        _run([python, "-m", "actions.recommender", "embed"], self.env, PROJECT_ROOT)
        log = self.work_dir / "supervisor.log"
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [python, "-m", "bot.prod", "run"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait(self.health_urls, self.process, log, seconds)
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    def pids(self) -> Dict[str, int]:
        """The current pid of each process, from the supervisor's pid files."""
        pids = {}
        for path in sorted((self.work_dir / "run" / "pids").glob("*.pid")):
            try:
                pids[path.stem] = int(path.read_text())
            except (OSError, ValueError):
                continue
        return pids

    def stop(self) -> None:
        """Stop every process (the supervisor stops its children)."""
        _stop(self.process)
        self.process = None
        _delete_rabbitmq_objects(self.env)


def _delete_rabbitmq_objects(env: Mapping[str, str]) -> None:
    import asyncio

    import aio_pika

    from bot.prod.preflight import rabbitmq_url
    from bot.prod.settings import ProductionSettings

    async def delete() -> None:
        url = rabbitmq_url(ProductionSettings.from_env(dict(env)))
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(RABBITMQ_QUEUE)
            await channel.exchange_delete(RABBITMQ_EXCHANGE)

    try:
        asyncio.run(delete())
    except Exception as exc:  # cleanup only
        print(f"could not delete the RabbitMQ queue {RABBITMQ_QUEUE}: {exc!r}", file=sys.stderr)


class StockDeployment:
    """Rasa's ``rasa init`` assistant, trained now in a temporary folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="loadtest-stock-"))
        self.process: Optional[subprocess.Popen] = None
        port = free_port()
        self.endpoints = Endpoints(
            public_url=f"http://127.0.0.1:{port}",
            rasa_url=f"http://127.0.0.1:{port}",
            actions_url=None,
            token="",
            database_url=None,
        )
        self.env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def start(self, seconds: float = 600) -> Endpoints:
        """Scaffold and train with ``rasa init --no-prompt``, then ``rasa run``."""
        _run([RASA, "init", "--no-prompt", "--init-dir", str(self.folder)], self.env, self.folder)
        log = self.folder / "rasa.log"
        port = self.endpoints.public_url.rsplit(":", 1)[1]
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [RASA, "run", "--interface", "127.0.0.1", "--port", port, "--enable-api"],
                cwd=self.folder,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait([f"{self.endpoints.public_url}/status"], self.process, log, seconds)
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    def pids(self) -> Dict[str, int]:
        """The pid of the one Rasa process."""
        return {"rasa": self.process.pid} if self.process is not None else {}

    def stop(self) -> None:
        """Stop Rasa and remove the temporary folder."""
        _stop(self.process)
        self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)
