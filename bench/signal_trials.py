"""SIGKILL, SIGINT and SIGTERM sent to `mbtspec check` at random moments: what is left behind.

Each trial runs `mbtspec check` (a real process, as a user would) on a spec over the orders API
whose candidate is a shell-wrapped command target:

    sh -c '"$0" -m uvicorn tests.apps.orders:env_app --port "$1" & sleep 1000; wait'

(the shell, a uvicorn server in the background and a `sleep`: the case PR_SET_PDEATHSIG alone
cannot clean up), next to an in-process model. One signal is sent at a moment drawn uniformly
from a calibrated run's whole length: importing, starting the targets, running, shrinking,
stopping. For SIGKILL the moment counts from the spawn; for SIGINT and SIGTERM from the moment
mbtspec catches SIGTERM (before that, Python is still importing mbtspec and a signal has the
interpreter's default effect).

Per trial: mbtspec's exit code, the time from the signal to its exit, the time until no process
carries the trial's marker (in its command line or environment), the port is free again and
the run's temporary folders are gone,
what is still there 10 s after the signal, and what is left in the run's temporary folder (each
run gets its own TMPDIR).
The phase of a trial is seen from the `-v` step lines: before the first step ("start"), within
0.3 s of a step line ("run"), or later ("end": the report, stopping the targets).

Printed as a table: signal, trials, trials whose run was over before the moment came (no
signal sent), exit codes seen (130 expected for SIGINT and SIGTERM, -9 for SIGKILL), phases, max
time to exit, max time until clean, processes left and folders left (0 expected); then a line
for each trial that did not go as expected.

The candidate has a seeded bug (``--bug close_twice``): it is found within the first sequences
and then shrunk, so that shrinking is part of the run; ``--bug ''`` makes the run go through all
its sequences instead.

Run from the repository root:
    python bench/signal_trials.py [--trials 20] [--signals KILL,INT] [--sequences 30] [--bug X]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OPENAPI = REPO / "tests" / "apps" / "orders_openapi.yaml"

SPEC = """\
version: 1
openapi: {openapi}
targets:
  model: {{app: tests.apps.variants:model}}
  candidate:
    command: [sh, -c, '"$0" -m uvicorn tests.apps.orders:env_app --port "$1" & sleep 1000; wait',
              "${{python}}", "{port}"]
    base_url: http://127.0.0.1:{port}
    env: {{MARKER: "{marker}", ORDERS_BUGS: "{bug}"}}
    ready: {{path: /orders}}
