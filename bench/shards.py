"""``--shard i/n``: parts disjoint by sequence, what that costs, and whether a split run still
finds what one run finds.

On the mutant benchmark's spec (bench/mutants/spec.yaml; in-process apps, no database):
  1. overlap: a run of --sequences S cut in 4 parts (sequences of the spec's 30 steps, and of
     3: a small space), before (each part its own seed and its
     share, nothing dropped: what main did; emulated by turning the partition off) and
     after: sequences of the random search (as their requests) that ran in two or more
     parts, and the runs of those, per seed;
  2. cost, for n = 2, 4, 8 (correct candidate): sequences drawn and dropped because they are
     another part's, the calls their first steps made before that showed (wasted), as a
     share of all calls, and the sequences each part ran against its share;
  3. mutants: for each defect and seed, found by one run of M sequences, and by any part of
     the same run cut in 2 and in 4 parts (shrinking cut to a minimum: finding is the
     question).
Figures are medians with ranges over the seeds.

Run from anywhere:  python bench/shards.py [--sequences 200] [--seeds 5] [--mutant-seeds 3]
                   [--mutant-sequences 100] [--skip-mutants]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.mutants.defects import DEFECTS  # noqa: E402
from bench.mutants.runner import spec_for  # noqa: E402
from mbtspec._check import CheckResult, check  # noqa: E402
from mbtspec.executor._runtime import Runtime  # noqa: E402
from mbtspec.parallel import Shard  # noqa: E402

Sequence = tuple[tuple[str, str, str, str], ...]


@contextmanager
def recording(into: list[Sequence]) -> Iterator[None]:
    """Record every sequence of the random search a run completes (dropped ones left out)."""
    original = Runtime.end_sequence

    def end_sequence(self: Runtime) -> None:
        if self.trace and self.open == "search" and not getattr(self.gate, "dropped", False):
            into.append(tuple((s.action, s.request(self.primary).method,
                               s.request(self.primary).path,
                               repr(s.request(self.primary).body)) for s in self.trace))
        original(self)

    Runtime.end_sequence = end_sequence  # type: ignore[method-assign]
    try:
        yield
    finally:
        Runtime.end_sequence = original  # type: ignore[method-assign]


@contextmanager
def partition(on: bool) -> Iterator[None]:
    """Off: each part runs its share with its own seed and drops nothing (main before)."""
    original = Shard.part
    if not on:
        Shard.part = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        Shard.part = original  # type: ignore[method-assign]


def run_parts(spec: Path, count: int, seed: int, sequences: int, **options: Any
              ) -> list[tuple[list[Sequence], CheckResult]]:
    parts = []
    for index in range(1, count + 1):
        ran: list[Sequence] = []
        with recording(ran):
            outcome = check(spec, shard=Shard(index, count), seed=seed, sequences=sequences,
                            database=None, **options)
        parts.append((ran, outcome))
    return parts


def spread(values: list[float], digits: int = 1) -> str:
    if not values:
        return "-"
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


def overlap(spec: Path, seeds: int, sequences: int, steps: int | None) -> None:
    print(f"1. overlap: {sequences} sequences of {steps or 'the spec default'} steps cut in "
          f"4 parts, seeds 0-{seeds - 1}")
    for on in (False, True):
        shared, runs = [], []
        for seed in range(seeds):
            with partition(on):
                parts = run_parts(spec, 4, seed, sequences, steps=steps)
            owners: dict[Sequence, set[int]] = {}
            count: Counter[Sequence] = Counter()
            for index, (ran, _) in enumerate(parts):
                for sequence in ran:
                    owners.setdefault(sequence, set()).add(index)
                    count[sequence] += 1
            twice = [s for s, o in owners.items() if len(o) > 1]
            shared.append(float(len(twice)))
            runs.append(float(sum(count[s] for s in twice)))
        label = "after (by sequence)" if on else "before (own seeds)"
        print(f"   {label:<22} sequences in 2+ parts {spread(shared)}; their runs "
              f"{spread(runs)}")


def cost(spec: Path, seeds: int, sequences: int) -> None:
    print(f"2. cost: {sequences} sequences cut in n parts, seeds 0-{seeds - 1}")
    for count in (2, 4, 8):
        dropped, wasted, ran_share, warned = [], [], [], 0
        for seed in range(seeds):
            parts = run_parts(spec, count, seed, sequences)
            stats = [o.result.stats for _, o in parts]
            dropped.append(float(sum(s.elsewhere for s in stats)))
            wasted.append(100.0 * sum(s.elsewhere_calls for s in stats)
                          / max(sum(s.calls for s in stats), 1))
            ran_share += [len(r) / Shard(i + 1, count).sequences(sequences)
                          for i, (r, _) in enumerate(parts)]
            warned += sum(bool(o.result.warnings) for _, o in parts)
        print(f"   n={count}: dropped sequences {spread(dropped, 0)}; calls wasted "
              f"{spread(wasted)} % of all calls; sequences run / share per part "
              f"{spread(ran_share, 2)}; parts that warned {warned}")


def mutants(folder: Path, seeds: int, sequences: int) -> None:
    print(f"3. mutants: {sequences} sequences, seeds 0-{seeds - 1}: found by one run / by "
          "any part of 2 / of 4")
    totals = Counter[str]()
    for defect in DEFECTS:
        if defect.noise:
            continue
        spec = spec_for(defect.name, folder)
        found = {}
        for count in (1, 2, 4):
            hits = 0
            for seed in range(seeds):
                if count == 1:
                    outcome = check(spec, seed=seed, sequences=sequences, shrink_time=0.1,
                                    database=None)
                    hits += outcome.result.failure is not None
                    continue
                parts = run_parts(spec, count, seed, sequences, shrink_time=0.1)
                hits += any(o.result.failure is not None for _, o in parts)
            found[count] = hits
            totals[str(count)] += hits
        print(f"   {defect.name:<22} {found[1]}/{seeds}  {found[2]}/{seeds}  {found[4]}/{seeds}",
              flush=True)
    print(f"   in all: {totals['1']}  {totals['2']}  {totals['4']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--mutant-seeds", type=int, default=3)
    parser.add_argument("--mutant-sequences", type=int, default=100)
    parser.add_argument("--skip-mutants", action="store_true")
    parser.add_argument("--only-overlap", action="store_true")
    args = parser.parse_args()
    os.chdir(REPO)  # (the apps are imported from the repository root)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        correct = spec_for(None, folder)
        overlap(correct, args.seeds, args.sequences, None)
        overlap(correct, args.seeds, args.sequences, 3)  # (a small space: few steps)
        if args.only_overlap:
            return
        cost(correct, args.seeds, args.sequences)
        if not args.skip_mutants:
            mutants(folder, args.mutant_seeds, args.mutant_sequences)


if __name__ == "__main__":
    main()
