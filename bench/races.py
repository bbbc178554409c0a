"""Races on the mutant benchmark: found, shrunk, timed; and what the interleaving check costs.

Part 1: for each race defect of bench/mutants/service.py (and the correct service and the
noise variant, which must never be reported), runs `mbtspec.check` on bench/mutants/races.yaml
with `--concurrency N`, several seeds, no database; prints found (x/N), the median time to
the shrunk race and its range, and the shrunk shape (prefix calls + calls per branch).

Part 2: the cost of the interleaving check, on a correct candidate (every parallel part is
linearizable, so each one is checked until an order matches) and on a parallel part that is
not (every order must be ruled out): interleavings checked per second, and how the cost grows
with the number of branches N and the steps per branch k.

Run from anywhere:  python bench/races.py [--seeds 5] [--concurrency 2] [--part 1|2|both]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mbtspec import check  # noqa: E402

SPEC = REPO / "bench" / "mutants" / "races.yaml"
_CANDIDATE = '  candidate: {app: "bench.mutants.service:correct"}\n'
_RUN = "  concurrency: {branches: 2, then: [list_books]}\n"


def spec_for(defect: str | None, folder: Path, run: str = _RUN) -> Path:
    text = SPEC.read_text(encoding="utf-8")
    assert _CANDIDATE in text and _RUN in text, "races.yaml changed: update bench/races.py"
    if defect is not None:
        text = text.replace(_CANDIDATE, _CANDIDATE.replace(":correct", f":defect_{defect}"))
    text = text.replace(_RUN, run).replace(
        "openapi: openapi.yaml", f"openapi: {SPEC.with_name('openapi.yaml').as_posix()}")
    path = folder / f"races-{defect or 'none'}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _range(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def part_one(seeds: int, concurrency: int, max_time: float, folder: Path) -> None:
    print(f"{'defect':<20} {'N':>2} {'found':>5}  {'time to shrunk race s':<22} "
          f"{'shapes (prefix + branches)':<30} flaky")
    for defect in ("stock_lost_update", "card_issued_twice", "last_copy_twice", None,
                   "noise"):
        for n in ([concurrency] if defect not in (None, "noise") else [concurrency, 4]):
            spec = spec_for(defect, folder)
            times, shapes, flaky, found = [], [], 0, 0
            for seed in range(seeds):
                started = time.perf_counter()
                outcome = check(spec, seed=seed, concurrency=n, max_time=max_time,
                                database=None)
                took = time.perf_counter() - started
                failure = outcome.result.failure
                if failure is None:
                    continue
                found += 1
                flaky += failure.flaky
                times.append(took)
                race = failure.race
                shapes.append(f"{race.prefix}+{'/'.join(str(len(b)) for b in race.branches)}"
                              if race else f"seq {len(failure.steps)}")
            print(f"{defect or 'reference':<20} {n:>2} {found}/{seeds:<3} {_range(times):<22} "
                  f"{' '.join(shapes):<30} {flaky}", flush=True)


def part_two(folder: Path) -> None:
    """The check's cost: a correct candidate for various N and k (each parallel part checked
    until an order matches), then a defect whose parallel parts fail (all orders ruled out)."""
    print(f"\n{'candidate':<18} {'N':>2} {'k':>2} {'orders':>7} {'parts':>6} "
          f"{'checked':>8} {'per part':>8} {'checks/s':>9} {'ms/part':>8}")
    for defect, n, k in [(None, 2, 1), (None, 2, 2), (None, 2, 3), (None, 3, 1),
                         (None, 3, 2), (None, 4, 1), (None, 4, 2), (None, 5, 1),
                         ("card_issued_twice", 3, 2), ("card_issued_twice", 4, 2)]:
        run = f"  concurrency: {{branches: {n}, branch_steps: {k}, then: [list_books]}}\n"
        spec = spec_for(defect, folder, run)
        outcome = check(spec, seed=1, sequences=60, database=None, shrink_time=20)
        stats = outcome.result.stats
        from mbtspec.spec.model import interleavings
        per = stats.interleavings / max(stats.parallel, 1)
        rate = stats.interleavings / stats.check_seconds if stats.check_seconds else 0.0
        ms = 1000 * stats.check_seconds / max(stats.parallel, 1)
        print(f"{defect or 'reference':<18} {n:>2} {k:>2} {interleavings(n, k):>7} "
              f"{stats.parallel:>6} {stats.interleavings:>8} {per:>8.1f} {rate:>9.0f} "
              f"{ms:>8.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--max-time", type=float, default=60.0)
    parser.add_argument("--part", choices=["1", "2", "both"], default="both")
    args = parser.parse_args()
    import os
    os.chdir(REPO)  # (the apps are imported from the repository root)
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("1", "both"):
            part_one(args.seeds, args.concurrency, args.max_time, Path(tmp))
        if args.part in ("2", "both"):
            part_two(Path(tmp))


if __name__ == "__main__":
    main()
