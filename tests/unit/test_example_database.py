"""Hypothesis' directory database, written by several worker processes at once (``--workers``
gives each part a folder of its own, but two CI jobs or two runs of the same part on one
machine may share one): every example saved is kept whole, and a reader never sees a part
of one. (Hypothesis writes each example to a temporary file and renames it into place.)"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from hypothesis.database import DirectoryBasedExampleDatabase

KEY = b"spec-part"


def _write(folder: str, worker: int) -> None:
    database = DirectoryBasedExampleDatabase(folder)
    for number in range(150):
        value = f"{worker}:{number}:".encode() * (1 + number % 40)
        database.save(KEY, value)
        database.save(KEY, b"shared")  # (the same example, saved by every worker)
        if number % 10 == 0:
            for seen in database.fetch(KEY):  # (reading while the others write)
                assert seen == b"shared" or seen.endswith(b":")
        if number % 3 == 0:
            database.delete(KEY, value)


def test_several_processes_write_one_database(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write, args=(str(tmp_path), w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    kept = set(DirectoryBasedExampleDatabase(str(tmp_path)).fetch(KEY))
    expected = {f"{w}:{n}:".encode() * (1 + n % 40) for w in range(4) for n in range(150)
                if n % 3} | {b"shared"}
    assert kept == expected
