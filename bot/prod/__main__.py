"""Command line of production mode.

Usage::

    python -m bot.prod check    # stores reachable, databases created, model and nginx there
    python -m bot.prod config   # render nginx.conf into PROD_RUN_DIR and test it with nginx -t
    python -m bot.prod run      # start everything behind nginx and keep it running

``make run-prod`` (bot/scripts/run_prod.sh) runs ``check``, seeds the project
database and then ``run``. Settings: bot/prod/settings.py, docs/deployment.md.
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
from types import FrameType
from typing import List, Optional, Sequence

from actions.settings import Settings
from bot.handoff.settings import HandoffSettings
from bot.prod.nginx import write_nginx_config
from bot.prod.preflight import preflight
from bot.prod.settings import ProductionSettings
from bot.prod.supervisor import StartError, Supervisor
from bot.prod.topology import build_services, child_environment

logger = logging.getLogger("bot.prod")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns:
        The process exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m bot.prod")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="check the stores, create the databases")
    commands.add_parser("config", help="render and test the nginx configuration")
    commands.add_parser("run", help="start and supervise the production topology")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings = ProductionSettings.from_env()
        database_url = Settings.from_env().database_url
        handoff = HandoffSettings.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        return _check(settings, database_url)
    if args.command == "config":
        return _config(settings)
    return _run(settings, handoff.port)


def _check(settings: ProductionSettings, database_url: str) -> int:
    problems = preflight(settings, database_url)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print("Production mode can start: stores reachable, databases present.")
    return 1 if problems else 0


def _config(settings: ProductionSettings) -> int:
    path = write_nginx_config(settings)
    result = subprocess.run(
        ["nginx", "-t", "-p", str(settings.run_dir), "-c", str(path), "-e", "/dev/stderr"],
        capture_output=True,
        text=True,
    )
    print(result.stderr.strip() or result.stdout.strip())
    print(f"nginx configuration: {path}")
    return result.returncode


class _StopRequests:
    """Signal handler: the first SIGTERM/SIGINT asks the supervisor to stop.

    During start, or on a second signal, it interrupts whatever runs.
    """

    def __init__(self) -> None:
        self.signals: List[int] = []
        self.started = False

    def __call__(self, signum: int, _frame: Optional[FrameType]) -> None:
        self.signals.append(signum)
        if len(self.signals) > 1 or not self.started:
            raise KeyboardInterrupt

    def requested(self) -> bool:
        return bool(self.signals)


def _run(settings: ProductionSettings, handoff_port: int) -> int:
    nginx_config = write_nginx_config(settings)
    env = child_environment(settings, os.environ)
    supervisor = Supervisor(
        build_services(settings, handoff_port, env, nginx_config),
        settings.run_dir,
        settings.log_dir,
        restart_max_s=settings.restart_max_s,
    )
    stop = _StopRequests()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # For `make stop-prod`.
    pid_file = settings.run_dir / "supervisor.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    logger.info("starting %s; logs in %s", ", ".join(supervisor.names), settings.log_dir)
    try:
        try:
            supervisor.start(settings.start_timeout_s)
        except StartError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
        stop.started = True
        print(_banner(settings, handoff_port), flush=True)
        try:
            supervisor.supervise(stop.requested)
        except KeyboardInterrupt:
            pass
        logger.info("stopping")
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        supervisor.stop()
        return 0
    finally:
        pid_file.unlink(missing_ok=True)


def _banner(settings: ProductionSettings, handoff_port: int) -> str:
    return f"""
Production mode is running: {len(settings.rasa_ports)} Rasa instances, \
{len(settings.actions_ports)} action servers, the handoff service and nginx.
  REST:       curl -s -XPOST {settings.public_url}/webhooks/rest/webhook \\
                -H 'Content-Type: application/json' \\
                -d '{{"sender": "me", "message": "where is my order ORD-104233?"}}'
  socket.io:  {settings.public_url} (path /socket.io)
  HTTP API:   {settings.public_url}/status?token=$RASA_AUTH_TOKEN
  Agent console: http://127.0.0.1:{handoff_port}/
Logs: {settings.log_dir}. Press Ctrl-C to stop.
"""


if __name__ == "__main__":
    sys.exit(main())
