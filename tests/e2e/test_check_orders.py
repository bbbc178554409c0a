"""``mbtspec check`` end to end over the orders API: no false positives, seeded differences
found and shrunk to their known minimal length, targets started, reached and stopped."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mbtspec import check
from tests.e2e.conftest import REPO, orders_spec, processes_with, run_cli

IN_PROCESS = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.variants:%s}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def test_model_against_itself_with_minted_ids_and_unordered_lists(tmp_path: Path) -> None:
    # The candidate mints ids from 1001 and lists newest first: both are allowed differences.
    spec = write(tmp_path, orders_spec(IN_PROCESS % "minted"))
    outcome = check(spec, sequences=500, steps=20, seed=1, database=None)
    result = outcome.result
    assert result.failure is None, result.failure
    assert result.stats.sequences >= 500
    creates = result.stats.actions["create"].statuses
    assert creates["model"]["201"] > 100 and creates["candidate"]["201"] > 100
    # the per-target ids were really used: gets found their orders on both sides
    assert result.stats.actions["get"].statuses["candidate"]["200"] > 50


@pytest.mark.parametrize(("bug", "minimal", "last_action"), [
    ("qty_off_by_one", 1, {"create"}),
    ("delete_noop", 3, {"get", "close", "delete", "list"}),  # any use of the order it kept
    ("close_twice", 3, {"close"}),
    ("list_limit", 4, {"list"}),
])
def test_seeded_difference_is_found_and_shrunk(tmp_path: Path, bug: str, minimal: int,
                                               last_action: set[str]) -> None:
    spec = write(tmp_path, orders_spec(IN_PROCESS % bug))
    result = check(spec, sequences=300, steps=20, seed=3, database=None).result
    failure = result.failure
    assert failure is not None, f"{bug} was not found"
    assert not failure.flaky
    assert failure.kind == "difference"
    assert len(failure.steps) == minimal, [s.action for s in failure.steps]
    assert failure.steps[-1].action in last_action


def test_stored_ids_are_sent_per_target(tmp_path: Path) -> None:
    spec = write(tmp_path, orders_spec(IN_PROCESS % "delete_noop"))
    failure = check(spec, sequences=300, seed=3, database=None).result.failure
    assert failure is not None
    # each target received its own id for the same logical order: the delete, and a later
    # call with that id if the failure is one (the list shows it too)
    delete = next(s for s in failure.steps if s.action == "delete")
    assert delete.request("model").path == "/orders/1"
    assert delete.request("candidate").path == "/orders/1001"
    last = failure.steps[-1]
    if last.action != "list":
        assert last.request("model").path.replace("/orders/1", "/orders/1001", 1) == \
            last.request("candidate").path
        assert last.response("model").status == 404
        assert last.response("candidate").status in (200, 204)


def test_cli_reports_difference_with_reproduce_command(tmp_path: Path) -> None:
    spec = write(tmp_path, orders_spec(IN_PROCESS % "close_twice"))
    done = run_cli("check", str(spec), "--seed", "5", "--no-database", "--no-color")
    assert done.code == 1, done.text
    assert "DIFFERENCE after 3 calls (seed 5)" in done.out
    assert re.search(r"status: 409 ≠ 200", done.out)
    assert f"Reproduce: mbtspec check {spec} --seed 5" in done.out


def test_candidate_as_real_server_started_by_command(tmp_path: Path) -> None:
    targets = """\
  model: {app: tests.apps.variants:model}
  candidate:
    command: ["${python}", -m, uvicorn, "tests.apps.orders:env_app", --port, "${port}"]
    env: {ORDERS_FIRST_ID: "2001", ORDERS_BUGS: "delete_noop"}
    ready: {path: /orders}
