"""End to end: services of a command target, without a database (the seed's example with
PostgreSQL and MariaDB is tests/e2e/test_employees_sql.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import orders_spec, processes_with, run_cli

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
        run="run: {sequences: 400, steps: 5, seed: 1}"))
    return spec


def test_a_service_that_dies_during_the_run_stops_it_with_its_name(tmp_path: Path) -> None:
    mark = f"services-{tmp_path.name}"
    done = run_cli("check", str(_spec(tmp_path, 2.0)), "--no-database", "--no-color",
                   env={"SERVICES_TEST_MARK": mark})
    assert done.code == 3, done.text
    assert "error: target 'candidate': service 'db': exited with code 0 during the run" \
        in done.text
    assert not processes_with(mark)
