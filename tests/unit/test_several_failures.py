"""Reports of a keep-going run with several distinct failures: the terminal (summary table,
each failure numbered), JUnit XML (a case per failure), the JSON report (``failures``) and the
HTML page (a table of contents). One real run of the orders app with three bugs feeds them all;
flaky, cut-short and saved failures are that run's failures, marked so."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from rich.console import Console

from mbtspec import check
from mbtspec._check import CheckResult
from mbtspec.executor.records import Difference, Failure, Finding, RunResult, Step, signature
from mbtspec.report.data import Redactor, run_data
from mbtspec.report.html import render_html
from mbtspec.report.junit import render_junit
from mbtspec.report.terminal import render_failure_table, render_failures, verdict_line
from tests.e2e.conftest import REPO, orders_spec

SEVERAL = """\
  model: {app: tests.apps.variants:model}
  candidate: {app: tests.apps.fragile:several}
"""
NO_SECRETS = Redactor(())


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> CheckResult:
    folder = tmp_path_factory.mktemp("several")
    spec = folder / "spec.yaml"
    spec.write_text(orders_spec(SEVERAL))
    done = check(spec, seed=1, sequences=120, keep_going=True, database=None,
                 failures=folder / "failures")
    assert len(done.result.failures) == 3 and len(done.replay_files) == 3
    # (as the command line names them: relative to where it runs)
    return replace(done, replay_files=tuple(Path(".mbtspec/failures") / p.name
                                            for p in done.replay_files))


def with_failures(outcome: CheckResult, *failures: Failure) -> RunResult:
    return replace(outcome.result, failure=failures[0], failures=failures)


def marked(outcome: CheckResult) -> tuple[Failure, ...]:
    """The run's three failures, marked flaky, cut short and saved."""
    first, second, third = outcome.result.failures
    return (replace(first, flaky=True, minimal=False,
                    note="it showed once but not when the same sequence ran again"),
            replace(second, cut_short=True, minimal=False,
                    note="shrinking stopped early (the shrink time of 1s ran out)"),
            replace(third, minimal=False, source=str(outcome.replay_files[2]),
                    note=f"the saved failure {outcome.replay_files[2]} still shows"))


def terminal(width: int, write: object) -> str:
    buffer = io.StringIO()
    write(Console(file=buffer, width=width, color_system=None, highlight=False))  # type: ignore[operator]
    return buffer.getvalue()


def command(outcome: CheckResult) -> list[str]:
    return list(outcome.command)


# Terminal

@pytest.mark.parametrize("width", [80, 200])
def test_terminal_shows_the_table_then_each_failure_numbered(outcome: CheckResult,
                                                             width: int) -> None:
    result = outcome.result
    text = terminal(width, lambda console: render_failures(
        console, result, outcome.plan, command(outcome), NO_SECRETS, outcome.replay_files))
    lines = text.splitlines()
    folder = outcome.replay_files[0].parent
    assert lines[0].rstrip() == f"3 distinct failures (replay files in {folder}/)"
    assert lines[1].split() == ["#", "kind", "action", "place", "calls", "seen", "again",
                                "replay", "file"]
    for number, (failure, file) in enumerate(zip(result.failures, outcome.replay_files,
                                                 strict=True), start=1):
        action, _, place = signature(failure.steps[-1])
        row = lines[2 + number].split()
        assert row == [str(number), "difference", action, place, str(len(failure.steps)),
                       str(failure.variants), file.name]
    table = lines[:6]
    assert all(len(line.rstrip()) <= min(width, 80) for line in table), table
    # each failure under its own numbered rule, with its own Replay: line, in order
    rules = [i for i, line in enumerate(lines) if re.match(r"Failure \d of 3: ", line)]
    assert len(rules) == 3 and rules[0] > 5
    for number, start in enumerate(rules, start=1):
        end = rules[number] if number < 3 else len(lines)
        section = lines[start:end]
        failure = result.failures[number - 1]
        action, _, place = signature(failure.steps[-1])
        assert section[0].startswith(f"Failure {number} of 3: {action}, {place} ───")
        calls = len(failure.steps)
        assert section[1] == f"✗ DIFFERENCE after {calls} call{'s' if calls > 1 else ''} (seed 1)"
        assert f"seen again {failure.variants} times in this run (not reported again)" in section
        replays = [line for line in section if line.startswith("Replay: ")]
        assert replays == [f"Replay: mbtspec replay {outcome.replay_files[number - 1]}  "
                           "(add --curl for a shell script)"]
        assert [line for line in section if line.startswith("Reproduce: ")] == [
            "Reproduce: " + " ".join(outcome.command)]