"""
    spec = write(tmp_path, orders_spec(targets))
    result = check(spec, sequences=200, seed=11, database=None).result
    assert result.failure is not None
    assert [s.action for s in result.failure.steps][:2] == ["create", "delete"]
    assert len(result.failure.steps) == 3
    # the delete picked the order the candidate minted as 2001 (the model as 1)
    assert result.failure.steps[1].request("candidate").path == "/orders/2001"
    assert result.failure.steps[1].request("model").path == "/orders/1"


def test_running_server_as_base_url(tmp_path: Path, uvicorn_orders: str) -> None:
    targets = f"""\
  model: {{app: tests.apps.variants:model}}
  candidate: {{base_url: "{uvicorn_orders}"}}
"""
    spec = write(tmp_path, orders_spec(targets))
    result = check(spec, sequences=60, seed=2, database=None).result
    assert result.failure is None, result.failure
    assert result.stats.actions["create"].statuses["candidate"]["201"] > 10


def test_single_target_mode_checks_invariants_only(tmp_path: Path) -> None:
    targets = "  candidate: {app: tests.apps.variants:close_twice}\n"
    extra = """\
  - name: closing twice is refused
    check: "action != 'close' || candidate.status != 200 || size(orders) == 0 || true"
"""
    text = orders_spec(targets).replace("invariants:\n", "invariants:\n" + extra)
    text = text.replace(
        "  close:\n    request: POST /orders/{id}/close\n    path: {id: {pick: orders}}\n",
        "  close:\n    request: POST /orders/{id}/close\n    path: {id: {pick: orders}}\n"
        "    expect: [\"response.status != 200 || response.body.status == 'closed'\"]\n",
    )
    result = check(write(tmp_path, text), sequences=50, seed=1, database=None).result
    assert result.failure is None
    assert "model" not in result.stats.actions["create"].statuses


def test_single_target_invariant_broken(tmp_path: Path) -> None:
    targets = "  candidate: {app: tests.apps.variants:qty_off_by_one}\n"
    text = orders_spec(targets).replace(
        "    store: {orders: response.body.id}\n",
        "    store: {orders: response.body.id}\n"
        "    expect: [\"response.status != 201 || response.body.qty == request.body.qty\"]\n",
    )
    failure = check(write(tmp_path, text), sequences=200, seed=1, database=None).result.failure
    assert failure is not None
    assert failure.kind == "expect"
    assert len(failure.steps) == 1
    assert failure.steps[0].request("candidate").body["qty"] == 100


def test_no_reset_warns_and_confirms(tmp_path: Path) -> None:
    spec = write(tmp_path, orders_spec(IN_PROCESS % "qty_off_by_one", reset=False))
    done = run_cli("check", str(spec), "--seed", "4", "--no-database", "--no-color",
                   "--sequences", "200")
    assert done.code == 1, done.text
    assert "warning: no 'reset' in the spec" in done.err
    # without a reset, what earlier sequences left behind counts: a list may fail at once or
    # after a create, depending on the history the seed draws
    assert re.search(r"DIFFERENCE after (1 call|2 calls) ", done.out), done.out


def test_secret_headers_are_redacted(tmp_path: Path) -> None:
    targets = """\
  model:
    app: tests.apps.variants:model
    headers: {Authorization: "Bearer ${env.ORDERS_TOKEN}"}
  candidate:
    app: tests.apps.variants:close_twice
    headers: {Authorization: "Bearer ${env.ORDERS_TOKEN}"}
"""
    spec = write(tmp_path, orders_spec(targets))
    token = "s3cr3t-" + uuid.uuid4().hex
    done = run_cli("check", str(spec), "--seed", "5", "--no-database", "--no-color",
                   env={"ORDERS_TOKEN": token})
    assert done.code == 1, done.text
    assert token not in done.text


def test_target_crashing_mid_run_exits_3_with_log_tail_and_no_orphans(tmp_path: Path) -> None:
    marker = f"mbtspec-test-{uuid.uuid4().hex}"
    targets = f"""\
  model: {{app: tests.apps.variants:model}}
  candidate:
    command: ["${{python}}", -m, uvicorn, "tests.apps.orders:env_app", --port, "${{port}}"]
    env: {{ORDERS_BUGS: crash_on_close, MARKER: "{marker}"}}
    ready: {{path: /orders}}
