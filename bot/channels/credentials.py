"""Write the ``credentials.yml`` Rasa runs with: the default channels plus each configured platform.

Command line::

    python -m bot.channels.credentials --out .data/credentials.yml
    rasa run --credentials .data/credentials.yml ...

It copies the default channels from ``credentials.yml`` (the REST channel with
the handoff inbox and socket.io) and adds every messaging platform whose
environment variables are all set (see :mod:`bot.channels.settings`). The file
holds ``${VARIABLE}`` references, not the secrets: Rasa expands them from the
environment when it starts. Before writing, each platform's channel is built
from the real values, so a malformed value fails here, with the variable's
platform named, rather than when Rasa starts.

Exit status: 0 when the file was written (a platform with only some of its
variables set is reported on stderr and left out), 1 when a configured
platform's values or a ``CHANNEL_*`` limit are invalid (nothing is written),
2 for bad arguments.
"""

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, TextIO

import yaml

from bot.channels.settings import ChannelLimitSettings, PlatformStatus, platform_statuses

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BASE = PROJECT_ROOT / "credentials.yml"
DEFAULT_OUT = PROJECT_ROOT / ".data" / "credentials.yml"
HEADER = """\
# Written by `python -m bot.channels.credentials` from credentials.yml and the
# environment; do not edit (edit credentials.yml or the variables instead).
# The ${...} references are expanded by Rasa from the environment at start.
"""


def check_platform(status: PlatformStatus, environ: Mapping[str, str]) -> Optional[str]:
    """Build the platform's channel from the environment's values.

    Returns:
        None when the channel accepts them, else why not.
    """
    module_name, class_name = status.platform.channel.rsplit(".", 1)
    channel_class = getattr(importlib.import_module(module_name), class_name)
    try:
        channel_class.from_credentials(status.values(environ))
    except Exception as exc:  # the channels raise Rasa's config errors; anything is a "no"
        return str(exc)
    return None


def build_credentials(
    base: Mapping[str, Any], statuses: Sequence[PlatformStatus]
) -> Dict[str, Any]:
    """The default channels of ``base`` plus the enabled platforms' sections."""
    credentials: Dict[str, Any] = dict(base)
    for status in statuses:
        if status.enabled:
            credentials[status.platform.channel] = status.credentials()
    return credentials


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (Rasa never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        handle.write(text)
    os.replace(handle.name, path)


def _report(statuses: Sequence[PlatformStatus], out: TextIO) -> None:
    for status in statuses:
        platform = status.platform
        if status.enabled:
            print(f"{platform.name}: on", file=out)
        elif status.mentioned:
            print(
                f"{platform.name}: left out, {', '.join(status.missing)} not set "
                f"(see {platform.doc})",
                file=out,
            )
        else:
            print(f"{platform.name}: off", file=out)


def main(
    argv: Optional[Sequence[str]] = None,
    environ: Optional[Mapping[str, str]] = None,
    out: TextIO = sys.stderr,
) -> int:
    """Run the command line; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.channels.credentials",
        description="Write credentials.yml for Rasa: the default channels plus every "
        "messaging platform whose environment variables are set.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write")
    parser.add_argument(
        "--base", type=Path, default=DEFAULT_BASE, help="the default channels (credentials.yml)"
    )
    args = parser.parse_args(argv)
    environ = os.environ if environ is None else environ

    try:
        base = yaml.safe_load(args.base.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        print(f"Cannot read {args.base}: {exc}", file=out)
        return 1
    if not isinstance(base, dict):
        print(f"{args.base} must map channel names to their settings.", file=out)
        return 1

    statuses = platform_statuses(environ)
    _report(statuses, out)
    errors: List[str] = []
    for status in statuses:
        if status.enabled:
            problem = check_platform(status, environ)
            if problem is not None:
                errors.append(f"{status.platform.name}: {problem}")
    try:
        ChannelLimitSettings.from_env(environ)
    except ValueError as exc:
        errors.append(f"channel limits: {exc}")
    if errors:
        for error in errors:
            print(error, file=out)
        print(f"Nothing written to {args.out}.", file=out)
        return 1

    credentials = build_credentials(base, statuses)
    body = yaml.safe_dump(credentials, sort_keys=False, default_flow_style=False, width=1000)
    write_atomically(args.out, HEADER + body)
    print(f"Wrote {args.out}: {', '.join(credentials)}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