def test_the_table_marks_flaky_cut_short_and_saved_failures(outcome: CheckResult) -> None:
    failures = marked(outcome)
    text = terminal(80, lambda console: render_failure_table(console, failures,
                                                             outcome.replay_files))
    rows = [line.split() for line in text.splitlines()[3:6]]
    lengths = [len(f.steps) for f in failures]
    assert rows[0][:3] == ["1", "flaky", "difference"]
    assert [rows[1][:2], rows[2][:2]] == [["2", "difference"], ["3", "difference"]]
    assert rows[0][-3] == f"{lengths[0]}?" and rows[1][-3] == f"{lengths[1]}*"
    assert rows[2][-3] == f"{lengths[2]}+"
    legend = text.splitlines()[6:9]
    assert legend == [
        "* shrinking stopped early: a shorter sequence may show it too (see its note)",
        "+ a saved failure that still shows, replayed as it was saved",
        "? not checked 1-minimal (a flaky failure, or a run without a reset)"]
    # a table of failures that were all checked 1-minimal has no legend
    plain = terminal(80, lambda console: render_failure_table(
        console, outcome.result.failures, outcome.replay_files))
    assert not re.search(r"^[*+?] ", plain, re.M)


def test_the_verdict_counts_saved_flaky_and_cut_short_failures(outcome: CheckResult) -> None:
    result = with_failures(outcome, *marked(outcome))
    verdict = verdict_line(result, outcome.plan)
    lengths = ", ".join(str(len(f.steps)) for f in result.failures)
    assert verdict.startswith("✗ 3 distinct failures (1 saved and still showing; 1 flaky; "
                              "1 not fully shrunk) found in ")
    assert verdict.endswith(f", shrunk to {lengths} call(s) (seed 1)")
    # several saved failures: still the verdict of several, not that of one saved failure
    saved = tuple(replace(f, source=str(p), note=f"the saved failure {p} still shows")
                  for f, p in zip(outcome.result.failures, outcome.replay_files, strict=True))
    assert verdict_line(with_failures(outcome, *saved), outcome.plan).startswith(
        "✗ 3 distinct failures (3 saved and still showing) found in ")


def test_places_from_a_server_are_shown_as_text(outcome: CheckResult) -> None:
    """A place is a path into a response body: its keys come from the server."""
    failure = outcome.result.failures[1]
    last = failure.steps[-1]
    odd = Finding("difference", "'create' answered differently",
                  (Difference("body.[red]x\x1b[2J", 1, 2),))
    hostile = replace(failure, steps=(*failure.steps[:-1], replace(last, findings=(odd,))))
    text = terminal(200, lambda console: render_failures(
        console, with_failures(outcome, hostile, outcome.result.failures[0]), outcome.plan,
        command(outcome), NO_SECRETS, outcome.replay_files[1:]))
    assert "body.[red]x\\u001b[2J" in text and "\x1b" not in text


def test_a_long_place_wraps_and_replay_files_stay_whole(outcome: CheckResult) -> None:
    failure = outcome.result.failures[1]
    deep = Finding("difference", "'create' answered differently",
                   (Difference("body." + "x" * 150, 1, 2),))
    long = replace(failure, steps=(*failure.steps[:-1], replace(failure.steps[-1],
                                                                findings=(deep,))))
    failures = (long, outcome.result.failures[0])
    text = terminal(80, lambda console: render_failure_table(console, failures,
                                                             outcome.replay_files[1::-1]))
    lines = text.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    for file in outcome.replay_files[:2]:
        assert sum(file.name in line for line in lines) == 1
    column = "".join(line[23:40].strip() for line in lines[3:])
    _, _, place = signature(outcome.result.failures[0].steps[-1])
    assert column == "body." + "x" * 54 + "…" + place  # wrapped, cut to 60 characters


def test_a_flaky_failure_without_a_finding_left_is_still_listed(outcome: CheckResult) -> None:
    """A flaky failure may end on a step that showed nothing when replayed."""
    failure = outcome.result.failures[0]
    bare = replace(failure, flaky=True, minimal=False,
                   steps=(*failure.steps[:-1], replace(failure.steps[-1], findings=())))
    result = with_failures(outcome, bare, outcome.result.failures[1])
    text = terminal(80, lambda console: render_failure_table(console, result.failures))
    assert text.splitlines()[3].split()[:5] == ["1", "flaky", "difference",
                                                failure.steps[-1].action, "-"]
    data = run_data(outcome.plan, result, redact=NO_SECRETS)
    assert data["failures"][0]["place"] == ""
    ET.fromstring(render_junit(outcome.plan, result, redact=NO_SECRETS))


