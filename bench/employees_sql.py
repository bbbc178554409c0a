"""Figures of the seed's example: PostgreSQL against MariaDB, both started by the spec.

Runs ``examples/employees-sql/spec.yaml`` once per seed (no example database, no saved
failures) and prints, per seed: the time to start both databases and both apps (the
targets' start, services included), the total time to the shrunk difference, and the length
of the minimal sequence; then medians and ranges. With ``--restart``, it times the
restart-reset spec of tests/e2e/test_restart_reset.py instead: sequences per second and the
reset's share of the run time, against a file-backed server without a reset endpoint.

Run from the repository root:  python bench/employees_sql.py [--seeds 5] [--restart]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mbtspec import check  # noqa: E402
from mbtspec.executor import _session  # noqa: E402

SPEC = REPO / "examples" / "employees-sql" / "spec.yaml"


def _timed_starts() -> list[float]:
    """Record how long each run's targets took to start (services included)."""
    starts: list[float] = []
    enter = _session.Session.__enter__

    def timed(self: Any) -> Any:
        began = time.perf_counter()
        result = enter(self)
        starts.append(time.perf_counter() - began)
        return result

    _session.Session.__enter__ = timed  # type: ignore[method-assign]
    return starts


def _spread(values: list[float], unit: str = "s") -> str:
    return (f"median {statistics.median(values):.2f}{unit} "
            f"(range {min(values):.2f}-{max(values):.2f}{unit})")


def seed_example(seeds: int) -> None:
    starts = _timed_starts()
    totals, lengths = [], []
    for seed in range(1, seeds + 1):
        began = time.perf_counter()
        outcome = check(SPEC, seed=seed, database=None)
        totals.append(time.perf_counter() - began)
        failure = outcome.result.failure
        lengths.append(len(failure.steps) if failure else 0)
        print(f"seed {seed}: start {starts[-1]:.2f}s, shrunk difference after "
              f"{totals[-1]:.2f}s, minimal length {lengths[-1]}", flush=True)
    print(f"start of both databases and apps: {_spread(starts)}")
    print(f"time to the shrunk difference: {_spread(totals)}")
    print(f"minimal length: {sorted(set(lengths))}")


RESTART_SPEC = """\
version: 1
openapi: {repo}/tests/apps/orders_openapi.yaml
targets:
  model: {{app: "tests.apps.variants:model"}}
  candidate:
    command: ["${{python}}", -m, tests.apps.file_orders, "${{port}}", "${{tmp}}/orders.json"]
    ready: {{path: /orders}}
    reset:
      - restart: [candidate]
        commands: [[cp, {seed}, "${{tmp}}/orders.json"]]
reset:
  - request: POST /__reset
generators:
  item: {{one_of: [apple, pear, fig]}}
actions:
  create:
    request: POST /orders
    body: {{item: "${{item}}", qty: {{integer: {{min: 1, max: 100}}}}}}
    store: {{orders: response.body.id}}
  close:
    request: POST /orders/{{id}}/close
    path: {{id: {{pick: orders}}}}
  list:
    request: GET /orders
"""


def restart_reset(seeds: int) -> None:
    rates, shares = [], []
    with tempfile.TemporaryDirectory() as folder:
        seed_file = Path(folder) / "seed.json"
        seed_file.write_text('{"orders": [], "next_id": 1}')
        spec = Path(folder) / "spec.yaml"
        spec.write_text(RESTART_SPEC.format(repo=REPO, seed=seed_file))
        for seed in range(1, seeds + 1):
            outcome = check(spec, seed=seed, sequences=30, steps=10, database=None)
            result = outcome.result
            rates.append(result.stats.sequences / result.elapsed)
            shares.append(100 * result.stats.reset_seconds / result.elapsed)
            print(f"seed {seed}: {result.stats.sequences} sequences in {result.elapsed:.1f}s: "
                  f"{rates[-1]:.2f}/s, reset {shares[-1]:.0f}% of the run time", flush=True)
    print(f"sequences per second: {_spread(rates, '/s')}")
    print(f"reset's share of the run time: {_spread(shares, '%')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--restart", action="store_true")
    options = parser.parse_args()
    os.chdir(REPO)  # the apps are imported from the current directory
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    (restart_reset if options.restart else seed_example)(options.seeds)


if __name__ == "__main__":
    main()
