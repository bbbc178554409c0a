"""Time to find and to shrink the example's difference, over 10 seeds.

Runs `examples/employees/spec.yaml` (model in-process, SQLite candidate as a real uvicorn server)
once per seed with no example database, and prints per seed: the time until the first failing
step, the total time (finding + shrinking + the replay pass), the sequences run and the length of
the minimal sequence; then the medians. Baseline for the ratio: the same spec with the fix on
(EMPLOYEES_CASE_SENSITIVE_LIKE=1), timed for as many sequences as the median run needed.

Run from the repository root:  python bench/find_time.py [--seeds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mbtspec import check  # noqa: E402
from mbtspec.executor import Progress  # noqa: E402

SPEC = REPO / "examples" / "employees" / "spec.yaml"


def one(seed: int) -> tuple[float, float, int, int]:
    started = time.perf_counter()
    first: list[float] = []

    def on_progress(update: Progress) -> None:
        if update.failures and not first:
            first.append(time.perf_counter() - started)

    outcome = check(SPEC, seed=seed, database=None, on_progress=on_progress)
    total = time.perf_counter() - started
    failure = outcome.result.failure
    if failure is None or not first:
        raise SystemExit(f"seed {seed}: the difference was not found")
    return first[0], total, outcome.result.stats.sequences, len(failure.steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    os.chdir(REPO)
    os.environ.pop("EMPLOYEES_CASE_SENSITIVE_LIKE", None)
    rows = []
    print("seed  found after  total    total/found  sequences  minimal calls")
    for seed in range(args.seeds):
        found, total, sequences, length = one(seed)
        rows.append((found, total, sequences, length))
        print(f"{seed:4d}  {found:9.2f}s  {total:6.2f}s  {total / found:11.2f}  {sequences:9d}"
              f"  {length:13d}")
    found_median = statistics.median(r[0] for r in rows)
    total_median = statistics.median(r[1] for r in rows)
    sequences_median = int(statistics.median(r[2] for r in rows))
    ratios = [r[1] / r[0] for r in rows]
    lengths = sorted(r[3] for r in rows)
    print(f"median: found after {found_median:.2f}s, found and shrunk in {total_median:.2f}s; "
          f"(find+shrink)/find: median {statistics.median(ratios):.2f} "
          f"[{min(ratios):.2f}-{max(ratios):.2f}], of the medians "
          f"{total_median / found_median:.2f}; minimal calls {lengths}")

    os.environ["EMPLOYEES_CASE_SENSITIVE_LIKE"] = "1"  # baseline: same work, nothing to find
    started = time.perf_counter()
    check(SPEC, seed=0, sequences=sequences_median, database=None)
    baseline = time.perf_counter() - started
    print(f"baseline: {sequences_median} passing sequences in {baseline:.2f}s; "
          f"find+shrink / baseline = {total_median / baseline:.2f}")


if __name__ == "__main__":
    main()
