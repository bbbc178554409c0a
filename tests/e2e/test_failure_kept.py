"""A failure once found is never lost: when a target fails while the failure is being shrunk
(a reset that stops working, a server that dies) or the user stops the run, the shortest
failing sequence found so far is reported (exit 1), with a note that shrinking stopped."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from mbtspec import check
from mbtspec.executor import Step
from tests.e2e.conftest import orders_spec, processes_with, run_cli


def write(tmp_path: Path, targets: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(orders_spec(targets))
    return path


RESET_FAILS = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.fragile:reset_fails}
"""


def test_a_reset_that_fails_while_shrinking_keeps_the_failure(tmp_path: Path) -> None:
    result = check(write(tmp_path, RESET_FAILS), seed=3, database=None).result
    failure = result.failure
    assert failure is not None
    assert failure.kind == "difference" and failure.cut_short and not failure.flaky
    assert "shrinking stopped early" in failure.note and "answered 503" in failure.note
    assert failure.steps[-1].action == "close" and failure.steps[-1].findings


def test_the_cli_reports_it_with_exit_1_and_says_shrinking_stopped(tmp_path: Path) -> None:
    done = run_cli("check", str(write(tmp_path, RESET_FAILS)), "--seed", "3",
                   "--no-database", "--no-color")
    assert done.code == 1, done.text
    assert "note: shrinking stopped early (target 'candidate': reset step" in done.out
    assert "shrinking stopped early at" in done.out.splitlines()[-1]
    assert "Traceback" not in done.text


def test_a_server_that_dies_while_shrinking_keeps_the_failure(tmp_path: Path) -> None:
    marker = f"mbtspec-test-{uuid.uuid4().hex}"
    targets = f"""\
  model: {{app: tests.apps.variants:model}}
  candidate:
    command: ["${{python}}", -m, uvicorn, "tests.apps.fragile:env_app", --port, "${{port}}"]
    env: {{MARKER: "{marker}"}}
    ready: {{path: /orders}}
"""
    done = run_cli("check", str(write(tmp_path, targets)), "--seed", "3", "--no-database",
                   "--no-color")
    assert done.code == 1, done.text
    assert "DIFFERENCE after" in done.out
    assert "shrinking stopped early" in done.out
    assert "Traceback" not in done.text
    assert processes_with(marker) == []


CLOSE_TWICE = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.variants:close_twice}
"""


def test_ctrl_c_while_shrinking_reports_the_failure_so_far(tmp_path: Path) -> None:
    seen: list[Step] = []

    def on_step(step: Step) -> None:
        # Ctrl-C (as the session's checkpoint raises it) a few steps into shrinking
        seen.append(step)
        failed = [i for i, s in enumerate(seen) if s.findings]
        if failed and len(seen) - failed[0] > 3:
            raise KeyboardInterrupt

    outcome = check(write(tmp_path, CLOSE_TWICE), seed=3, database=None, on_step=on_step)
    failure = outcome.result.failure
    assert failure is not None and failure.cut_short
    assert "the run was interrupted" in failure.note
    assert failure.steps[-1].findings
    assert outcome.result.stopped == "interrupted"


@pytest.mark.parametrize("error", [KeyboardInterrupt, "target"])
def test_the_replay_pass_after_hypothesis_keeps_the_failure_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: object) -> None:
    from mbtspec.errors import TargetError
    from mbtspec.executor._runtime import Abort
    from mbtspec.executor._shrink import Shrinker

    def broken(*args: object, **kwargs: object) -> None:
        if error is KeyboardInterrupt:
            raise KeyboardInterrupt
        raise Abort(TargetError("candidate", "went away"))

    monkeypatch.setattr(Shrinker, "attempt", broken)
    failure = check(write(tmp_path, CLOSE_TWICE), seed=3, database=None).result.failure
    assert failure is not None and failure.cut_short and failure.steps[-1].findings
    assert ("interrupted" if error is KeyboardInterrupt else "went away") in failure.note


def test_a_real_ctrl_c_while_shrinking_reports_the_failure_with_exit_1(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.e2e.conftest import REPO

    spec = write(tmp_path, """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.fragile:slow_close_twice}
""")
    process = subprocess.Popen(
        [sys.executable, "-m", "mbtspec.cli", "check", str(spec), "--seed", "3", "--steps",
         "30", "--no-database", "--no-color", "-v"], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    assert process.stdout is not None
    for line in process.stdout:  # the first failing step: shrinking starts
        if "✗" in line:
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, out + err
    assert "shrinking stopped early (the run was interrupted)" in out
    assert "Traceback" not in out + err
