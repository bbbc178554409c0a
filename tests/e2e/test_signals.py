"""Signals and processes end to end: ``mbtspec check`` as a real process, sent SIGKILL, SIGINT or
SIGTERM at random moments. Nothing it started may be left behind (checked in /proc by a marker
in each run's environment, and by the port), and an interrupt always exits 130, promptly."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import REPO, free_port, orders_spec, processes_with, run_cli

STUBBORN = REPO / "tests" / "apps" / "stubborn_server.py"


def wait_until(condition: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def catches_sigterm(pid: int) -> bool:
    """Has mbtspec set its signal handlers up (Python has imported it)?"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))


@dataclass
class Run:
    """One ``mbtspec check`` over a stubborn server (single-target mode, or an in-process
    model), on a port chosen here."""

    folder: Path
    server_options: str = ""
    shell: str = '"$0" "$1" "$2" {options} & sleep 1000; wait'
    model: str = ""
    extra: str = ""
    env: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.marker = f"mbtspec-test-{uuid.uuid4().hex}"
        self.port = free_port()
        self.spec = self.folder / f"{self.marker}.yaml"
        model = f"  model: {{app: {self.model}}}\n" if self.model else ""
        shell = self.shell.format(options=self.server_options)
        self.spec.write_text(f"""\
version: 1
targets:
{model}  candidate:
    command: [sh, -c, '{shell}', "${{python}}", "{STUBBORN}", "{self.port}"]
    base_url: http://127.0.0.1:{self.port}
    env: {{MARKER: "{self.marker}"}}
    timeout: 30
{self.extra}
actions:
  ping:  # (a value that varies: else every distinct sequence is run within a second)
    request: GET /ping
    headers: {{x-n: {{integer: {{min: 1, max: 1000000000}}}}}}
run: {{sequences: 100000, steps: 5}}
""")

    def start(self) -> subprocess.Popen[str]:
        import os

        return subprocess.Popen(
            [sys.executable, "-m", "mbtspec.cli", "check", str(self.spec), "--no-database",
             "--no-color"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, **(self.env or {})})

    def clean(self, timeout: float) -> bool:
        return wait_until(lambda: not processes_with(self.marker) and not listening(self.port),
                          timeout)


def test_sigkill_at_random_moments_leaves_no_process_and_frees_the_port(
        tmp_path: Path) -> None:
    # A shell-wrapped server (shell, server in the background, sleep): PR_SET_PDEATHSIG alone
    # reaches only the shell. Moments: during start-up, and once surely while it runs.
    moments: list[float | None] = [random.uniform(0.0, 1.5) for _ in range(3)] + [None]
    for moment in moments:
        run = Run(tmp_path)
        process = run.start()
        if moment is None:
            assert wait_until(lambda run=run: listening(run.port), 20), "never started"
        else:
            time.sleep(moment)
        process.kill()
        process.communicate()
        assert run.clean(5.0), (moment, processes_with(run.marker), listening(run.port))


def _interrupt_once(folder: Path, signum: int, moment: float) -> tuple[int, float, str, bool]:
    """Start a run with slow starts, signal it ``moment`` s after it can take signals:
    (exit code, seconds from signal to exit, stderr, clean within 2 s)."""
    run = Run(folder, server_options="--start-after 0.4", model="tests.apps.slow_import:app",
              env={"SLOW_IMPORT_SECONDS": "0.4"})
    process = run.start()
    assert wait_until(lambda: catches_sigterm(process.pid), 20)
    time.sleep(moment)
    sent = time.monotonic()
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    took = time.monotonic() - sent
    return process.returncode, took, err, run.clean(2.0)


def test_ctrl_c_or_sigterm_at_random_moments_of_start_up_exits_130(tmp_path: Path) -> None:
    # Start-up: the model imports for 0.4 s, the candidate listens after 0.4 s; then the run.
    trials = [(signal.SIGINT if n % 3 else signal.SIGTERM, random.uniform(0.0, 1.2))
              for n in range(12)]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda t: _interrupt_once(tmp_path, *t), trials))
    for (signum, moment), (code, took, err, clean) in zip(trials, results, strict=True):
        assert code == 130, (signum, moment, err)
        assert "Traceback" not in err, err
        assert took < 8.0, (signum, moment, took)  # (else: minutes; three runs at once, busy CI)
        assert clean, (signum, moment)


