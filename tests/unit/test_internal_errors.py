"""A bug in mbtspec is said in one line and exits with 4, in every command: never a
traceback (unless MBTSPEC_DEBUG is set), never exit 1, which CI reads as "a difference"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mbtspec.cli as cli
from mbtspec.cli import main

REPO = Path(__file__).resolve().parents[2]
SPEC = """\
version: 1
targets:
  model: {app: "tests.apps.echo:model", headers: {X-Api-Key: "${env.MBT_KEY}"}}
  candidate: {app: "tests.apps.echo:model", headers: {X-Api-Key: "${env.MBT_KEY}"}}
reset: [{request: POST /reset}]
actions:
  echo: {request: GET /echo}
run: {sequences: 2, steps: 2}
"""
KEY = "s3cr3t-\"key"
LINE = ("internal error: RuntimeError: boom — a bug in mbtspec, please report it (rerun with "
        "MBTSPEC_DEBUG=1 to see the traceback)")


@pytest.fixture(autouse=True)
def process_left_as_found() -> Iterator[None]:
    """main() owns its process: it takes SIGINT/SIGTERM over and ends the process with its exit
    code at exit. Called here inside pytest, that would end pytest with the last test's code."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    cli._ENDING.clear()
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom\nsecond line")


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["mbtspec", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    return int(stopped.value.code or 0), captured.out + captured.err


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.setenv("MBT_KEY", KEY)
    monkeypatch.delenv("MBTSPEC_DEBUG", raising=False)
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


FAULTS: list[tuple[str, str, Callable[[Path], list[str]]]] = [
    ("mbtspec._check", "check", lambda spec: ["check", str(spec), "--no-database"]),
    ("mbtspec.report.terminal", "render_summary",
     lambda spec: ["check", str(spec), "--no-database"]),
    ("mbtspec.report.junit", "render_junit",
     lambda spec: ["check", str(spec), "--no-database", "--junit-xml", "j.xml"]),
    ("mbtspec.spec", "lint_spec", lambda spec: ["lint", str(spec)]),
    ("mbtspec.report.replay_file", "read_replay_file", lambda spec: ["replay", "x.yaml"]),
    ("mbtspec.scaffold", "scaffold_spec", lambda spec: ["init", str(spec)]),
    ("mbtspec.spec", "spec_schema", lambda spec: ["schema"]),
]


@pytest.mark.parametrize("module, name, args", FAULTS, ids=[f"{m}.{n}" for m, n, _ in FAULTS])
def test_a_bug_anywhere_is_one_line_and_exit_4(
        spec: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        module: str, name: str, args: Callable[[Path], list[str]]) -> None:
    monkeypatch.setattr(f"{module}.{name}", boom)
    code, output = run(capsys, monkeypatch, *args(spec))
    assert code == cli.EXIT_INTERNAL == 4
    assert output.strip().splitlines()[-1] == LINE
    assert "Traceback" not in output and "second line" not in output


def test_an_internal_error_message_is_redacted(
        spec: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def leaky(*args: object, **kwargs: object) -> None:
        raise ValueError(f"unexpected header value 'X-Api-Key: {KEY}' (%22 {KEY!r})")

    monkeypatch.setattr("mbtspec.report.terminal.render_summary", leaky)
    code, output = run(capsys, monkeypatch, "check", str(spec), "--no-database")
    assert code == 4
    assert "internal error: ValueError: unexpected header value 'X-Api-Key: ***' (%22 '***')" \
        in output
    assert "s3cr3t" not in output


def test_the_traceback_is_shown_with_mbtspec_debug_through_the_real_entry_point(
        tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    program = ("import sys, mbtspec.report.terminal as t\n"
               "def boom(*a, **k): raise RuntimeError('boom')\n"
               "t.render_summary = boom\n"
               "sys.argv = ['mbtspec', 'check', 'spec.yaml', '--no-database']\n"
               "from mbtspec.cli import main\n"
               "main()\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MBT_KEY": KEY}
    quiet = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120, check=False)
    assert quiet.returncode == 4, quiet.stderr
    assert quiet.stderr.strip().splitlines() == [LINE]
    debug = subprocess.run([sys.executable, "-c", program], cwd=tmp_path,
                           env={**env, "MBTSPEC_DEBUG": "1"}, capture_output=True, text=True,
                           timeout=120, check=False)
    assert debug.returncode == 4
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == (
        "internal error: RuntimeError: boom — a bug in mbtspec, please report it (the "
        "traceback follows)")
    assert KEY not in debug.stderr


def test_init_that_cannot_write_is_a_usage_error_not_an_internal_one(
        spec: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_text", refuse)  # (as root, chmod would not refuse)
    code, output = run(capsys, monkeypatch, "init",
                       str(REPO / "tests" / "apps" / "orders_openapi.yaml"), "-o", "new.yaml")
    assert code == 2, output
    assert output.strip() == "error: cannot write new.yaml: Permission denied"