# JUnit XML

def junit_cases(xml: str) -> dict[str, ET.Element]:
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    return {f"{c.get('classname')}/{c.get('name')}": c for c in suite.iter("testcase")}


def validate_junit(xml: str, folder: Path) -> None:
    xmlschema = pytest.importorskip("xmlschema", reason="pip install .[test]")
    path = folder / "junit.xml"
    path.write_text(xml)
    xmlschema.XMLSchema(str(REPO / "tests" / "data" / "junit.xsd")).validate(str(path))


def test_junit_has_a_case_per_failure_and_per_action_that_did_not_fail(
        outcome: CheckResult, tmp_path: Path) -> None:
    xml = render_junit(outcome.plan, outcome.result, redact=NO_SECRETS,
                       command=command(outcome), replay_files=outcome.replay_files)
    validate_junit(xml, tmp_path)
    cases = junit_cases(xml)
    failing = {"close", "create", "list"}
    assert set(cases) == ({f"spec.yaml.actions/{a}" for a in ("get", "delete")}
                          | {"spec.yaml.invariants/no server errors",
                             "spec.yaml.invariants/documented responses"}
                          | {"spec.yaml.failures/close: difference at status",
                             "spec.yaml.failures/create: difference at body.qty",
                             "spec.yaml.failures/list: difference at body[*]"})
    assert not failing & {name.split("/")[1] for name in cases}
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None and suite.get("failures") == "3" and suite.get("tests") == "7"
    for number, failure in enumerate(outcome.result.failures, start=1):
        action, _, place = signature(failure.steps[-1])
        element = cases[f"spec.yaml.failures/{action}: difference at {place}"].find("failure")
        assert element is not None and element.get("type") == "difference"
        assert element.get("message") == (f"{failure.findings[0].title} after "
                                          f"{len(failure.steps)} call(s)")
        text = (element.text or "").splitlines()
        assert text[0] == f"Failure {number} of 3"
        assert [line for line in text if re.match(r"\d+\. ", line)] == [
            f"{step.index}. {step.action}" for step in failure.steps]
        assert f"Seen again {failure.variants} times in this run." in text
        assert text[-2:] == ["Reproduce: " + " ".join(outcome.command),
                             f"Replay: mbtspec replay {outcome.replay_files[number - 1]}"]


def test_junit_without_keep_going_keeps_the_failure_on_its_action(
        outcome: CheckResult, tmp_path: Path) -> None:
    plan = replace(outcome.plan, run=replace(outcome.plan.run, keep_going=False))
    first = outcome.result.failures[0]
    result = with_failures(outcome, first)
    xml = render_junit(plan, result, redact=NO_SECRETS, command=command(outcome),
                       replay_files=outcome.replay_files[:1])
    validate_junit(xml, tmp_path)
    cases = junit_cases(xml)
    assert list(cases) == [f"spec.yaml.actions/{a}" for a in
                           ("create", "get", "close", "delete", "list")] + [
        "spec.yaml.invariants/no server errors", "spec.yaml.invariants/documented responses"]
    action = first.steps[-1].action
    failures = [name for name, case in cases.items() if case.find("failure") is not None]
    assert failures == [f"spec.yaml.actions/{action}"]
    text = (cases[failures[0]].find("failure").text or "")  # type: ignore[union-attr]
    assert text.startswith("1. ") and text.endswith(
        f"Replay: mbtspec replay {outcome.replay_files[0]}")


def test_junit_names_a_broken_invariant_and_no_longer_lists_it_as_held(
        outcome: CheckResult, tmp_path: Path) -> None:
    failure = outcome.result.failures[0]
    last = failure.steps[-1]
    broken = Finding("invariant", "invariant 'no server errors' broken",
                     check="no server errors")
    invariant = replace(failure, kind="invariant",
                        steps=(*failure.steps[:-1], replace(last, findings=(broken,))))
    result = with_failures(outcome, invariant, outcome.result.failures[1])
    xml = render_junit(outcome.plan, result, redact=NO_SECRETS)
    validate_junit(xml, tmp_path)
    cases = junit_cases(xml)
    case = cases[f"spec.yaml.failures/{last.action}: invariant 'no server errors' broken"]
    assert case.find("failure").get("type") == "invariant"  # type: ignore[union-attr]
    assert "spec.yaml.invariants/no server errors" not in cases
    assert "spec.yaml.invariants/documented responses" in cases


# JSON report

