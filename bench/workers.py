"""``mbtspec check --workers N`` on the bundled example: calls per second with 1, 2 and 4
workers, and the time to the shrunk failure with 1 and 2 workers.

Each run is ``mbtspec check examples/employees/spec.yaml --workers N`` as a user runs it (a
process; workers start their own uvicorn server and import the model app), timed from start
to exit; calls are read from its JSON report (requests to both targets, shrinking included).
  - throughput: the example's fix switched on (EMPLOYEES_CASE_SENSITIVE_LIKE=1), so that every
    sequence runs; calls/s = calls / wall time, start-up of workers and servers included;
  - time to the failure: the bug left in; seconds until the verdict (found and shrunk),
    over several seeds (each seed its own parts, so the runs differ: the median says more).
Median and range of --repeats runs; the ratios are to 1 worker measured in the same round.

Run from the repository root:  python bench/workers.py [--sequences N] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "examples" / "employees" / "spec.yaml"


def run(workers: int, *, fixed: bool, seed: int, sequences: int | None) -> tuple[float, int, int]:
    """(seconds, calls, exit code) of one run."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        argv = [sys.executable, "-m", "mbtspec.cli", "check", str(SPEC), "--seed", str(seed),
                "--no-database", "--no-color", "--quiet", "--report-json", str(report)]
        argv += ["--workers", str(workers)] if workers > 1 else []
        argv += ["--sequences", str(sequences)] if sequences else []
        env = {**os.environ, "EMPLOYEES_CASE_SENSITIVE_LIKE": "1" if fixed else "0"}
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                              check=False)
        elapsed = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise SystemExit(f"mbtspec exited {done.returncode}: {done.stderr}")
        calls = json.loads(report.read_text())["stats"]["requests"]
        return elapsed, calls, done.returncode


def summary(values: list[float], unit: str) -> str:
    return (f"{statistics.median(values):8.1f} {unit} "
            f"(runs {min(values):.1f}-{max(values):.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=None,
                        help="sequences of the throughput runs (default: the example's)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores; {args.repeats} rounds; median (range)")
    rates: dict[int, list[float]] = {1: [], 2: [], 4: []}
    for round_ in range(args.repeats):
        for workers in rates:
            elapsed, calls, code = run(workers, fixed=True, seed=7 + round_,
                                       sequences=args.sequences)
            assert code == 0, "with the fix, the example must pass"
            rates[workers].append(calls / elapsed)
    print("throughput, example with its fix (calls/s, start-up included):")
    for workers, values in rates.items():
        ratios = [v / one for v, one in zip(values, rates[1], strict=True)]
        print(f"  {workers} worker{'s' if workers > 1 else ' '} {summary(values, 'calls/s')}"
              f"   x{statistics.median(ratios):.2f} of 1 worker "
              f"({min(ratios):.2f}-{max(ratios):.2f})")
    times: dict[int, list[float]] = {1: [], 2: []}
    for seed in range(1, args.repeats * 2 + 1):
        for workers in times:
            elapsed, _, code = run(workers, fixed=False, seed=seed, sequences=None)
            assert code == 1, "without the fix, the example must fail"
            times[workers].append(elapsed)
    print(f"time to the shrunk failure, {args.repeats * 2} seeds (s, start-up included):")
    for workers, values in times.items():
        print(f"  {workers} worker{'s' if workers > 1 else ' '} {summary(values, 's')}")


if __name__ == "__main__":
    main()
