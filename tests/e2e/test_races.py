"""Races found end to end: the race defects of the mutant benchmark's service (in-process
and as a real server), the correct service never reported, single-target mode, and the
report of a race on the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.races import spec_for
from mbtspec import check
from tests.e2e.conftest import REPO, run_cli


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # (the apps are imported from the repository root)


@pytest.mark.parametrize("defect", ["card_issued_twice", "last_copy_twice",
                                    "stock_lost_update"])
def test_a_race_is_found_and_shrunk_to_two_branches_of_one_step(defect: str,
                                                                 tmp_path: Path) -> None:
    outcome = check(spec_for(defect, tmp_path), seed=3, database=None)
    failure = outcome.result.failure
    assert failure is not None and failure.race is not None, defect
    race = failure.race
    assert [len(b) for b in race.branches] == [1, 1]
    assert failure.minimal and not failure.flaky
    assert race.tried == race.total == 2  # both orders ruled out on the model
    # the prefix holds what the race needs, and no more: a member (and a book; for the last
    # copy, a book of one copy or a borrow that leaves one: see bench/mutants/README.md)
    needs = {"add_member", "add_book"} | ({"borrow"} if defect == "last_copy_twice" else set())
    assert {s.action for s in failure.steps[:race.prefix]} <= needs
    assert "not linearizable" in failure.findings[0].title


def test_the_correct_service_is_never_reported(tmp_path: Path) -> None:
    spec = spec_for(None, tmp_path)
    for concurrency in (2, 4):
        result = check(spec, seed=1, sequences=60, concurrency=concurrency,
                       database=None).result
        assert result.failure is None
        assert result.stats.parallel >= 50  # (the others: drawn again by Hypothesis)
        assert result.stats.interleavings >= result.stats.parallel


def test_single_target_mode_checks_every_answer_and_the_then_steps(tmp_path: Path) -> None:
    spec = spec_for("last_copy_twice", tmp_path)
    text = spec.read_text().replace('  model: {app: "bench.mutants.service:model"}\n', "")
    spec.write_text(text.replace("invariants:\n", (
        "invariants:\n"
        "  - name: no book lent more often than it has copies\n"
        "    check: candidate.body.items.all(b, b.available >= 0)\n"
        "    when: action == 'list_books'\n")))
    for seed in range(5):  # (the last copy of a book must be borrowed twice at once)
        failure = check(spec, seed=seed, database=None).result.failure
        if failure is not None:
            break
    assert failure is not None and failure.race is not None
    assert failure.kind == "invariant"
    assert failure.findings[0].check == "no book lent more often than it has copies"
    assert failure.steps[-1].action == "list_books"  # the then step read -1 copies back
    assert failure.race.tried == 0  # no model: no order to try


def test_the_cli_shows_the_branches_as_columns(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = run_cli("check", str(spec_for("card_issued_twice", tmp_path)), "--seed", "1",
                   "--no-database", "--no-color", "--concurrency", "2",
                   "--report-json", str(report), "--html", str(tmp_path / "r.html"))
    assert done.code == 1, done.text
    assert "✗ RACE: DIFFERENCE after" in done.out
    assert "Parallel part (after step 1" in done.out
    assert "branch 1" in done.out and "branch 2" in done.out
    assert "2 of 2 orders of the parallel steps run on the model" in done.out
    assert "shrunk to 1 call(s) + 2 concurrent branches of 1 + 1 call(s)" in done.out
    data = json.loads(report.read_text())
    race = data["failure"]["race"]
    assert race["prefix"] == 1 and len(race["branches"]) == 2 and race["orders_tried"] == 2
    assert sorted(race["closest"]) == ["1.1", "2.1"]
    assert "branch 2" in (tmp_path / "r.html").read_text()


def test_a_race_on_a_real_server_with_one_connection_per_branch(tmp_path: Path) -> None:
    spec = spec_for("card_issued_twice", tmp_path)
    text = spec.read_text().replace(
        '  candidate: {app: "bench.mutants.service:defect_card_issued_twice"}\n',
        '  candidate:\n'
        '    command: ["${python}", -m, uvicorn, --factory, "bench.mutants.service:from_env",'
        ' --port, "${port}", --log-level, warning]\n'
        '    env: {MUTANT: card_issued_twice, MUTANT_PAUSE: "0.02"}\n'
        '    ready: {path: /books, status: 200, timeout: 20}\n')
    spec.write_text(text)
    os.environ.pop("MUTANT_PAUSE", None)
    failure = check(spec, seed=1, database=None, max_time=60).result.failure
    assert failure is not None and failure.race is not None
    assert [len(b) for b in failure.race.branches] == [1, 1]
    assert {s.action for s in (*failure.race.branches[0], *failure.race.branches[1])} == \
        {"issue_card"}


def test_ids_minted_concurrently_are_per_target_values(tmp_path: Path) -> None:
    from tests.e2e.conftest import orders_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(
        '  model: {app: "tests.apps.variants:model"}\n'
        '  candidate: {app: "tests.apps.variants:minted"}',  # ids from 1001, list reversed
        run="run:\n  concurrency: {branches: 3, branch_steps: 2, then: [list]}"))
    result = check(spec, seed=4, sequences=40, database=None).result
    assert result.failure is None, result.failure
    assert result.stats.parallel >= 30
    creates = result.stats.actions["create"].statuses["candidate"]["201"]
    assert creates > result.stats.parallel  # most parallel parts created orders at once


def test_a_pick_that_fell_back_to_its_or_value_is_sent_the_same_in_every_order(
        tmp_path: Path) -> None:
    # The benchmark's own spec: get_book picks a book, or an unknown id when none is stored.
    # With add_book || get_book(1) after an empty prefix, get_book sent /books/1 (its 'or:'
    # value); in the order add_book -> get_book, the model must be sent /books/1 too, not a
    # pick of the book just added (that was a false "not linearizable").
    from bench.mutants.runner import spec_for as sequential_spec

    result = check(sequential_spec(None, tmp_path), seed=0, concurrency=2, sequences=150,
                   database=None).result  # (seed 0 met it in its first parallel parts)
    assert result.failure is None, result.failure.findings
    assert result.stats.parallel >= 100
