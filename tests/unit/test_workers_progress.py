"""The pieces of ``--workers`` that need no process: the progress channel (each worker's
file, summed by the parent), the progress line's words, and the stats of the parts summed."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

from mbtspec.cli import _doing
from mbtspec.executor import Progress, Stats
from mbtspec.parallel._merge import _merge_stats
from mbtspec.parallel._worker import PROGRESS_EVERY, progress_path, progress_writer
from mbtspec.parallel._workers import WorkersProgress, _progress, add_stats


def test_a_worker_writes_its_progress_at_most_every_tenth_of_a_second(tmp_path: Path) -> None:
    path = progress_path(tmp_path / "result-2.pickle", 2)
    write = progress_writer(path)
    write(Progress(3, 40, 0, 1.0))
    assert path.read_text() == "3 40 0\n"
    write(Progress(4, 50, 1, 1.0))  # (too soon: not written)
    assert path.read_text() == "3 40 0\n"
    time.sleep(PROGRESS_EVERY)
    write(Progress(5, 60, 2, 1.0))
    assert path.read_text() == "5 60 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress-2"]


def test_a_reader_never_sees_half_a_line(tmp_path: Path) -> None:
    path = progress_path(tmp_path / "result", 1)
    stop = threading.Event()

    def writer() -> None:
        count = 0
        while not stop.is_set():
            progress_writer(path)(Progress(count, count * 1000, count, 0.0))
            count += 1

    thread = threading.Thread(target=writer)
    thread.start()
    seen: set[int] = set()
    deadline = time.monotonic() + 10
    try:
        while len(seen) < 20 and time.monotonic() < deadline:
            if path.exists():
                numbers = [int(n) for n in path.read_text().split()]
                assert len(numbers) == 3 and numbers[1] == numbers[0] * 1000
                seen.add(numbers[0])
    finally:
        stop.set()
        thread.join()
    assert len(seen) >= 20


def test_the_parent_sums_the_workers_and_names_those_shrinking(tmp_path: Path) -> None:
    for index, line in ((1, "10 200 0\n"), (2, "7 150 3\n"), (3, "broken")):
        progress_path(tmp_path / "result", index).write_text(line)
    summed = _progress(tmp_path, 4, {})  # (worker 4 has not written yet; 3's file is bad)
    assert summed == WorkersProgress(17, 350, 3, (2,))


def test_the_progress_line_says_which_workers_shrink() -> None:
    assert _doing(Progress(5, 50, 0, 1.0)) == "checking"
    assert _doing(Progress(5, 50, 2, 1.0)) == "shrinking"
    assert _doing(WorkersProgress(5, 50, 0)) == "checking"
    assert _doing(WorkersProgress(5, 50, 2, (2,))) == "shrinking (worker 2)"
    assert _doing(WorkersProgress(5, 50, 2, (1, 3))) == "shrinking (workers 1, 3)"


def test_every_count_of_the_parts_is_summed() -> None:
    numbers = [f.name for f in dataclasses.fields(Stats)
               if f.type in ("int", "float")]
    first = Stats(**{name: 1 for name in numbers})
    second = Stats(**{name: 2 for name in numbers})
    total = Stats()
    add_stats(total, first)
    add_stats(total, second)
    assert {name: getattr(total, name) for name in numbers} == {name: 3 for name in numbers}


def test_merged_reports_sum_the_race_counts_and_reset_time() -> None:
    parts = [{"sequences": 3, "steps": 9, "parallel_parts": 2, "interleavings_checked": 4,
              "interleaving_check_s": 0.25, "reset_ms": 10.5},
             {"sequences": 1, "steps": 2, "parallel_parts": 5, "interleavings_checked": 7,
              "interleaving_check_s": 0.5, "reset_ms": 1.25}]
    total = _merge_stats(parts)
    assert (total["parallel_parts"], total["interleavings_checked"],
            total["interleaving_check_s"], total["reset_ms"]) == (7, 11, 0.75, 11.75)
