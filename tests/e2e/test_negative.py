"""Negative mode end to end: invalid inputs that the candidate accepts and the model rejects are
found only in negative (and all) mode, said to be invalid in every report, and the correct
candidate gives no false positive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mbtspec import check
from mbtspec.compiler import compile_plan
from mbtspec.executor._boundaries import setup_actions
from mbtspec.executor._runtime import Runtime
from mbtspec.spec import load_spec
from tests.e2e.conftest import REPO, orders_spec, run_cli


def targets(candidate: str) -> str:
    return (f"  model: {{app: tests.apps.variants:model}}\n"
            f"  candidate: {{app: tests.apps.variants:{candidate}}}\n")


def write(tmp_path: Path, candidate: str, run: str = "") -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(orders_spec(targets(candidate), run=run))
    return spec


def test_an_invalid_qty_accepted_is_found_only_in_negative_mode(tmp_path: Path) -> None:
    spec = write(tmp_path, "qty_zero_accepted")
    assert check(spec, seed=3, sequences=60, database=None).result.failure is None
    for mode in ("negative", "all"):
        result = check(spec, seed=3, sequences=60, mode=mode, database=None).result
        failure = result.failure
        assert failure is not None and failure.minimal
        assert [s.action for s in failure.steps] == ["create"]
        change = failure.steps[-1].change
        assert change is not None and change.text() == "body.qty: below minimum 1 (sent 0)"
        # found by the boundary pass, before any random sequence
        assert result.stats.boundary == result.stats.sequences - result.stats.shrinking


def test_values_past_the_boundaries_come_from_the_random_search(tmp_path: Path) -> None:
    spec = write(tmp_path, "qty_negative_accepted", run="run: {mode: negative}")
    result = check(spec, seed=3, sequences=200, database=None).result
    failure = result.failure
    assert failure is not None and len(failure.steps) == 1
    change = failure.steps[-1].change
    assert change is not None and change.place == "body.qty"
    assert isinstance(change.value, int) and change.value < 0
    assert result.stats.sequences > result.stats.boundary  # past the boundary pass


@pytest.mark.parametrize("mode", ["negative", "all"])
def test_the_correct_candidate_gives_no_false_positive(tmp_path: Path, mode: str) -> None:
    result = check(write(tmp_path, "minted"), seed=5, sequences=80, mode=mode,
                   database=None).result
    assert result.failure is None
    create = result.stats.actions["create"]
    assert 0 < create.invalid < create.runs  # invalid and valid creates, both compared
    assert result.stats.boundary == 14  # every boundary value of 'create', once


def test_setup_runs_what_stores_the_picked_values() -> None:
    spec = load_spec(REPO / "bench" / "mutants" / "spec.yaml")
    plan = compile_plan(spec, mode="negative")
    runtime = Runtime(plan, {}, lambda *args: (), lambda requests: {}, lambda: None)
    actions = {a.name: a for a in plan.actions}
    # (the variables needed in name order: books, then members)
    assert [a.name for a in setup_actions(runtime, actions["borrow"]) or []] == [
        "add_book", "add_member"]
    assert [a.name for a in setup_actions(runtime, actions["return_loan"]) or []] == [
        "add_book", "add_member", "borrow"]
    assert setup_actions(runtime, actions["add_book"]) == []


def test_every_report_says_what_was_invalid(tmp_path: Path) -> None:
    spec = write(tmp_path, "qty_zero_accepted")
    report = tmp_path / "report.json"
    html = tmp_path / "report.html"
    done = run_cli("check", str(spec), "--seed", "3", "--mode", "negative", "--no-color",
                   "--report-json", str(report), "--html", str(html), cwd=tmp_path,
                   env={"PYTHONPATH": str(REPO)})
    assert done.code == 1, done.text
    assert "invalid: body.qty: below minimum 1 (sent 0)" in done.out
    assert "Reproduce: mbtspec check" in done.out and "--mode negative" in done.out
    # the 10th boundary case of 'create' (the body's two, the item's six, qty 1, qty 0)
    assert "(10 boundary cases)" in done.out.splitlines()[-1]
    saved = json.loads(report.read_text())
    from jsonschema import Draft202012Validator

    Draft202012Validator(json.loads((REPO / "schemas" / "report.schema.json").read_text())
                         ).validate(saved)
    assert saved["mode"] == "negative"
    assert saved["failure"]["steps"][-1]["input"] == {
        "kind": "invalid", "place": "body.qty", "reason": "below minimum 1", "sent": 0,
        "text": "body.qty: below minimum 1 (sent 0)"}
    assert "body.qty: below minimum 1 (sent 0)" in html.read_text()
    replay_file = next((tmp_path / ".mbtspec" / "failures").glob("*.yaml"))
    assert yaml.safe_load(replay_file.read_text())["steps"][-1]["input"]["place"] == "body.qty"
    again = run_cli("replay", str(replay_file), "--no-color", cwd=tmp_path,
                    env={"PYTHONPATH": str(REPO)})
    assert again.code == 1, again.text
    assert "invalid: body.qty: below minimum 1 (sent 0)" in again.out


def test_verbose_lines_mark_invalid_calls(tmp_path: Path) -> None:
    done = run_cli("check", str(write(tmp_path, "minted")), "--seed", "1", "--sequences", "3",
                   "--mode", "negative", "-v", "--no-database", cwd=tmp_path,
                   env={"PYTHONPATH": str(REPO)})
    assert done.code == 0, done.text
    lines = done.out.splitlines()
    assert any("[boundary: body.item: at maxLength 20" in line for line in lines)
    assert any("[invalid: body: missing (required)]" in line for line in lines)
