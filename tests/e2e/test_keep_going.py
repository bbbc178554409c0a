"""--keep-going: every distinct failure of a run, each shrunk to its minimal sequence."""

from __future__ import annotations

from pathlib import Path

from mbtspec import check
from mbtspec.executor import signature
from tests.e2e.conftest import orders_spec

SEVERAL = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.fragile:several}
"""


def write(tmp_path: Path) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(SEVERAL))
    return spec


def test_keep_going_reports_each_distinct_failure_at_its_minimal_length(tmp_path: Path) -> None:
    outcome = check(write(tmp_path), seed=1, sequences=120, keep_going=True, database=None,
                    failures=tmp_path / "failures")
    failures = outcome.result.failures
    shapes = sorted((len(f.steps), f.steps[-1].action) for f in failures)
    assert shapes == [(1, "create"), (3, "close"), (4, "list")], shapes
    assert len({signature(f.steps[-1]) for f in failures}) == 3
    assert all(f.minimal for f in failures)
    assert sum(f.variants for f in failures) > 0  # seen again, counted, not reported again
    assert outcome.result.failure == failures[0]
    assert len(outcome.replay_files) == 3 and all(p.exists() for p in outcome.replay_files)


def test_without_keep_going_the_run_stops_at_the_first(tmp_path: Path) -> None:
    result = check(write(tmp_path), seed=1, sequences=60, database=None).result
    assert len(result.failures) == 1 and result.failure == result.failures[0]


def test_saved_failures_that_still_show_are_known_to_the_search(tmp_path: Path) -> None:
    folder = tmp_path / "failures"
    first = check(write(tmp_path), seed=1, sequences=120, database=None, failures=folder)
    assert first.replay_file is not None
    again = check(write(tmp_path), seed=2, sequences=120, keep_going=True, database=None,
                  failures=folder)
    failures = again.result.failures
    assert failures[0].source == str(first.replay_file)  # the saved one, first
    # the search went on past it, and did not report it a second time
    assert len({signature(f.steps[-1]) for f in failures}) == len(failures) >= 2
