"""Command line of the handoff service.

Usage::

    python -m bot.handoff serve [--host HOST] [--port PORT]
    python -m bot.handoff create-agent USERNAME --display-name NAME

``create-agent`` reads the password from ``HANDOFF_AGENT_PASSWORD`` or, when
that is not set, asks for it twice on the terminal.
"""

import argparse
import getpass
import logging
import os
import sys
from typing import Optional, Sequence

from aiohttp import web

from actions.db import DatabaseUnavailable, get_database
from bot.handoff.app import create_app
from bot.handoff.auth import AgentAccounts
from bot.handoff.rasa_gateway import HttpRasaGateway
from bot.handoff.settings import HandoffSettings
from bot.privacy import install_log_masking

PASSWORD_VARIABLE = "HANDOFF_AGENT_PASSWORD"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns:
        The process exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m bot.handoff")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the handoff service")
    serve.add_argument("--host", help="interface to listen on (default: HANDOFF_HOST)")
    serve.add_argument("--port", type=int, help="port (default: HANDOFF_PORT, 5077)")
    create = commands.add_parser("create-agent", help="create an agent account")
    create.add_argument("username")
    create.add_argument("--display-name", required=True, help="name shown to colleagues")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    install_log_masking()  # customers' emails, phone and card numbers (bot.privacy)
    try:
        settings = HandoffSettings.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    database = get_database()
    try:
        if args.command == "serve":
            return _serve(settings, args.host, args.port)
        return _create_agent(settings, args.username, args.display_name)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        database.dispose()


def _serve(settings: HandoffSettings, host: Optional[str], port: Optional[int]) -> int:
    gateway = HttpRasaGateway(
        settings.rasa_url, token=settings.rasa_token, timeout_s=settings.rasa_timeout_s
    )
    # Fail early and clearly if the database is not there; the loops would retry.
    get_database().ensure_ready()
    app = create_app(get_database(), settings, gateway)
    web.run_app(app, host=host or settings.host, port=port or settings.port)
    return 0


def _create_agent(settings: HandoffSettings, username: str, display_name: str) -> int:
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    accounts = AgentAccounts(get_database(), token_ttl_s=settings.token_ttl_s)
    try:
        agent = accounts.create_agent(username, display_name, password)
    except ValueError as exc:  # also AgentExists
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Created agent {agent.username!r} ({agent.display_name}), id {agent.id}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
