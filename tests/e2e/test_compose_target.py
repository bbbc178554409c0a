"""End to end: a ``compose`` target, against a stand-in ``docker`` executable (these machines
have no Docker daemon). The stand-in does what ``docker compose`` does as far as mbtspec can
see: ``up`` starts the service (here a real orders server on a free port, detached and without
mbtspec's mark, as a container would be), ``port`` prints the published address, ``down``
stops it. Every call is written to a log, so the test checks the contract: the arguments,
their order, and that ``down --volumes`` comes at the end, also after a failure."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, orders_spec, run_cli

pytestmark = pytest.mark.e2e

STAND_IN = """\
#!{python}
import json, os, signal, socket, subprocess, sys
from pathlib import Path
args = sys.argv[1:]
state = Path({state!r})
with open(state / "calls.log", "a") as log:
    log.write(json.dumps(args) + "\\n")
assert args[:2] == ["compose", "--file"] and args[3] == "--project-name", args
project, verb, rest = args[4], args[5], args[6:]
saved = state / (project + ".json")
if verb == "up":
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {{k: v for k, v in os.environ.items() if k != "MBTSPEC_JOB"}}  # the daemon's child
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.apps.orders:env_app", "--port", str(port),
         "--log-level", "warning"], cwd={repo!r}, env={{**env, "ORDERS_FIRST_ID": "1"}},
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved.write_text(json.dumps({{"pid": server.pid, "port": port}}))
    print("Container " + project + "-" + rest[-1] + "-1  Started")
elif verb == "port":
    if {published}:
        print("0.0.0.0:" + str(json.loads(saved.read_text())["port"]))
elif verb == "down":
    if saved.exists():
        os.kill(json.loads(saved.read_text())["pid"], signal.SIGTERM)
        saved.unlink()
"""


def _stand_in(tmp_path: Path, published: bool = True) -> dict[str, str]:
    """A ``docker`` first on the PATH; the environment to run mbtspec with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(STAND_IN.format(python=sys.executable, state=str(tmp_path),
                                      repo=str(REPO), published=published))
    docker.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def _spec(tmp_path: Path) -> Path:
    (tmp_path / "compose.yaml").write_text("services:\n  api:\n    image: orders\n"
                                           "    ports: ['8000']\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(
        '  model: {app: "tests.apps.variants:model"}\n'
        f'  candidate:\n    compose: {{file: {tmp_path}/compose.yaml, service: api, port: 8000}}\n'
        '    ready: {path: /orders}\n', run="run: {sequences: 5, steps: 6, seed: 1}"))
    return spec


def _calls(tmp_path: Path) -> list[list[str]]:
    return [json.loads(line) for line in (tmp_path / "calls.log").read_text().splitlines()]


def test_a_compose_service_is_up_for_the_run_and_down_with_its_volumes_after(
        tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    done = run_cli("check", str(spec), "--no-database", "--no-color",
                   env=_stand_in(tmp_path))
    assert done.code == 0, done.text
    calls = _calls(tmp_path)
    project = calls[0][4]
    assert project == f"mbtspec-{project.split('-')[1]}-candidate"
    prefix = ["compose", "--file", f"{tmp_path}/compose.yaml", "--project-name", project]
    assert calls == [[*prefix, "up", "--detach", "api"], [*prefix, "port", "api", "8000"],
                     [*prefix, "down", "--volumes", "--timeout", "5"]]
    assert not list(tmp_path.glob("mbtspec-*.json"))  # 'down' stopped what 'up' started


def test_an_unpublished_port_stops_the_run_and_still_takes_the_service_down(
        tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    done = run_cli("check", str(spec), "--no-database", "--no-color",
                   env=_stand_in(tmp_path, published=False))
    assert done.code == 3, done.text
    assert "port 8000 of service 'api' is not published" in done.text
    assert [call[5] for call in _calls(tmp_path)] == ["up", "port", "down"]
    assert not list(tmp_path.glob("mbtspec-*.json"))


def test_without_docker_the_run_says_what_is_missing(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_cli("check", str(spec), "--no-database", "--no-color",
                   env={"PATH": str(empty)})
    assert done.code == 3, done.text
    assert "'docker compose up' failed: cannot start 'docker'" in done.text
    assert "is Docker installed" in done.text
