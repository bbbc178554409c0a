"""One worker of ``--workers``: ``python -m mbtspec.parallel._worker JOB``.

``JOB`` is a pickle file of (spec path, part index, part count, check options, database,
result path). The worker runs ``check`` on its part and writes ("result", CheckResult without
its plan), ("error", MbtspecError) or ("internal", one line, traceback) to the result path
(whole, or not at all); stopped by SIGTERM or SIGINT, it stops its targets and writes
("interrupted", None). While it runs, it keeps its progress in ``progress-<index>`` beside
the result path (``sequences calls failing``), rewritten whole at most ``PROGRESS_EVERY``.
Every part uses the database (a folder of its own in it) and replays the saved failures
that are its own.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from mbtspec._check import check
from mbtspec.errors import MbtspecError, RunError, internal_error_message
from mbtspec.executor import Progress
from mbtspec.parallel._shards import Shard

#: Seconds between two rewrites of a worker's progress file (the parent polls at 20 Hz).
PROGRESS_EVERY = 0.1


def progress_path(result_path: str | Path, index: int) -> Path:
    """Where worker ``index`` keeps its progress (read by ``_workers``)."""
    return Path(result_path).with_name(f"progress-{index}")


def progress_writer(path: Path) -> Callable[[Progress], None]:
    """An ``on_progress`` that writes the counts to ``path`` (a temporary file renamed over
    it: a reader sees the old line or the new one, never half of one), at most every
    ``PROGRESS_EVERY`` seconds: a few tens of microseconds each time."""
    partial = path.with_name(path.name + ".part")
    last = 0.0

    def on_progress(update: Progress) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < PROGRESS_EVERY:
            return
        last = now
        try:
            partial.write_text(f"{update.sequences} {update.calls} {update.failures}\n")
            os.replace(partial, path)
        except OSError:  # (progress is for show: the run goes on without it)
            pass

    return on_progress


def _worker_index(result_path: str) -> int:
    """This worker's number (``result-<index>.pickle``): with --shard, the part it runs is
    numbered otherwise (``Shard.worker``)."""
    return int(Path(result_path).stem.rpartition("-")[2])


def main(job: Path) -> int:
    spec_path, index, count, options, database, result_path = pickle.loads(job.read_bytes())
    try:
        outcome = check(spec_path, shard=Shard(index, count), database=database,
                        on_progress=progress_writer(progress_path(
                            result_path, _worker_index(result_path))),
                        **options)
        # (the plan holds compiled expressions, which do not cross processes)
        message: tuple[str, Any] = (
            "result", replace(outcome, plan=None))  # type: ignore[arg-type]
    except KeyboardInterrupt:
        message = ("interrupted", None)
    except MbtspecError as err:
        message = ("error", err)
    except Exception as err:  # an internal error: said as one, with what it was
        message = ("internal", (internal_error_message(err),
                                "".join(traceback.format_exception(err))))
    try:
        data = pickle.dumps(message)
        pickle.loads(data)
    except Exception as err:
        data = pickle.dumps(("error", RunError(f"worker {index}: {message[1]} ({err})")))
    partial = Path(f"{result_path}.part")
    partial.write_bytes(data)
    os.replace(partial, result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
