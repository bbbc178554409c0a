"""The mutant benchmark stays honest and fast: its spec lints clean, the correct candidate
passes, one defect of each quickly-found class is found with a fixed seed and shrunk to its
known minimal length, and the noise defect is never reported (though it is there to see)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.mutants.defects import BY_NAME
from bench.mutants.runner import SPEC, run_one, spec_for
from mbtspec import check, lint_spec


def test_spec_lints_clean() -> None:
    assert [str(problem) for problem in lint_spec(SPEC)] == []


def test_correct_candidate_passes(tmp_path: Path) -> None:
    result = check(spec_for(None, tmp_path), sequences=25, seed=11, database=None).result
    assert result.failure is None, result.failure
    # the stateful actions really ran and succeeded, so "no difference" means something
    for action, status in [("borrow", "201"), ("return_loan", "204"), ("delete_book", "204")]:
        assert result.stats.actions[action].statuses["candidate"][status] > 0, action


@pytest.mark.parametrize(("defect", "seed", "steps"), [
    ("unknown_book_500", 1, 10),  # one-call error
    ("copies_max_rejected", 2, 10),  # boundary value
    ("soft_delete", 0, 10),  # three-call state bug
    ("tenth_book", 1, None),  # ten calls
])
def test_defect_found_and_shrunk_to_its_known_minimal_length(tmp_path: Path, defect: str,
                                                            seed: int, steps: int | None) -> None:
    run = run_one(defect, seed, tmp_path, sequences=300, steps=steps)
    assert run.found, f"{defect} was not found"
    assert not run.flaky and not run.cut_short
    assert run.length == BY_NAME[defect].length
    assert run.expected_end, run.last_action


def test_noise_is_not_reported_but_is_there(tmp_path: Path) -> None:
    run = run_one("noise", 3, tmp_path, sequences=25)
    assert not run.found, run
    # Without the spec's ignore rule, the same run sees the noise: the check above means
    # something.
    spec = spec_for("noise", tmp_path)
    text = spec.read_text()
    ignore = '  ignore: [body.createdAt, "body.items[*].createdAt", "body[*].createdAt"]\n'
    assert ignore in text
    spec.write_text(text.replace(ignore, ""))
    failure = check(spec, sequences=25, seed=3, database=None).result.failure
    assert failure is not None and failure.kind == "difference"
    assert "createdAt" in failure.findings[0].differences[0].path


def test_candidate_as_a_real_server(tmp_path: Path) -> None:
    run = run_one("copies_max_rejected", 2, tmp_path, sequences=100, steps=10, server=True)
    assert run.found and run.length == 1 and run.last_action == "add_book"
