"""Races on the mutant benchmark: found, shrunk, timed; and what the interleaving check costs.

Part 1: for each race defect of bench/mutants/service.py (and the correct service and the
noise variant, which must never be reported), runs `mbtspec.check` on bench/mutants/races.yaml
with `--concurrency N`, several seeds, no database; prints found (x/N), the median time to
the shrunk race and its range, and the shrunk shape (prefix calls + calls per branch).

Part 2: the cost of the interleaving check on a correct candidate (every parallel part is
linearizable, so each one is checked until an order matches): orders run per part,
interleavings checked per second, milliseconds per part, for N branches of k steps.

Part 3: the worst case, a parallel part that fails only at the read back after it (no order
can be pruned before its last step, so every order is run): how the cost grows with N and k.

Run from anywhere:  python bench/races.py [--seeds 5] [--concurrency 2] [--part 1|2|3|all]
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
    text = text.replace(_RUN, run)
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


_WORST = """\
version: 1
targets:
  model: {app: "bench.mutants.service:model"}
  candidate: {app: "bench.mutants.service:defect_borrow_keeps_stock"}
reset: [{request: POST /__reset, status: 204}]
actions:
  add_member: {request: POST /members, body: {name: Ann}, store: {members: response.body.id}}
  add_book:
    request: POST /books
    body: {title: a, copies: 5}
    store: {books: response.body.id}
  borrow:
    request: POST /loans
    body: {memberId: {pick: members}, bookId: {pick: books}}
    store: {loans: response.body.id}
    when: size(members) > 3 && size(books) > 0
  list_books: {request: GET /books}
compare: {ignore: [body.createdAt, "body.items[*].createdAt"]}
run:
  concurrency: {branches: %d, branch_steps: %d, prefix_steps: 8, then: [list_books]}
"""


def part_three(folder: Path) -> None:
    """The worst case: a parallel part of borrows whose answers match in every order, and
    a read back after it that matches in none (a defect that keeps the stock), so that no
    order is pruned before its last step: every order is run."""
    print(f"\n{'worst case':<12} {'N':>2} {'k':>2} {'shape':>7} {'orders':>7} {'tried':>6} "
          f"{'all checks':>10} {'seconds':>8} {'checks/s':>9} {'calls/order':>11} "
          f"{'est. s':>7}")
    spec = folder / "worst.yaml"
    for n, k in [(2, 1), (2, 2), (2, 3), (3, 1), (3, 2), (4, 1), (2, 4), (4, 2), (5, 1)]:
        spec.write_text(_WORST % (n, k), encoding="utf-8")
        outcome = check(spec, seed=1, sequences=300, database=None, shrink_time=0.001)
        failure = outcome.result.failure
        stats = outcome.result.stats
        if failure is None or failure.race is None:
            print(f"{'':<12} {n:>2} {k:>2} no failing parallel part in 300 sequences")
            continue
        race = failure.race
        calls = race.prefix + sum(len(b) for b in race.branches) + len(race.then)
        rate = stats.interleavings / stats.check_seconds if stats.check_seconds else 0.0
        shape = "/".join(str(len(b)) for b in race.branches)
        print(f"{'':<12} {n:>2} {k:>2} {shape:>7} {race.total:>7} {race.tried:>6} "
              f"{stats.interleavings:>10} {stats.check_seconds:>8.2f} {rate:>9.0f} "
              f"{calls:>11} {race.tried / rate if rate else 0:>7.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--max-time", type=float, default=60.0)
    parser.add_argument("--part", choices=["1", "2", "3", "all"], default="all")
    args = parser.parse_args()
    import os
    os.chdir(REPO)  # (the apps are imported from the repository root)
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("1", "all"):
            part_one(args.seeds, args.concurrency, args.max_time, Path(tmp))
        if args.part in ("2", "all"):
            part_two(Path(tmp))
        if args.part in ("3", "all"):
            part_three(Path(tmp))


if __name__ == "__main__":
    main()
