"""py-spy profiles of the load test, grouped by stage."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.loadtest import profile

SCHEMA = [
    "handle_request (sanic/app.py:1)",
    "MessageProcessor._run_action (/x/rasa/core/processor.py:982)",
    "RemoteAction.run (/x/rasa/core/actions/action.py:790)",
    "validate (/x/jsonschema/validators.py:1117)",
]
INTENT = [
    "handle_request (sanic/app.py:1)",
    "DaskGraphRunner.run (/x/rasa/engine/runner/dask.py:101)",
    "BertIntentClassifier.process (/w/nlu_models/bert_intent_classifier.py:180)",
    "Linear.forward (/x/torch/nn/modules/linear.py:125)",
]
TRACKER = [
    "MessageProcessor.save_tracker (/x/rasa/core/processor.py:1095)",
    "SQLTrackerStore.save (/x/rasa/core/tracker_store.py:1360)",
    "Session.commit (/x/sqlalchemy/orm/session.py:1454)",
]
ORDERS = [
    "_worker (/usr/lib/python3.11/concurrent/futures/thread.py:83)",
    "OrderRepository.find (/w/actions/orders.py:80)",
    "Session.execute (/x/sqlalchemy/orm/session.py:1716)",
]
WAITING = [
    "Thread.run (/usr/lib/python3.11/threading.py:982)",
    "_worker (/usr/lib/python3.11/concurrent/futures/thread.py:81)",
]


def _raw(*stacks: tuple) -> str:
    return "\n".join(f"{';'.join(frames)} {count}" for frames, count in stacks) + "\n"


def test_each_sample_counts_once_for_its_most_specific_stage() -> None:
    assert profile.stage_of(SCHEMA) == "action calls: response schema check"
    assert profile.stage_of(INTENT) == "nlu: intent classifier (MiniLM)"
    assert profile.stage_of(TRACKER) == "tracker store"
    assert profile.stage_of(ORDERS) == "actions: database"
    assert profile.stage_of(["main (/x/app.py:1)"]) == profile.OTHER


def test_summary_gives_shares_of_on_cpu_samples() -> None:
    raw = _raw((SCHEMA, 30), (INTENT, 10), (TRACKER, 10), (WAITING, 500))
    raw += "garbage line without a count\n\n"
    assert profile.summarize(raw) == {
        "samples": 50,
        "waiting_samples": 500,
        "percent": {
            "action calls: response schema check": 60.0,
            "nlu: intent classifier (MiniLM)": 20.0,
            "tracker store": 20.0,
        },
    }


def _fake_py_spy(folder: Path, exit_code: int) -> Path:
    script = folder / f"py-spy-{exit_code}"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = record ] || exit 9\n'
        'while [ "$#" -gt 1 ]; do [ "$1" = -o ] && out="$2"; shift; done\n'
        f'printf "{";".join(INTENT)} 3\\n" > "$out"\n'
        f'[ {exit_code} -eq 0 ] || echo "Permission denied" >&2\n'
        f"exit {exit_code}\n"
    )
    script.chmod(0o755)
    return script


def test_recordings_are_started_per_process_and_summarized(tmp_path: Path) -> None:
    good = profile.start(_fake_py_spy(tmp_path, 0), {"rasa-1": os.getpid()}, 5, tmp_path / "p")
    bad = profile.start(_fake_py_spy(tmp_path, 1), {"rasa-2": os.getpid()}, 5, tmp_path / "q")
    results = profile.finish(good + bad)
    assert results["rasa-1"] == {
        "samples": 3,
        "waiting_samples": 0,
        "percent": {"nlu: intent classifier (MiniLM)": 100.0},
    }
    assert results["rasa-2"] == {"error": "Permission denied"}


def test_only_python_processes_are_profiled() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        found = profile.python_processes(
            {"me": os.getpid(), "nginx": sleeper.pid, "gone": 2**22 + 7}
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    assert found == {"me": os.getpid()}
    assert "python" in Path(sys.executable).name


@pytest.mark.skipif(
    not Path(".venv-load/bin/py-spy").exists(), reason="make bench-load installs py-spy"
)
def test_real_py_spy_profiles_a_busy_python_process(tmp_path: Path) -> None:
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend=time.time()+8\nwhile time.time()<end: sum(range(999))",
        ]
    )
    try:
        recordings = profile.start(Path(".venv-load/bin/py-spy"), {"busy": busy.pid}, 2, tmp_path)
        result = profile.finish(recordings)["busy"]
    finally:
        busy.kill()
        busy.wait()
    assert "error" not in result, result
    assert result["samples"] > 50 and result["percent"] == {profile.OTHER: 100.0}


def test_profile_without_py_spy_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from bot.loadtest.__main__ import main

    locust = tmp_path / "bin" / "locust"
    locust.parent.mkdir()
    locust.write_text("#!/bin/sh\n")
    assert main(["--profile", "--locust", str(locust), "--out", str(tmp_path / "r.json")]) == 2
    assert "no py-spy next to" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
