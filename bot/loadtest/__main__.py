"""Load benchmark: this project's production mode against Rasa's ``rasa init`` assistant.

Usage::

    python -m bot.loadtest --out reports/load.json [--paced-s 60] [--saturated-s 60] [--users 20]

For each deployment (bot/loadtest/deployments.py), one after the other so that
they never compete for the CPU: start it, warm it up, time its stages one
request at a time (bot/loadtest/breakdown.py), then run Locust headless twice
with the same number of customers (bot/loadtest/locustfile.py): *paced*, 1 to
3 s of think time between a reply and the next message, and *saturated*, none.
Locust runs from ``.venv-load`` (``make bench-load`` creates it), because its
dependencies conflict with Rasa's pins. With ``--profile``, a third saturated
run follows, with py-spy sampling every Python process, for the report's
``saturated_profile``; its throughput is not reported, because sampling costs
CPU on the same cores. It is a benchmark: it reports, it asserts no timings.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import requests

from actions.settings import PROJECT_ROOT
from bot.loadtest import profile
from bot.loadtest.breakdown import measure_breakdown
from bot.loadtest.cpu import cpu_split, snapshot
from bot.loadtest.deployments import (
    Endpoints,
    ProjectDeployment,
    StockDeployment,
    newest_model,
)
from bot.loadtest.flows import FLOWS, render
from bot.loadtest.results import (
    error_kinds,
    read_samples,
    summarize_paced,
    summarize_saturated,
)

LOCUSTFILE = PROJECT_ROOT / "bot" / "loadtest" / "locustfile.py"
THINK_S = (1.0, 3.0)
PACED_P95_GOAL_MS = 300.0
PROFILED_RUN_S = 40
"""Length of the extra saturated run that ``--profile`` samples (at most --saturated-s)."""

Deployment = Union[ProjectDeployment, StockDeployment]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.loadtest", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("reports/load.json"))
    parser.add_argument("--paced-s", type=int, default=60, help="length of the paced run")
    parser.add_argument("--saturated-s", type=int, default=60, help="length of the saturated run")
    parser.add_argument("--users", type=int, default=20, help="concurrent conversations")
    parser.add_argument("--rounds", type=int, default=3, help="breakdown: times each flow is held")
    parser.add_argument("--model", type=Path, default=None, help="default: newest in models/")
    parser.add_argument(
        "--locust", type=Path, default=PROJECT_ROOT / ".venv-load" / "bin" / "locust"
    )
    parser.add_argument("--work-dir", type=Path, default=PROJECT_ROOT / ".data" / "loadtest")
    parser.add_argument(
        "--project-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the project's processes (e.g. thread settings); repeatable",
    )
    parser.add_argument(
        "--only", choices=("project", "stock"), default=None, help="measure one deployment only"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the measured runs, one more saturated run with py-spy sampling every "
        "process (bot/loadtest/profile.py); its figures are not the report's",
    )
    return parser


def parse_env(assignments: Sequence[str]) -> Dict[str, str]:
    """Turn ``NAME=VALUE`` arguments into a mapping.

    Raises:
        ValueError: If one has no ``=`` or an empty name.
    """
    env = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--project-env wants NAME=VALUE, got {assignment!r}")
        env[name.strip()] = value
    return env


def machine() -> Dict[str, Any]:
    """What the benchmark ran on."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib: Optional[float] = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import rasa

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "rasa": rasa.__version__,
    }


