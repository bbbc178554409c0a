"""A flaky failure is replayed several times: "still flaky" or "not seen in N replays",
never a plain "gone" after one clean replay."""

from __future__ import annotations

from pathlib import Path

import yaml

from mbtspec import check
from tests.e2e.conftest import orders_spec, run_cli

TARGETS = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.%s}
"""


def saved_flaky_failure(tmp_path: Path) -> tuple[Path, Path]:
    """A replay file of close_twice's failure, marked flaky (as check saves one that did not
    show again); returns the spec and the file."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(TARGETS % "variants:close_twice"))
    outcome = check(spec, seed=3, database=None, failures=tmp_path / "failures")
    assert outcome.replay_file is not None
    data = yaml.safe_load(outcome.replay_file.read_text())
    data["flaky"] = True
    outcome.replay_file.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec, outcome.replay_file


def use(spec: Path, candidate: str) -> None:
    spec.write_text(orders_spec(TARGETS % candidate))


def test_a_flaky_failure_that_shows_sometimes_is_still_flaky(tmp_path: Path) -> None:
    spec, file = saved_flaky_failure(tmp_path)
    use(spec, "fragile:third_from_first")  # shows in replays 1 and 4 of 5
    done = run_cli("replay", str(file), "--no-color")
    assert done.code == 1, done.text
    assert "still shows in 2 of 5 replays: it is still flaky" in done.out


def test_a_flaky_failure_not_seen_is_never_called_gone(tmp_path: Path) -> None:
    spec, file = saved_flaky_failure(tmp_path)
    use(spec, "variants:minted")  # fixed
    done = run_cli("replay", str(file), "--no-color", "--times", "3")
    assert done.code == 0, done.text
    assert "was not seen in 3 replay(s); it may still be there" in done.out
    assert "gone" not in done.out


def test_times_counts_a_steady_failure_in_every_replay(tmp_path: Path) -> None:
    spec, file = saved_flaky_failure(tmp_path)
    use(spec, "variants:close_twice")
    done = run_cli("replay", str(file), "--no-color", "--times", "3")
    assert done.code == 1, done.text
    assert "still shows in all 3 replays" in done.out


def test_check_replays_a_saved_flaky_failure_until_it_shows(tmp_path: Path) -> None:
    spec, file = saved_flaky_failure(tmp_path)
    use(spec, "fragile:third_from_third")  # hides in replays 1 and 2, shows in 3
    outcome = check(spec, seed=3, database=None, failures=tmp_path / "failures")
    failure = outcome.result.failure
    assert failure is not None and failure.flaky and failure.source == str(file)
    assert outcome.saved == ((file, "still fails (in replay 3 of up to 5)"),)
    assert file.exists()


def test_check_says_a_flaky_failure_not_seen_may_still_be_there(tmp_path: Path) -> None:
    spec, file = saved_flaky_failure(tmp_path)
    use(spec, "variants:minted")
    outcome = check(spec, seed=3, sequences=5, database=None, failures=tmp_path / "failures")
    assert outcome.result.failure is None
    [(path, what)] = outcome.saved
    assert path == file and what.startswith("not seen in 5 replays; it was flaky")
