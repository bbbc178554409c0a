"""Services of a command target (executor/_services.py): setup in order, readiness by port
or by command, the errors a user sees, the account a service runs as, and nothing left
behind."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from mbtspec.errors import TargetError
from mbtspec.executor._process import stop_all
from mbtspec.executor._services import Service
from mbtspec.spec.model import Mark, ServiceDef

LISTEN = ("import socket, sys, time; s = socket.socket(); "
          "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(60)")


def _service(tmp_path: Path, **fields: object) -> Service:
    definition = ServiceDef(**{"name": "db", "mark": Mark(1, 1, 1, 1),  # type: ignore[arg-type]
                               "command": (sys.executable, "-c", LISTEN, "${port}"), **fields})
    return Service(definition, "model", tmp_path, dict(os.environ), None)


def _run(service: Service) -> None:
    try:
        asyncio.run(service.start())
    finally:
        stop_all([p for p in [service.process] if p is not None], grace=1.0)


def test_setup_runs_in_order_in_its_own_folder_before_the_server(tmp_path: Path) -> None:
    service = _service(tmp_path, setup=(
        ("sh", "-c", 'echo one > "$0/log"', "${dir}"),
        ("sh", "-c", 'echo two on $1 >> "$0/log"', "${dir}", "${port}")))
    _run(service)
    assert service.dir == tmp_path / "model.db"
    assert (service.dir / "log").read_text().split("\n")[:2] == ["one", f"two on {service.port}"]
    assert service.process is not None and service.process.exit_code is not None  # stopped


def test_ready_by_command_waits_until_the_command_succeeds(tmp_path: Path) -> None:
    # The server makes its "socket" file after 0.3 s; the ready command tests for it.
    service = _service(
        tmp_path, command=("sh", "-c", 'sleep 0.3; touch "$0/ready"; sleep 60', "${dir}"),
        ready_command=("test", "-e", "${dir}/ready"))
    _run(service)
    assert (service.dir / "ready").exists()


def test_a_failing_setup_command_says_which_and_shows_its_output(tmp_path: Path) -> None:
    service = _service(tmp_path, setup=(("true",), ("sh", "-c", "echo cannot init; exit 3")))
    with pytest.raises(TargetError) as caught:
        _run(service)
    message = str(caught.value)
    assert "target 'model': service 'db': setup command 2 ('sh -c echo cannot init; exit 3') " \
           "failed: exited with code 3" in message
    assert caught.value.log_tail == ["cannot init"]
    assert caught.value.log_path == str(tmp_path / "model.db.setup.log")
    assert service.process is None  # the server never started


def test_a_server_that_exits_before_it_is_ready(tmp_path: Path) -> None:
    service = _service(tmp_path, command=("sh", "-c", "echo bad option >&2; exit 2"),
                       ready_command=("false",))
    with pytest.raises(TargetError) as caught:
        _run(service)
    assert "service 'db': exited with code 2 before it was ready" in str(caught.value)
    assert caught.value.log_tail == ["bad option"]


def test_a_server_not_ready_in_time(tmp_path: Path) -> None:
    service = _service(tmp_path, command=("sleep", "60", "${port}"), ready_timeout=0.3)
    with pytest.raises(TargetError) as caught:
        _run(service)
    assert f"service 'db': not ready after 0.3s (port {service.port}: " in str(caught.value)
    assert "raise ready.timeout" in str(caught.value)


def test_a_program_that_does_not_exist(tmp_path: Path) -> None:
    service = _service(tmp_path, command=("no-such-database-server", "${port}"))
    with pytest.raises(TargetError) as caught:
        _run(service)
    assert "service 'db': cannot start 'no-such-database-server': No such file or " \
           "directory; check the command" in str(caught.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run a service as another user")
def test_as_root_a_service_runs_as_its_user_in_a_folder_it_owns() -> None:
    nobody = pwd.getpwnam("nobody")
    # (as a run's folder is: in /tmp, where pytest's own folders are closed to others)
    tmp_path = Path(tempfile.mkdtemp(prefix="mbtspec-test-"))
    service = _service(tmp_path, user="nobody", command=("sleep", "60"),
                       ready_command=("sh", "-c", f'test "$(id -u)" = {nobody.pw_uid}'),
                       setup=(("sh", "-c", 'id -u > "$0/uid"; echo $HOME > "$0/home"',
                               "${dir}"),))
    _run(service)
    assert (service.dir / "uid").read_text().strip() == str(nobody.pw_uid)
    assert (service.dir / "home").read_text().strip() == nobody.pw_dir
    assert service.dir.stat().st_uid == nobody.pw_uid
    assert tmp_path.stat().st_mode & 0o777 == 0o711  # passable for it, not readable
    shutil.rmtree(tmp_path)


def test_an_unknown_user_is_named(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the user is ignored when mbtspec does not run as root")
    service = _service(tmp_path, user="no-such-account")
    with pytest.raises(TargetError) as caught:
        _run(service)
    assert "there is no user 'no-such-account' on this machine" in str(caught.value)