def load_average() -> List[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def _warm_up(endpoints: Endpoints, name: str) -> None:
    """Hold every flow once, so that lazy models and pools are loaded before timing."""
    for flow in FLOWS[name]:
        sender = f"warmup-{flow.name}-{time.time_ns()}"
        for step in flow.steps:
            requests.post(
                f"{endpoints.public_url}/webhooks/rest/webhook",
                json={"sender": sender, "message": render(step, "ORD-104233")},
                timeout=300,
            ).raise_for_status()


def run_locust(
    locust: Path,
    endpoints: Endpoints,
    flows: str,
    users: int,
    seconds: int,
    think_s: Tuple[float, float],
    out_dir: Path,
    label: str,
) -> Path:
    """Run Locust headless; returns the samples file it wrote.

    Raises:
        RuntimeError: If Locust wrote no samples.
    """
    samples = out_dir / f"{label}.jsonl"
    samples.unlink(missing_ok=True)
    env = {
        **os.environ,
        "LOADTEST_FLOWS": flows,
        "LOADTEST_THINK_MIN_S": str(think_s[0]),
        "LOADTEST_THINK_MAX_S": str(think_s[1]),
        "LOADTEST_SAMPLES": str(samples),
    }
    args = [
        str(locust),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--host",
        endpoints.public_url,
        "--only-summary",
        "--csv",
        str(out_dir / label),
        "--exit-code-on-error",
        "0",
    ]
    print(f"  locust {label}: {users} users, {seconds} s", flush=True)
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=seconds + 300)
    (out_dir / f"{label}.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0 or not samples.exists():
        raise RuntimeError(f"locust failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return samples


def measure(
    deployment: Deployment, name: str, args: argparse.Namespace, out_dir: Path
) -> Dict[str, Any]:
    """Start one deployment, measure it and stop it."""
    print(f"{name}: starting", flush=True)
    began = time.monotonic()
    endpoints = deployment.start()
    try:
        print(f"{name}: up after {time.monotonic() - began:.0f} s; warming up", flush=True)
        _warm_up(endpoints, name)
        print(f"{name}: breakdown", flush=True)
        breakdown = measure_breakdown(endpoints, FLOWS[name], rounds=args.rounds)
        paced_file = run_locust(
            args.locust,
            endpoints,
            name,
            args.users,
            args.paced_s,
            THINK_S,
            out_dir,
            f"{name}-paced",
        )
        before = snapshot(deployment.pids())
        saturated_file = run_locust(
            args.locust,
            endpoints,
            name,
            args.users,
            args.saturated_s,
            (0.0, 0.0),
            out_dir,
            f"{name}-saturated",
        )
        after = snapshot(deployment.pids())
        profiles = _profiled_run(args, deployment, endpoints, out_dir, name)
    finally:
        deployment.stop()
    paced, saturated = read_samples(paced_file), read_samples(saturated_file)
    paced_summary, saturated_summary = summarize_paced(paced), summarize_saturated(saturated)
    return {
        "paced": paced_summary.to_json(),
        "saturated": saturated_summary.to_json(),
        "counts": {
            "paced_messages": paced_summary.messages,
            "saturated_messages": saturated_summary.messages,
            "saturated_seconds": saturated_summary.seconds,
            "paced_errors_by_kind": error_kinds(paced),
            "saturated_errors_by_kind": error_kinds(saturated),
        },
        "breakdown": breakdown,
        "saturated_cpu": cpu_split(
            before, after, saturated_summary.messages - saturated_summary.errors
        ),
        **({"saturated_profile": profiles} if profiles is not None else {}),
    }


def _profiled_run(
    args: argparse.Namespace, deployment: Deployment, endpoints: Any, out_dir: Path, name: str
) -> Optional[Dict[str, Any]]:
    """With ``--profile``, one more saturated run with py-spy on every Python process.

    It is a run of its own, after the measured one: py-spy's sampling costs CPU
    on the same cores, more for a deployment of more processes, so a profiled
    run would understate the throughput of the larger deployment.
    """
    if not args.profile:
        return None
    seconds = min(args.saturated_s, PROFILED_RUN_S)
    py_spy = args.locust.parent / "py-spy"
    pids = profile.python_processes(deployment.pids())
    # Leave out Locust's ramp-up and the end of the run.
    recordings = profile.start(py_spy, pids, max(seconds - 10, 5), out_dir / f"{name}-profile")
    run_locust(
        args.locust,
        endpoints,
        name,
        args.users,
        seconds,
        (0.0, 0.0),
        out_dir,
        f"{name}-saturated-profiled",
    )
    return profile.finish(recordings)


def goals(report: Dict[str, Any]) -> Dict[str, Any]:
    """Whether the issue's goals were met, from the measured figures."""
    result: Dict[str, Any] = {}
    project, stock = report.get("project"), report.get("stock")
    if project:
        paced = project["paced"]
        result["paced_p95_at_most_300_ms_without_errors"] = (
            paced["p95_ms"] <= PACED_P95_GOAL_MS and paced["errors"] == 0
        )
    if project and stock:
        result["saturated_throughput_at_least_stock"] = (
            project["saturated"]["throughput_per_s"] >= stock["saturated"]["throughput_per_s"]
        )
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark and write the report.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns:
        The process exit status.
    """
    args = _parser().parse_args(argv)
    if args.profile and not (args.locust.parent / "py-spy").exists():
        print(
            f"error: no py-spy next to {args.locust}; `make bench-load` installs it",
            file=sys.stderr,
        )
        return 2
    if not args.locust.exists():
        print(f"error: no Locust at {args.locust}; `make bench-load` installs it", file=sys.stderr)
        return 2
    model = args.model or newest_model(PROJECT_ROOT / "models")
    try:
        extra_env = parse_env(args.project_env)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = args.work_dir / "locust"
    out_dir.mkdir(parents=True, exist_ok=True)
    report: Dict[str, Any] = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_average(),
        "settings": {
            "users": args.users,
            "paced_s": args.paced_s,
            "saturated_s": args.saturated_s,
            "think_s": list(THINK_S),
            "breakdown_rounds": args.rounds,
            "project_env": extra_env,
        },
        "deployments": {
            "project": (
                "production mode (python -m bot.prod run): nginx, 2 Rasa instances, "
                "2 action servers, handoff service; PostgreSQL tracker store, Redis lock "
                f"store, RabbitMQ event broker; model {model.name}"
            ),
            "stock": "rasa init --no-prompt, one `rasa run` process, in-memory tracker store",
        },
    }
    names = [args.only] if args.only else ["stock", "project"]
    for name in names:
        deployment: Deployment = (
            StockDeployment()
            if name == "stock"
            else ProjectDeployment(model, args.work_dir, extra_env)
        )
        report[name] = measure(deployment, name, args, out_dir)
        print(f"{name}: {json.dumps({k: report[name][k] for k in ('paced', 'saturated')})}")
    report["load_average_after"] = load_average()
    report["goals"] = goals(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