"""
    spec = write(tmp_path, orders_spec(targets))
    done = run_cli("check", str(spec), "--seed", "1", "--no-database", "--no-color")
    assert done.code == 3, done.text
    assert "target 'candidate': the process exited with code 3 during the run" in done.err
    assert "last lines of its output" in done.err
    # the server's own lines: its start, or (when it crashed later on) its access log
    assert re.search(r"\| .*(Uvicorn running|Started server process|HTTP/1\.1)", done.err)
    assert "Traceback" not in done.text
    assert processes_with(marker) == []


def test_command_that_never_gets_ready_exits_3(tmp_path: Path) -> None:
    targets = """\
  model: {app: tests.apps.variants:model}
  candidate:
    command: ["${python}", -c, "import sys; print('cannot bind ${port}: boom'); sys.exit(4)"]
"""
    done = run_cli("check", str(write(tmp_path, orders_spec(targets))), "--no-color")
    assert done.code == 3, done.text
    assert "exited with code 4 before it was ready" in done.err
    assert "boom" in done.err


def test_unreachable_base_url_exits_3(tmp_path: Path) -> None:
    from tests.e2e.conftest import free_port

    targets = f"""\
  model: {{app: tests.apps.variants:model}}
  candidate: {{base_url: "http://127.0.0.1:{free_port()}"}}
"""
    done = run_cli("check", str(write(tmp_path, orders_spec(targets))), "--no-color")
    assert done.code == 3, done.text
    assert "cannot reach http://127.0.0.1:" in done.err


def test_app_that_cannot_be_imported_exits_3(tmp_path: Path) -> None:
    targets = "  candidate: {app: tests.apps.nonexistent:app}\n"
    done = run_cli("check", str(write(tmp_path, orders_spec(targets))), "--no-color")
    assert done.code == 3, done.text
    assert "cannot import app module 'tests.apps.nonexistent'" in done.err


def test_invalid_spec_exits_2_with_locations(tmp_path: Path) -> None:
    text = orders_spec(IN_PROCESS % "model").replace('"${item}"', '"${itme}"').replace(
        "request: GET /orders/{id}", "request: GET /order/{id}")
    done = run_cli("check", str(write(tmp_path, text)), "--no-color")
    assert done.code == 2, done.text
    lines = done.err.splitlines()
    assert any(re.match(rf"{re.escape(str(tmp_path))}/spec.yaml:\d+:\d+: "
                        r"error\[unknown-generator\] actions\.create\.body\.item: no generator "
                        r"'itme' \(did you mean 'item'\?\)", line) for line in lines), done.err
    assert any("error[unknown-operation]" in line and "did you mean 'GET /orders/{id}'" in line
               for line in lines), done.err
    assert "nothing was run" in done.err


def test_missing_spec_file_exits_2(tmp_path: Path) -> None:
    done = run_cli("check", str(tmp_path / "nope.yaml"), "--no-color")
    assert done.code == 2
    assert "no such file" in done.err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_every_target(tmp_path: Path, sig: signal.Signals) -> None:
    marker = f"mbtspec-test-{uuid.uuid4().hex}"
    targets = f"""\
  model: {{app: tests.apps.variants:model}}
  candidate:
    command: ["${{python}}", -m, uvicorn, "tests.apps.orders:env_app", --port, "${{port}}"]
    env: {{MARKER: "{marker}"}}
    ready: {{path: /orders}}
"""
    spec = write(tmp_path, orders_spec(targets, run="run: {sequences: 100000}"))
    process = subprocess.Popen([sys.executable, "-m", "mbtspec.cli", "check", str(spec),
                                "--no-database", "--no-color"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(processes_with(marker)) < 1:
        time.sleep(0.1)
    assert processes_with(marker), "the candidate never started"
    time.sleep(1.0)  # let the run get going
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, out + err
    assert "interrupted; every target was stopped" in err
    assert "Traceback" not in out + err
    assert processes_with(marker) == []
