"""--keep-going: every distinct failure of a run, each shrunk to its minimal sequence."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mbtspec import check
from mbtspec.executor import signature
from tests.e2e.conftest import REPO, orders_spec, run_cli
from tests.unit.test_several_failures import check_page

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


def test_a_shrink_time_that_runs_out_does_not_end_a_keep_going_run(tmp_path: Path) -> None:
    outcome = check(write(tmp_path), seed=1, sequences=120, keep_going=True, database=None,
                    shrink_time=0.001)
    failures = outcome.result.failures
    # (a failure of one step may be shrunk whole within the millisecond: it is then minimal)
    assert all((f.cut_short or f.minimal) and not f.ends_run for f in failures)
    assert sum(f.cut_short for f in failures) >= 2
    assert sorted(f.steps[-1].action for f in failures) == ["close", "create", "list"]


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


def test_every_report_lists_every_failure_and_each_replays(tmp_path: Path) -> None:
    """Through the command line: the terminal, JSON, JUnit and HTML reports of a keep-going
    run, ``mbtspec replay`` of each replay file, and a second run that replays them all."""
    xmlschema = pytest.importorskip("xmlschema", reason="pip install .[test]")
    spec = write(tmp_path)
    reports = {name: tmp_path / name for name in ("report.json", "junit.xml", "report.html")}
    done = run_cli("check", str(spec), "--keep-going", "--seed", "1", "--sequences", "120",
                   "--no-color", "--report-json", str(reports["report.json"]),
                   "--junit-xml", str(reports["junit.xml"]), "--html", str(reports["report.html"]),
                   cwd=tmp_path, env={"PYTHONPATH": str(REPO), "COLUMNS": "80"})
    assert done.code == 1, done.text
    lines = done.out.splitlines()
    assert lines[0].rstrip() == "3 distinct failures (replay files in .mbtspec/failures/)"
    ruled = [line for line in lines if line.startswith("Failure ")]
    assert all(len(line) <= 80 for line in lines[:6] + ruled)  # (Replay: lines are not cut)
    rules = [line.split(" ─")[0] for line in ruled]
    replays = [line.split()[3] for line in lines if line.startswith("Replay: ")]
    assert [rule.split(":")[0] for rule in rules] == [f"Failure {n} of 3" for n in (1, 2, 3)]
    assert len(set(replays)) == 3 and all((tmp_path / r).exists() for r in replays)
    assert "✗ 3 distinct failures found in" in done.out

    data = json.loads(reports["report.json"].read_text())
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    assert not list(Draft202012Validator(schema).iter_errors(data))
    assert [f["replay_file"] for f in data["failures"]] == replays
    assert [f"Failure {n} of 3: {f['action']}, {f['place']}"
            for n, f in enumerate(data["failures"], start=1)] == rules
    xmlschema.XMLSchema(str(REPO / "tests" / "data" / "junit.xsd")).validate(
        str(reports["junit.xml"]))
    cases = ET.parse(reports["junit.xml"]).getroot().iter("testcase")
    assert sum(1 for case in cases if case.find("failure") is not None) == 3
    page = check_page(reports["report.html"].read_text())
    assert page.links == [f"#failure-{n}" for n in (1, 1, 2, 2, 3, 3)]

    for replay_file, failure in zip(replays, data["failures"], strict=True):
        replayed = run_cli("replay", replay_file, "--no-color", cwd=tmp_path,
                           env={"PYTHONPATH": str(REPO)})
        assert replayed.code == 1, replayed.text
        assert replayed.out.splitlines()[-1] == (
            f"✗ the difference still shows after {failure['calls']} call(s)")

    # the next keep-going run replays every saved failure first: all still show, in the same
    # order, known to the search (none is found and saved a second time)
    again = run_cli("check", str(spec), "--keep-going", "--seed", "2", "--sequences", "30",
                    "--no-color", "-q", "--report-json", str(reports["report.json"]),
                    cwd=tmp_path, env={"PYTHONPATH": str(REPO)})
    assert again.code == 1, again.text
    assert again.err == ""
    assert len(again.out.splitlines()) == 1
    assert again.out.startswith("✗ 3 distinct failures (3 saved and still showing) found in ")
    second = json.loads(reports["report.json"].read_text())
    assert [(f["replay_file"], f["saved"]) for f in second["failures"]] == [
        (r, True) for r in replays]
    assert len(list((tmp_path / ".mbtspec" / "failures").iterdir())) == 3