def test_ctrl_c_while_a_request_hangs_exits_at_once(tmp_path: Path) -> None:
    run = Run(tmp_path, server_options="--hang /ping")  # answers the ready check only
    process = run.start()
    assert wait_until(lambda: listening(run.port), 20)
    time.sleep(0.8)  # the first GET /ping is on its way, for up to the 30 s timeout
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=40)
    assert process.returncode == 130, err
    assert time.monotonic() - sent < 5.0  # (not the 30 s timeout)
    assert "interrupted; every target was stopped" in err
    assert run.clean(2.0)


def test_a_second_ctrl_c_while_stopping_kills_at_once(tmp_path: Path) -> None:
    run = Run(tmp_path, server_options="--ignore-sigterm", shell='exec "$0" "$1" "$2" {options}')
    process = run.start()
    assert wait_until(lambda: listening(run.port), 20)
    process.send_signal(signal.SIGINT)  # the server ignores the SIGTERM that follows
    time.sleep(0.5)
    assert process.poll() is None  # waiting out the 5 s grace period
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert time.monotonic() - sent < 3.5  # (not the 5 s grace)
    assert run.clean(2.0)


def test_a_command_that_puts_its_server_in_the_background_and_exits(tmp_path: Path) -> None:
    run = Run(tmp_path, shell='"$0" "$1" "$2" &')  # the shell exits 0 at once
    run.spec.write_text(run.spec.read_text().replace("sequences: 100000", "sequences: 5"))
    done = run_cli("check", str(run.spec), "--no-database", "--no-color")
    assert done.code == 0, done.text
    assert run.clean(2.0)


def test_a_command_target_on_a_port_already_taken_exits_3(tmp_path: Path) -> None:
    squatter = Run(tmp_path, shell='exec "$0" "$1" "$2"')
    other = subprocess.Popen([sys.executable, str(STUBBORN), str(squatter.port)],
                             stdout=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: listening(squatter.port), 20)
        done = run_cli("check", str(squatter.spec), "--no-database", "--no-color")
    finally:
        other.terminate()
        other.wait()
    assert done.code == 3, done.text
    assert f"port {squatter.port} is already in use on 127.0.0.1" in done.err
    assert processes_with(squatter.marker) == []


def test_reset_commands_on_the_top_level_and_on_a_command_target(tmp_path: Path) -> None:
    log = tmp_path / "resets.log"
    targets = f"""\
  model: {{app: tests.apps.variants:model}}
  candidate:
    command: ["${{python}}", -m, uvicorn, "tests.apps.orders:env_app", --port, "${{port}}",
              --app-dir, "{REPO}"]
    cwd: {tmp_path}
    env: {{RESET_LOG: "{log}"}}
    ready: {{path: /orders}}
    reset:
      - request: POST /__reset
      - command: [sh, -c, 'echo "candidate $0 $PWD" >> "$RESET_LOG"', "${{port}}"]
"""
    extra = f"""\
reset:
  - request: POST /__reset
  - command: ["${{python}}", -c, "open('{log}', 'a').write('model ${{tmp}}\\\\n')"]
"""
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(targets, reset=False, extra=extra))
    done = run_cli("check", str(spec), "--no-database", "--no-color", "--sequences", "5")
    assert done.code == 0, done.text
    lines = log.read_text().splitlines()
    candidate = [line for line in lines if line.startswith("candidate ")]
    model = [line for line in lines if line.startswith("model ")]
    assert len(candidate) == len(model) >= 5
    port = candidate[0].split()[1]
    assert candidate == [f"candidate {port} {tmp_path}"] * len(candidate)
    assert "/mbtspec-" in model[0]


def test_ctrl_c_while_a_base_url_target_does_not_answer_its_first_request(
        tmp_path: Path) -> None:
    # Before the run, a base_url target gets GET / (with the target's 30 s timeout): the
    # thread that sends it must not keep mbtspec from exiting.
    port = free_port()
    server = subprocess.Popen([sys.executable, str(STUBBORN), str(port), "--hang", "/"],
                              stdout=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: listening(port), 20)
        spec = tmp_path / "spec.yaml"
        spec.write_text(f"version: 1\ntargets:\n  candidate: {{base_url: "
                        f"'http://127.0.0.1:{port}', timeout: 30}}\nreset: []\n"
                        "actions:\n  ping:\n    request: GET /ping\n")
        process = subprocess.Popen([sys.executable, "-m", "mbtspec.cli", "check", str(spec),
                                    "--no-database", "--no-color"], cwd=REPO,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert wait_until(lambda: catches_sigterm(process.pid), 20)
        time.sleep(1.0)  # GET / is waiting for its answer
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        server.terminate()
        server.wait()
    assert process.returncode == 130, err
    assert time.monotonic() - sent < 5.0  # (not the 60 s wait)
