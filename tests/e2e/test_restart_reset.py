"""End to end: a server without a reset endpoint (its orders live in a file, as json-server's
do), reset by restarting it after copying a seed file into ``${tmp}``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import orders_spec, processes_with, run_cli

pytestmark = pytest.mark.e2e

SEED = '{"orders": [], "next_id": 1}'


def _spec(tmp_path: Path, reset: str) -> Path:
    (tmp_path / "seed.json").write_text(SEED)
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(
        '  model: {app: "tests.apps.variants:model"}\n'
        '  candidate:\n'
        '    command: ["${python}", -m, tests.apps.file_orders, "${port}", '
        '"${tmp}/orders.json"]\n'
        '    ready: {path: /orders}\n'
        f'    reset:\n{reset}', run="run: {sequences: 8, steps: 8, seed: 2}"))
    return spec


def test_a_restart_after_copying_the_seed_isolates_the_sequences(tmp_path: Path) -> None:
    spec = _spec(tmp_path, f"      - restart: [candidate]\n"
                           f"        commands: [[cp, {tmp_path}/seed.json, "
                           '"${tmp}/orders.json"]]\n')
    done = run_cli("check", str(spec), "--no-database", "--no-color")
    assert done.code == 0, done.text
    assert "✓ no difference in " in done.text
    share = re.search(r"reset: ([0-9.]+)s of ([0-9.]+)s \((\d+)%\), ([0-9.]+) ms/sequence",
                      done.text)
    assert share, done.text
    assert 0 < float(share.group(1)) <= float(share.group(2))
    assert not processes_with(str(tmp_path))


def test_a_restart_without_the_copy_keeps_the_file_and_the_difference_shows(
        tmp_path: Path) -> None:
    # The same server, restarted but with its file left as it was: the orders of one
    # sequence are still there in the next, which the model (reset by request) has forgotten.
    spec = _spec(tmp_path, "      - restart: all\n")
    done = run_cli("check", str(spec), "--no-database", "--no-color")
    assert done.code == 1, done.text
    assert "difference found" in done.text or "DIFFERENCE" in done.text


def test_a_failing_restart_command_stops_the_run_with_its_output(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "      - restart: [candidate]\n"
                           '        commands: [["${python}", -c, "print(\'no seed here\'); '
                           'raise SystemExit(4)"]]\n')
    done = run_cli("check", str(spec), "--no-database", "--no-color")
    assert done.code == 3, done.text
    assert "error: target 'candidate': restart command" in done.text
    assert "failed: exited with code 4" in done.text
    assert "no seed here" in done.text