reset:
  - request: POST /__reset
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
run: {{sequences: {sequences}, steps: 10}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line or environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            if stat[stat.rfind(b")") + 2:][:1] in (b"Z", b"X"):
                continue
            if marker.encode() in (entry / "cmdline").read_bytes() + (
                    entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def catches_sigterm(pid: int) -> bool:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except OSError:
        pass
    return False


@dataclass
class Trial:
    signal: str
    moment: float
    sent: bool  # False: the run was over before the moment came
    code: int | None
    phase: str
    to_exit: float
    to_clean: float
    left: int
    folders: int
    stderr: str


def run_once(workdir: Path, sequences: int, bug: str, sig: signal.Signals | None,
             moment: float) -> tuple[Trial, float, float]:
    """One run of mbtspec; ``sig`` sent ``moment`` seconds after the origin (see the module's
    docstring). Returns the trial and the run's length from the spawn and from the moment it
    caught SIGTERM."""
    marker = f"mbtspec-bench-{uuid.uuid4().hex}"
    port = free_port()
    spec = workdir / f"{marker}.yaml"
    spec.write_text(SPEC.format(openapi=OPENAPI, port=port, marker=marker, sequences=sequences,
                                bug=bug))
    tmp = workdir / f"tmp-{marker}"
    tmp.mkdir()
    errors = workdir / f"{marker}.err"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "mbtspec.cli", "check", str(spec), "--no-database",
             "--no-color", "-v", "--seed", str(random.randrange(2**31))],
            cwd=REPO, stdout=subprocess.PIPE, stderr=stderr,
            env={**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"})
    spawned = origin = time.monotonic()
    steps: list[float] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.lstrip()[:1].isdigit():
                steps.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if sig != signal.SIGKILL:
        while not catches_sigterm(process.pid) and process.poll() is None:
            time.sleep(0.002)
        origin = time.monotonic()
    sent = origin + moment
    signalled = False
    if sig is not None:
        while time.monotonic() < sent and process.poll() is None:
            time.sleep(0.001)
        sent = time.monotonic()
        if process.poll() is None:
            process.send_signal(sig)
            signalled = True
    try:
        code: int | None = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        code = None
        process.kill()
        process.wait()
    exited = time.monotonic()
    reader.join(timeout=5)
    assert process.stdout is not None
    process.stdout.close()
    before = [t for t in steps if t <= sent]
    phase = ("start" if not before else "run" if sent - before[-1] < 0.3 else "end")
    deadline = sent + 10
    while time.monotonic() < deadline and (processes_with(marker) or port_in_use(port)
                                           or any(tmp.iterdir())):
        time.sleep(0.02)
    clean = time.monotonic()
    left = processes_with(marker)
    for pid in left:  # so that the next trial starts clean
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    folders = list(tmp.iterdir())
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    spec.unlink()
    tail = " | ".join(errors.read_text(errors="replace").splitlines()[-3:])
    errors.unlink()
    trial = Trial(sig.name if sig else "-", moment, signalled, code, phase, exited - sent,
                  clean - sent, len(left), len(folders), tail)
    return trial, exited - spawned, exited - origin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--signals", default="KILL,INT,TERM")
    parser.add_argument("--sequences", type=int, default=30)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--bug", default="close_twice",
                        help="the candidate's seeded bug (found, then shrunk); '' for none")
    args = parser.parse_args()
    random.seed(args.seed)
    with tempfile.TemporaryDirectory(prefix="signal-trials-") as folder:
        workdir = Path(folder)
        calibration, from_spawn, from_handlers = run_once(workdir, args.sequences, args.bug,
                                                               None, 0.0)
        print(f"calibration run: exit {calibration.code}, {from_spawn:.2f} s from spawn to "
              f"exit, {from_handlers:.2f} s from catching SIGTERM to exit; {args.trials} "
              "trials per signal")
        print(f"{'signal':<8} {'trials':>6} {'over first':>10}  {'exit codes seen':<18} "
              f"{'phases':<24} {'max exit':>9} {'max clean':>10} {'left':>5} {'folders':>8}")
        odd: list[Trial] = []
        for name in args.signals.split(","):
            sig = signal.Signals[f"SIG{name}"]
            window = from_spawn if sig == signal.SIGKILL else from_handlers
            trials = [run_once(workdir, args.sequences, args.bug, sig,
                               random.uniform(0, window))[0] for _ in range(args.trials)]
            sent = [t for t in trials if t.sent]
            codes = collections.Counter(t.code for t in sent)
            phases = collections.Counter(t.phase for t in sent)
            expected = -signal.SIGKILL if sig == signal.SIGKILL else 130
            odd += [t for t in sent if t.code != expected or t.left or t.folders]
            print(f"{sig.name:<8} {len(trials):>6} {len(trials) - len(sent):>10}  "
                  f"{', '.join(f'{c}x{n}' for c, n in sorted(codes.items(), key=str)):<18} "
                  f"{', '.join(f'{p} {n}' for p, n in sorted(phases.items())):<24} "
                  f"{max((t.to_exit for t in sent), default=0):>8.2f}s "
                  f"{max((t.to_clean for t in sent), default=0):>9.2f}s "
                  f"{sum(t.left for t in sent):>5} {sum(t.folders for t in sent):>8}",
                  flush=True)
        for trial in odd:
            print(f"  {trial.signal} at {trial.moment:.2f} s ({trial.phase}): exit {trial.code}, "
                  f"{trial.left} left, {trial.folders} folders; stderr: {trial.stderr}")


if __name__ == "__main__":
    main()
