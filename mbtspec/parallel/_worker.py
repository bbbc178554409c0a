"""One worker of ``--workers``: ``python -m mbtspec.parallel._worker JOB``.

``JOB`` is a pickle file of (spec path, part index, part count, check options, database,
result path). The worker runs ``check`` on its part and writes ("result", CheckResult without
its plan) or ("error", MbtspecError) to the result path (whole, or not at all); stopped by
SIGTERM or SIGINT, it stops its targets and writes ("interrupted", None). Every part uses
the database (a folder of its own in it) and replays the saved failures that are its own.
"""

from __future__ import annotations

import os
import pickle
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from mbtspec._check import check
from mbtspec.errors import MbtspecError, RunError
from mbtspec.parallel._shards import Shard


def main(job: Path) -> int:
    spec_path, index, count, options, database, result_path = pickle.loads(job.read_bytes())
    try:
        outcome = check(spec_path, shard=Shard(index, count), database=database, **options)
        # (the plan holds compiled expressions, which do not cross processes)
        message: tuple[str, Any] = (
            "result", replace(outcome, plan=None))  # type: ignore[arg-type]
    except KeyboardInterrupt:
        message = ("interrupted", None)
    except MbtspecError as err:
        message = ("error", err)
    except Exception as err:  # an internal error: said as one, with what it was
        message = ("error", RunError(f"worker {index}: {type(err).__name__}: {err}"))
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
