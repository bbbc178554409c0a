"""Helpers for end-to-end runs: spec files written to a temporary folder, the CLI run as a
real process, and servers started on free ports of 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ORDERS_OPENAPI = REPO / "tests" / "apps" / "orders_openapi.yaml"


def orders_spec(targets: str, *, reset: bool = True, extra: str = "", run: str = "") -> str:
    """A spec over the orders API; ``targets`` is the YAML of the targets mapping."""
    reset_block = "reset:\n  - request: POST /__reset\n" if reset else ""
    return f"""\
version: 1
openapi: {ORDERS_OPENAPI}
targets:
{targets}
{reset_block}
generators:
  item: {{one_of: [apple, pear, fig]}}
  qty: {{integer: {{min: 1, max: 100}}}}
actions:
  create:
    request: POST /orders
    body: {{item: "${{item}}", qty: "${{qty}}"}}
    store: {{orders: response.body.id}}
  get:
    request: GET /orders/{{id}}
    path: {{id: {{pick: orders}}}}
  close:
    request: POST /orders/{{id}}/close
    path: {{id: {{pick: orders}}}}
  delete:
    request: DELETE /orders/{{id}}
    path: {{id: {{pick: orders}}}}
  list:
    request: GET /orders
    compare: {{unordered: [body]}}
invariants:
  - {{name: no server errors, check: candidate.status < 500}}
  - {{name: documented responses, check: conforms_to_openapi(candidate)}}
{extra}
{run}
"""


@dataclass
class Completed:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
            timeout: float = 300) -> Completed:
    """Run ``mbtspec`` as a user would: a separate process, plain output."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "mbtspec.cli", *args], cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    return Completed(done.returncode, done.stdout, done.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line or environment mentions ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline or marker.encode() in environ:
            found.append(int(entry.name))
    return found


@pytest.fixture
def uvicorn_orders(tmp_path: Path) -> Iterator[str]:
    """A real orders server (uvicorn) on a free port; yields its base URL."""
    port = free_port()
    log = open(tmp_path / "uvicorn.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.apps.orders:env_app", "--port", str(port),
         "--log-level", "warning"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "ORDERS_FIRST_ID": "501"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
