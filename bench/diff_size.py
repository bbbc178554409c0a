"""Is comparing two responses linear in their size? Time and memory per MB of body.

Two JSON bodies of N MB (a list of small objects) that differ in every element are compared
as the judge of a run compares them (every difference found and counted, the first 1,000
kept), as ordered lists and (``--unordered``) as unordered ones; each measurement runs in a
fresh process, three times per size, and the median is printed with the range, the time per
MB and the peak memory the comparison added to the process (the two parsed bodies are in
"peak MB", not in "added MB").

Run from the repository root:  python bench/diff_size.py [--sizes 1 10 50] [--unordered]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def body(megabytes: float, shift: int) -> bytes:
    """About ``megabytes`` MB of JSON: a list of objects whose ``score`` depends on ``shift``."""
    item = '{"id":%d,"name":"item %d","tags":["a","b"],"score":%d}'
    count = int(megabytes * 1_000_000 // len(item % (100000, 100000, 100000)))
    return ("[" + ",".join(item % (i, i, i + shift) for i in range(count)) + "]").encode()


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 1e6


def one(megabytes: float, unordered: bool) -> dict[str, float]:
    """Measure once, in this process."""
    from itertools import islice

    from mbtspec.compare import compare_responses
    from mbtspec.executor.records import Response
    from mbtspec.spec._paths import parse_path
    from mbtspec.spec.model import CompareRules

    headers = (("content-type", "application/json"),)
    model = Response(200, headers, json.loads(body(megabytes, 0)))
    candidate = Response(200, headers, json.loads(body(megabytes, 1)))
    rules = CompareRules(unordered=(parse_path("body"),) if unordered else ())
    before = _rss_mb()
    started = time.perf_counter()
    try:  # as the judge does, when it can (iter_differences is new with the 1,000 limit)
        from mbtspec.compare._diff import iter_differences
    except ImportError:
        differences = len(compare_responses(model, candidate, rules, {(-1, -2)}))
    else:
        found = iter_differences(model, candidate, rules, {(-1, -2)})
        kept = list(islice(found, 1000))
        differences = len(kept) + sum(1 for _ in found)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000  # kB on Linux
    return {"seconds": seconds, "added_mb": max(peak - before, 0.0), "peak_mb": peak,
            "differences": differences}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 10, 50])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--unordered", action="store_true")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one is not None:
        print(json.dumps(one(options.one, options.unordered)))
        return
    mode = "unordered" if options.unordered else "ordered"
    print(f"compare_responses on two JSON bodies that differ in every element ({mode} lists)")
    print(f"{'MB':>5} {'median s':>9} {'range s':>15} {'s per MB':>9} {'added MB':>9} "
          f"{'peak MB':>8} {'differences':>12}")
    for size in options.sizes:
        runs = []
        for _ in range(options.runs):
            done = subprocess.run(
                [sys.executable, __file__, "--one", str(size),
                 *(["--unordered"] if options.unordered else [])],
                capture_output=True, text=True, check=True, cwd=REPO)
            runs.append(json.loads(done.stdout))
        seconds = [r["seconds"] for r in runs]
        median = statistics.median(seconds)
        print(f"{size:5g} {median:9.2f} {min(seconds):7.2f}-{max(seconds):<7.2f} "
              f"{median / size:9.3f} {statistics.median(r['added_mb'] for r in runs):9.0f} "
              f"{statistics.median(r['peak_mb'] for r in runs):8.0f} "
              f"{int(runs[0]['differences']):12d}")


if __name__ == "__main__":
    main()
