"""End to end: services of a command target, without a database (the seed's example with
PostgreSQL and MariaDB is tests/e2e/test_employees_sql.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, orders_spec, processes_with, run_cli

pytestmark = pytest.mark.e2e

LISTEN = ("import socket, sys, time; s = socket.socket(); "
          "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(float(sys.argv[2]))")


def _spec(tmp_path: Path, lives: float) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(
        '  model: {app: "tests.apps.variants:model"}\n'
        '  candidate:\n'
        '    command: ["${python}", -m, uvicorn, "tests.apps.orders:env_app", '
        '--port, "${port}", --log-level, warning]\n'
        '    env: {ORDERS_DB_PORT: "${services.db.port}", ORDERS_DB_DIR: "${services.db.dir}"}\n'
        '    ready: {path: /orders}\n'
        '    services:\n'
        '      db:\n'
        '        setup: [[sh, -c, \'echo "$0" > "$1/port"\', "${port}", "${dir}"]]\n'
        f'        command: ["${{python}}", -c, "{LISTEN}", "${{port}}", "{lives}"]\n',
        run="run: {sequences: 100000, steps: 5, seed: 1, max_time: 60}"))
    return spec


def test_a_service_that_dies_during_the_run_stops_it_with_its_name(tmp_path: Path) -> None:
    mark = f"services-{tmp_path.name}"
    done = run_cli("check", str(_spec(tmp_path, 2.0)), "--no-database", "--no-color",
                   env={"SERVICES_TEST_MARK": mark})
    assert done.code == 3, done.text
    assert "error: target 'candidate': service 'db': exited with code 0 during the run" \
        in done.text
    assert not processes_with(mark)


def test_ctrl_c_during_a_services_setup_stops_at_once_and_leaves_nothing(
        tmp_path: Path) -> None:
    mark = f"services-{tmp_path.name}"
    started = tmp_path / "setup-started"
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(
        '  model: {app: "tests.apps.variants:model"}\n'
        '  candidate:\n'
        '    command: ["${python}", -m, uvicorn, "tests.apps.orders:env_app", '
        '--port, "${port}", --log-level, warning]\n'
        '    ready: {path: /orders}\n'
        '    services:\n'
        '      db:\n'
        f'        setup: [[sh, -c, "touch {started}; sleep 60"]]\n'
        '        command: [sleep, "60", "${port}"]\n'))
    process = subprocess.Popen(
        [sys.executable, "-m", "mbtspec.cli", "check", str(spec), "--no-database"],
        cwd=REPO, env={**os.environ, "SERVICES_TEST_MARK": mark},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not started.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert started.exists(), process.communicate(timeout=30)[0]
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, out
    assert time.monotonic() - stopped_at < 5
    assert not processes_with(mark)