def test_json_report_lists_every_failure(outcome: CheckResult) -> None:
    data = json.loads(json.dumps(run_data(
        outcome.plan, outcome.result, redact=NO_SECRETS, command=command(outcome),
        replay_files=outcome.replay_files, verdict="v"), default=str))
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=str)
    assert not errors, [e.message for e in errors]
    assert data["failure"] == data["failures"][0]
    for item, failure, file in zip(data["failures"], outcome.result.failures,
                                   outcome.replay_files, strict=True):
        action, kind, place = signature(failure.steps[-1])
        assert (item["action"], item["kind"], item["place"]) == (action, kind, place)
        assert item["calls"] == len(item["steps"]) == len(failure.steps)
        assert [s["action"] for s in item["steps"]] == [s.action for s in failure.steps]
        assert item["variants"] == failure.variants > 0
        assert item["minimal"] is True and item["flaky"] is item["cut_short"] is False
        assert item["saved"] is False
        assert item["replay_file"] == str(file) and item["reproduce"] == command(outcome)


def test_json_report_marks_flaky_cut_short_and_saved_failures(outcome: CheckResult) -> None:
    data = run_data(outcome.plan, with_failures(outcome, *marked(outcome)), redact=NO_SECRETS,
                    replay_files=outcome.replay_files[:2])
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    assert not list(Draft202012Validator(schema).iter_errors(
        json.loads(json.dumps(data, default=str))))
    flags = [(f["flaky"], f["cut_short"], f["saved"], f["minimal"]) for f in data["failures"]]
    assert flags == [(True, False, False, False), (False, True, False, False),
                     (False, False, True, False)]
    assert data["outcome"] == "flaky"  # the first failure's
    assert [f["replay_file"] for f in data["failures"]] == [
        str(p) for p in outcome.replay_files[:2]] + [None]
    assert data["failures"][1]["note"].startswith("shrinking stopped early")


# HTML

class PageCheck(HTMLParser):
    """Every element closed in order, ids unique, links within the page."""

    VOID = {"meta", "br", "rect", "img", "hr", "input", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.ids: list[str] = []
        self.links: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if named.get("id"):
            self.ids.append(str(named["id"]))
        if tag == "a":
            self.links.append(str(named.get("href")))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.problems.append(f"<{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"</{tag}> out of order")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_page(page: str) -> PageCheck:
    parser = PageCheck()
    parser.feed(page)
    parser.close()
    assert parser.problems == [] and parser.open == []
    assert len(parser.ids) == len(set(parser.ids)), parser.ids
    assert all(link.startswith("#") and link[1:] in parser.ids for link in parser.links)
    assert "<script" not in page and "https://" not in page and "src=" not in page
    return parser


def test_html_has_a_table_of_contents_and_a_section_per_failure(outcome: CheckResult) -> None:
    page = render_html(outcome.plan, outcome.result, redact=NO_SECRETS,
                       command=command(outcome), verdict="✗ 3 distinct failures",
                       replay_files=outcome.replay_files)
    parser = check_page(page)
    assert [link for link in parser.links] == [f"#failure-{n}" for n in (1, 1, 2, 2, 3, 3)]
    assert [i for i in parser.ids if i.startswith("failure")] == [
        "failures", "failure-1", "failure-2", "failure-3"]
    assert "diff" in parser.ids  # the first failure's responses keep their old anchor
    sections = [part.split("</section>")[0]
                for part in page.split('<section id="failure-')[1:]]
    for number, (section, failure) in enumerate(zip(sections, outcome.result.failures,
                                                    strict=True), start=1):
        action, _, place = signature(failure.steps[-1])
        assert f"<h2>Failure {number} of 3: {action}, {place}</h2>" in section
        assert f"seen again {failure.variants} times in this run" in section
        assert f"Replay: <code>mbtspec replay {outcome.replay_files[number - 1]}</code>" \
            in section
        assert section.count("<tr>") - 1 == len(failure.steps)  # its minimal sequence


def test_html_of_one_failure_has_no_table_of_contents(outcome: CheckResult) -> None:
    failure = replace(outcome.result.failures[1], cut_short=True, minimal=False,
                      note="shrinking stopped early (the run was interrupted)")
    page = render_html(outcome.plan, with_failures(outcome, failure), redact=NO_SECRETS,
                       command=command(outcome), replay_files=outcome.replay_files[1:2])
    parser = check_page(page)
    assert parser.links == [] and "failures" not in parser.ids
    assert "<h2>Minimal sequence</h2>" in page and "<h2>The failing step</h2>" in page
    assert "note: shrinking stopped early (the run was interrupted)" in page


def test_a_flaky_failure_whose_last_step_showed_nothing_has_a_signature() -> None:
    quiet = Step(index=3, action="list", draws=(), requests=(), responses=())
    assert signature(quiet) == ("list", "flaky", "")
