"""Bug-finding power on the mutant benchmark: each seeded defect of bench/mutants/, several seeds.

For every defect (bench/mutants/defects.py) and every seed, runs `mbtspec.check` on
bench/mutants/spec.yaml with the candidate carrying that one defect (no example database, no
saved failures; `--max-time` bounds the search, not the shrinking), then prints one row per
defect: found (x/N), median time to the first failing step, median time to the shrunk result
(and range), the shrunk length (median, min-max) against the known minimal length, and how many
shrunk sequences end with an action that can end the known minimal one. For the noise defect
the row counts false positives instead. A summary line follows.

Run from anywhere:  python bench/mutants.py [--seeds 5] [--defects a,b] [--max-time 60]
                   [--sequences N] [--swarm on|off] [--server]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.mutants.defects import BY_NAME, DEFECTS, Defect  # noqa: E402
from bench.mutants.runner import Run, run_one  # noqa: E402

HEADER = (f"{'defect':<22} {'class':<19} {'found':>5}  {'find s':>6}  "
          f"{'find+shrink s (range)':<22} {'length (range)':<14} {'known':>5}  ends as known")


def _range(values: list[float], digits: int) -> str:
    if not values:
        return "-"
    median = statistics.median(values)
    return (f"{median:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"
            if len(values) > 1 else f"{median:.{digits}f}")


def row(defect: Defect, runs: list[Run]) -> str:
    found = [run for run in runs if run.found]
    finds = [run.find_time for run in found if run.find_time is not None]
    totals = [run.total_time for run in found]
    lengths = [float(run.length) for run in found if run.length is not None]
    if defect.noise:
        return (f"{defect.name:<22} {defect.kind:<19} {'FP':>5}  false positives "
                f"{len(found)}/{len(runs)}"
                + "".join(f"; seed {r.seed}: {r.kind} after {r.length} call(s)" for r in found))
    flaky = sum(run.flaky for run in found)
    cut = sum(run.cut_short for run in found)
    extra = (f", {flaky} flaky" if flaky else "") + (f", {cut} cut short" if cut else "")
    ends = f"{sum(run.expected_end for run in found)}/{len(found)}" if found else "-"
    return (f"{defect.name:<22} {defect.kind:<19} {len(found)}/{len(runs):<3} "
            f"{f'{statistics.median(finds):.1f}' if finds else '-':>6}  "
            f"{_range(totals, 1):<22} {_range(lengths, 0):<14} {defect.length:>5}  "
            f"{ends}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--defects", default="", help="comma-separated names (default: all)")
    parser.add_argument("--max-time", type=float, default=60.0,
                        help="search budget of one run in seconds (default 60)")
    parser.add_argument("--sequences", type=int, default=100_000,
                        help="sequence budget of one run (default: high, max-time decides)")
    parser.add_argument("--steps", type=int, default=None, help="override run.steps")
    parser.add_argument("--swarm", choices=("on", "off"), default=None,
                        help="swarm testing on or off (default: the spec's run.swarm)")
    parser.add_argument("--mode", choices=("positive", "negative", "all"), default=None,
                        help="override run.mode (default: the spec's, positive)")
    parser.add_argument("--server", action="store_true",
                        help="run the candidate as a real uvicorn server (slower)")
    args = parser.parse_args()
    names = [name for name in args.defects.split(",") if name] or [d.name for d in DEFECTS]
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        parser.error(f"unknown defect(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    os.chdir(REPO)  # the apps are imported from the current directory
    rows: list[tuple[Defect, list[Run]]] = []
    with tempfile.TemporaryDirectory(prefix="mbtspec-mutants-") as folder:
        for name in names:
            runs = []
            for seed in range(args.seeds):
                run = run_one(name, seed, Path(folder), max_time=args.max_time,
                              sequences=args.sequences, steps=args.steps, server=args.server,
                              swarm=None if args.swarm is None else args.swarm == "on",
                              mode=args.mode)
                shown = (f"{run.kind} after {run.find_time or 0:.1f}s, shrunk to {run.length} "
                         f"calls in {run.total_time:.1f}s: {' '.join(run.actions)}"
                         if run.found else f"nothing in {run.total_time:.1f}s "
                         f"({run.sequences} sequences)")
                print(f"  {name} seed {seed}: {shown}", file=sys.stderr, flush=True)
                runs.append(run)
            rows.append((BY_NAME[name], runs))
    print(HEADER)
    for defect, runs in rows:
        print(row(defect, runs))
    real = [(d, runs) for d, runs in rows if not d.noise]
    found_any = sum(any(r.found for r in runs) for _, runs in real)
    found_all = sum(all(r.found for r in runs) for _, runs in real)
    minimal = sum(all(r.length == d.length for r in runs if r.found) and any(r.found for r in runs)
                  for d, runs in real)
    false_positives = sum(r.found for d, runs in rows if d.noise for r in runs)
    noise_runs = sum(len(runs) for d, runs in rows if d.noise)
    print(f"defects found: {found_any}/{len(real)} (in every seed: {found_all}); shrunk to the "
          f"known minimal length every time: {minimal}/{found_any}; false positives: "
          f"{false_positives}/{noise_runs} noise runs; "
          f"{args.seeds} seeds, max-time {args.max_time:g}s"
          f"{f', swarm {args.swarm}' if args.swarm else ''}"
          f"{f', mode {args.mode}' if args.mode else ''}"
          f"{', candidate as a uvicorn server' if args.server else ''}")


if __name__ == "__main__":
    main()
