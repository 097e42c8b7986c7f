"""Where a process spends its CPU under load: py-spy samples, grouped by stage.

During the saturated run, ``python -m bot.loadtest --profile`` samples every
Rasa instance and action server with py-spy (installed in ``.venv-load`` by
``make bench-load``; it reads the processes' stacks from outside, without
pausing them) and writes, per process, the share of on-CPU samples spent in
each stage of :data:`STAGES`. A sample counts for the first stage in that list
with a pattern that matches any of its frames: the order puts specific work
(the response schema check, a model) before what calls it (the action call,
the processor), so that each sample counts once.
"""

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

# (stage, pattern over a frame "function (file:line)"), most specific first.
STAGES: Tuple[Tuple[str, str], ...] = (
    ("action calls: response schema check", r"jsonschema"),
    ("nlu: intent classifier (MiniLM)", r"bert_intent_classifier"),
    ("nlu: other components", r"rasa/nlu/"),
    ("policies: TED", r"ted_policy"),
    ("policies: rules, memoization, handoff", r"rule_policy|memoization|handoff_policy"),
    ("policies: featurizing, ensemble", r"rasa/core/(featurizers|policies)/"),
    ("tracker store", r"tracker_store"),
    ("lock store", r"lock_store|redis/"),
    ("event broker", r"rasa/core/brokers|aio_pika|aiormq|pamqp"),
    ("actions: sentiment model", r"nlu_models/(sentiment|text_classifier)|vaderSentiment"),
    ("actions: recommender", r"actions/recommender/|sentence_transformers"),
    ("actions: database", r"actions/(db|orders|catalogue|handoff)"),
    ("rasa: running actions (HTTP to the action server, responses)", r"rasa/core/actions/"),
    ("tracker (de)serialising", r"rasa/shared/core/(trackers|events|domain)\.py"),
    ("channel, HTTP server", r"sanic/|bot/channels/|bot/prod/|rasa_sdk/"),
)
OTHER = "other"
# Innermost frames of a thread that waits (py-spy does not always tell).
_WAITING = re.compile(r"^(_worker|Condition\.wait|Event\.wait|wait|select|poll) \(")


@dataclass(frozen=True)
class Recording:
    """A py-spy recording in progress."""

    name: str
    process: subprocess.Popen
    output: Path


_COMPILED = tuple((stage, re.compile(pattern)) for stage, pattern in STAGES)


def stage_of(stack: Sequence[str]) -> str:
    """The stage a sampled stack (its frames) belongs to."""
    text = "\n".join(stack)
    for stage, pattern in _COMPILED:
        if pattern.search(text):
            return stage
    return OTHER


def summarize(raw: str) -> Dict[str, object]:
    """Shares of samples per stage from py-spy's ``raw`` (collapsed stacks) output.

    Returns:
        ``samples`` (on-CPU samples), ``waiting_samples`` (threads that were
        waiting, left out) and ``percent`` (stage to share, largest first).
    """
    counts: Counter = Counter()
    waiting = 0
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if _WAITING.match(frames[-1]):
            waiting += int(count)
        else:
            counts[stage_of(frames)] += int(count)
    total = sum(counts.values())
    percent = {stage: round(100 * n / total, 1) for stage, n in counts.most_common()}
    return {"samples": total, "waiting_samples": waiting, "percent": percent}


def python_processes(pids: Mapping[str, int]) -> Dict[str, int]:
    """The processes that run Python (py-spy reads nothing else), by name."""
    found = {}
    for name, pid in pids.items():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if "python" in Path(command.decode(errors="replace")).name:
            found[name] = pid
    return found


def start(
    py_spy: Path, pids: Mapping[str, int], seconds: int, out_dir: Path, rate: int = 100
) -> List[Recording]:
    """Start sampling each process for ``seconds`` (the profiles are written when done)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    recordings = []
    for name, pid in pids.items():
        output = out_dir / f"profile-{name}.txt"
        args = [str(py_spy), "record", "--pid", str(pid), "--duration", str(seconds)]
        args += ["--rate", str(rate), "--format", "raw", "--nonblocking", "-o", str(output)]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        recordings.append(Recording(name, process, output))
    return recordings


def finish(recordings: Sequence[Recording], timeout_s: float = 120) -> Dict[str, object]:
    """Wait for the recordings and summarize each; a failed one reports its error."""
    results: Dict[str, object] = {}
    for recording in recordings:
        error: Optional[str] = None
        try:
            _, stderr = recording.process.communicate(timeout=timeout_s)
            if recording.process.returncode != 0:
                error = stderr.decode(errors="replace").strip()[-500:]
        except subprocess.TimeoutExpired:
            recording.process.kill()
            error = "py-spy did not finish"
        if error is None and recording.output.is_file():
            results[recording.name] = summarize(recording.output.read_text())
        else:
            results[recording.name] = {"error": error or "no profile written"}
    return results
