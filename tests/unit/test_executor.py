"""Executor stage: target strings, processes, app loading, and runs over in-process apps."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from mbtspec import check
from mbtspec.errors import TargetError
from mbtspec.executor._process import ManagedProcess, free_port
from mbtspec.executor.targets import _is_asgi, interpolate, load_app, parse_body, proxy_for
from tests.apps.wsgi_notes import SPEC as WSGI_SPEC


def test_interpolate_variables_env_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MBT_TOKEN", "abcdef")
    monkeypatch.delenv("MBT_MISSING", raising=False)
    secrets: set[str] = set()
    text = interpolate("${port}:${env.MBT_TOKEN}:${env.MBT_MISSING:-dflt}", {"port": "80"},
                       secrets)
    assert text == "80:abcdef:dflt"
    assert secrets == {"abcdef"}  # environment values are secrets; defaults are not
    with pytest.raises(KeyError, match="MBT_MISSING is not set"):
        interpolate("${env.MBT_MISSING}", {})


def test_short_environment_values_are_not_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MBT_FLAG", "1")
    secrets: set[str] = set()
    interpolate("${env.MBT_FLAG}", {}, secrets)
    assert secrets == set()  # "1" would blank out every 1 in the output


def test_parse_body() -> None:
    assert parse_body(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert parse_body(b"not json", "application/json") == "not json"
    assert parse_body(b"plain", "text/plain") == "plain"
    assert parse_body(b"", "application/json") is None


def test_load_app_errors_name_the_problem() -> None:
    with pytest.raises(TargetError, match="cannot import app module 'no_such_module_x'"):
        load_app("model", "no_such_module_x:app")
    with pytest.raises(TargetError, match="has no attribute 'nope'"):
        load_app("model", "tests.apps.wsgi_notes:nope")
    assert callable(load_app("model", "tests.apps.wsgi_notes:model"))


def test_asgi_and_wsgi_are_told_apart() -> None:
    from tests.apps import orders, wsgi_notes

    assert _is_asgi(orders.app)
    assert not _is_asgi(wsgi_notes.model)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', "
              f"'import time; time.sleep(60)']); open({str(pid_file)!r}, 'w').write(str(p.pid)); "
              "time.sleep(60)")
    process = ManagedProcess([sys.executable, "-c", script], env=dict(os.environ), cwd=None,
                             log_path=tmp_path / "log")
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    assert _alive(grandchild)
    process.stop(grace=2)
    assert process.exit_code is not None
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    script = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "print('ready', flush=True); time.sleep(60)")
    process = ManagedProcess([sys.executable, "-c", script], env=dict(os.environ), cwd=None,
                             log_path=tmp_path / "log")
    deadline = time.monotonic() + 10
    while "ready" not in " ".join(process.log_tail()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    process.stop(grace=0.5)
    assert process.exit_code == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_in_process_wsgi_targets_with_minted_ids(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(WSGI_SPEC)
    result = check(spec, sequences=60, steps=15, seed=4, database=None).result
    assert result.failure is None, result.failure
    reads = result.stats.actions["read"].statuses
    assert reads["candidate"]["200"] > 10 and set(reads["candidate"]) == {"200"}


COOKIE_SPEC = """\
version: 1
targets:
  candidate: {app: tests.apps.wsgi_session:app}
reset:
  - request: POST /__reset
actions:
  login:
    request: POST /login
    store: {logins: response.status}
  me:
    request: GET /me
    expect: ["response.status == (size(logins) > 0 ? 200 : 401)"]
"""


def test_cookies_go_back_to_their_target_within_a_sequence_only(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(COOKIE_SPEC)
    result = check(spec, sequences=40, steps=8, seed=2, database=None).result
    assert result.failure is None, result.failure
    statuses = result.stats.actions["me"].statuses["candidate"]
    assert statuses["200"] > 5 and statuses["401"] > 5, statuses


def test_a_reset_step_can_log_in_for_the_sequence(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(COOKIE_SPEC.replace("  - request: POST /__reset\n",
                                        "  - request: POST /__reset\n  - request: POST /login\n")
                    .replace("(size(logins) > 0 ? 200 : 401)", "200"))
    result = check(spec, sequences=20, steps=5, seed=3, database=None).result
    assert result.failure is None, result.failure
    assert set(result.stats.actions["me"].statuses["candidate"]) == {"200"}


def test_an_in_process_app_that_does_not_answer_times_out(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\ntargets:\n  candidate: {app: 'tests.apps.asgi_slow:app', "
                    "timeout: 0.2}\nreset: []\nactions:\n  slow:\n    request: GET /slow\n"
                    "    expect: [\"response.error == ''\"]\n")
    started = time.monotonic()
    failure = check(spec, sequences=5, steps=2, seed=1, database=None).result.failure
    assert failure is not None and time.monotonic() - started < 10
    assert failure.steps[-1].response("candidate").error == "no response within 0.2s"


def test_servers_are_reached_through_the_environments_proxy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Proxy(BaseHTTPRequestHandler):  # answers for any host: no request leaves the machine
        def do_GET(self) -> None:
            body = json.dumps({"asked": self.path}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert proxy_for("http://127.0.0.1:8000") is None  # never for this machine
        assert proxy_for("http://[::1]:8000") is None and proxy_for("http://localhost") is None
        monkeypatch.setenv("NO_PROXY", "skipped.invalid")
        assert proxy_for("http://skipped.invalid/x") is None
        spec = tmp_path / "spec.yaml"
        spec.write_text("version: 1\ntargets:\n  candidate: {base_url: 'http://staging.invalid'}\n"
                        "reset: []\nactions:\n  x:\n    request: GET /x\n    expect: [\"response"
                        ".body.asked == 'http://staging.invalid/x'\"]\n")
        result = check(spec, sequences=3, steps=2, seed=1, database=None).result
        assert result.failure is None, result.failure
        assert result.stats.actions["x"].statuses["candidate"]["200"] >= 1
    finally:
        server.shutdown()
        server.server_close()


def test_a_run_puts_the_garbage_collector_back_as_it_found_it(tmp_path: Path) -> None:
    import gc

    spec = tmp_path / "spec.yaml"
    spec.write_text(WSGI_SPEC)
    before = gc.get_threshold()
    check(spec, sequences=3, steps=3, seed=1, database=None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
