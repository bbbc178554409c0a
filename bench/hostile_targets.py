"""`mbtspec check` against servers that misbehave: exit code, wall time, peak memory, leftovers.

Each scenario runs `mbtspec check --no-database --sequences 5` as a separate process, three
times, against a server of `tests/apps/hostile.py` (or uvicorn, for the application that
raises) started by mbtspec as a command target. For each scenario it prints: the exit code
and the one expected (and whether they match in every run), the median and range of the wall
time, the peak memory of the mbtspec process tree (the largest `ru_maxrss` among the processes
it waited for, read with `getrusage(RUSAGE_CHILDREN)` in a fresh process per run), and the
processes left after mbtspec exited (found in /proc by a marker put in their environment; must
be 0), just after the exit and one second later.

Run from the repository root:  python bench/hostile_targets.py [--runs N] [--only NAME]
[--limit SECONDS] (a run still going after --limit seconds is killed and shows as "kill")
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OPENAPI = REPO / "tests" / "apps" / "orders_openapi.yaml"

HOSTILE = '["${python}", -m, tests.apps.hostile, --port, "${port}"'


def _single(path: str, server_options: str = "", target_options: str = "",
            check: str = "response.error == ''") -> str:
    """A spec with one action on the hostile server, expecting an answer."""
    return f"""\
version: 1
targets:
  candidate:
    command: {HOSTILE}{server_options}]
    ready: {{path: /ok, timeout: 5}}
{target_options}
reset: [{{request: POST /__reset}}]
actions:
  get:
    request: GET {path}
    expect: ["{check}"]
  post:
    request: POST /ok
    expect: ["{check}"]
"""


ORDERS_RAISING = f"""\
version: 1
openapi: {OPENAPI}
targets:
  model: {{app: "tests.apps.orders:app"}}
  candidate:
    command: ["${{python}}", -m, uvicorn, "tests.apps.hostile:orders_raising", --port, "${{port}}",
              --log-level, critical]
    ready: {{path: /orders}}
reset: [{{request: POST /__reset}}]
generators:
  item: {{one_of: [apple, pear, fig]}}
actions:
  create:
    request: POST /orders
    body: {{item: "${{item}}", qty: 1}}
    store: {{orders: response.body.id}}
  close:
    request: POST /orders/{{id}}/close
    path: {{id: {{pick: orders}}}}
  list: {{request: GET /orders}}
invariants:
  - {{name: no server errors, check: candidate.status < 500}}
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    spec: str
    expected: int
    what: str


SCENARIOS = [
    Scenario("closes after errors", ORDERS_RAISING, 1,
             "uvicorn: a 500 that closes the connection, and a close under the next request"),
    Scenario("closes idle connections", _single("/ok", ", --idle-close, '0.001'"), 0,
             "every connection closed 1 ms after its last answer"),
    Scenario("closes as requests come", _single("/ok", ", --lazy-close, '0'"), 0,
             "every reused connection closed when the next request arrives"),
    Scenario("streams for ever", _single("/stream", "", "    timeout: 1"), 1,
             "a body of 1 byte every 50 ms, never ending"),
    Scenario("sends 50 MB", _single("/huge"), 1, "a 50 MB body"),
    Scenario("gzip bomb", _single("/bomb"), 1, "65 KB of gzip that inflate to 64 MiB"),
    Scenario("trickles headers", _single("/trickle", "", "    timeout: 1"), 1,
             "a header line every 50 ms, never ending"),
    Scenario("hangs past the timeout", _single("/hang", "", "    timeout: 1"), 1,
             "reads the request, never answers"),
    Scenario("never becomes ready",
             _single("/ok", ", --never-ready").replace("timeout: 5}", "timeout: 2}"), 3,
             "accepts connections, never answers (ready.timeout 2 s)"),
    Scenario("dies mid-run", _single("/ok", ", --die-after, '6'"), 3,
             "exits after answering 6 requests"),
]

MEASURE = """\
import json, resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps([done.returncode, time.monotonic() - started,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  (done.stdout + done.stderr)[-2000:]]))
"""


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line or environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes() + (
                    entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@dataclass(frozen=True)
class Run:
    code: int | None  # None: killed after the time limit
    seconds: float
    peak_mb: float
    left_at_exit: int
    left_after_1s: int
    tail: str


def run_once(scenario: Scenario, folder: Path, limit: float) -> Run:
    spec = folder / "spec.yaml"
    spec.write_text(scenario.spec)
    marker = f"mbtspec-bench-{uuid.uuid4().hex}"
    env = {**os.environ, "MBTSPEC_BENCH_MARKER": marker, "COLUMNS": "200",
           "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "mbtspec.cli", "check", str(spec),
         "--no-database", "--sequences", "5", "--seed", "1"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, _ = process.communicate(timeout=limit)
        code, seconds, peak_kb, tail = json.loads(out)
    except subprocess.TimeoutExpired:  # mbtspec itself hangs: SIGKILL, as a CI job would
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        code, seconds, peak_kb, tail = None, time.monotonic() - started, 0, "(killed)"
    left_at_exit = len(processes_with(marker))
    time.sleep(1)
    left = processes_with(marker)
    for pid in left:  # tidy up (and say so): the next scenario must start clean
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return Run(code, seconds, peak_kb / 1024, left_at_exit, len(left), tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="print each run's output tail")
    parser.add_argument("--limit", type=float, default=300,
                        help="seconds before a run is killed (its exit code shows as 'kill')")
    args = parser.parse_args()
    print(f"{'scenario':26} {'exit':>4} {'want':>4} {'ok':>3} {'wall median [range]':>24} "
          f"{'peak MB':>8} {'left':>5} {'left 1s':>7}")
    for scenario in SCENARIOS:
        if args.only and args.only not in scenario.name:
            continue
        runs = []
        with tempfile.TemporaryDirectory(prefix="mbtspec-bench-") as folder:
            for _ in range(args.runs):
                runs.append(run_once(scenario, Path(folder), args.limit))
        codes = sorted({"kill" if r.code is None else str(r.code) for r in runs})
        seconds = [r.seconds for r in runs]
        wall = (f"{statistics.median(seconds):6.2f}s [{min(seconds):5.2f}-"
                f"{max(seconds):5.2f}]")
        ok = "yes" if codes == [str(scenario.expected)] else "NO"
        print(f"{scenario.name:26} {','.join(codes):>4} {scenario.expected:>4} "
              f"{ok:>3} {wall:>24} {max(r.peak_mb for r in runs):8.0f} "
              f"{max(r.left_at_exit for r in runs):5d} {max(r.left_after_1s for r in runs):7d}")
        if args.verbose or ok == "NO":
            for run in runs:
                print("    | " + run.tail.strip().replace("\n", "\n    | ")[-800:])


if __name__ == "__main__":
    main()
