"""Command line of the web widget server.

Usage::

    python -m bot.web serve [--host HOST] [--port PORT]

Settings come from ``WEB_*`` variables (:mod:`bot.web.settings`); the chat page
is then at ``http://HOST:PORT/``.
"""

import argparse
import logging
import sys
from typing import Optional, Sequence

from aiohttp import web

from bot.privacy import install_log_masking
from bot.web.app import WidgetMissing, create_app
from bot.web.settings import WebSettings


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns:
        The process exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m bot.web")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the chat page and relay it to Rasa")
    serve.add_argument("--host", help="interface to listen on (default: WEB_HOST, 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (default: WEB_PORT, 8080)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    install_log_masking()  # customers' emails, phone and card numbers (bot.privacy)
    try:
        settings = WebSettings.from_env()
        app = create_app(settings)
    except (ValueError, WidgetMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    web.run_app(app, host=args.host or settings.host, port=args.port or settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
