"""JUnit XML: one test suite per spec, one test case per action and per invariant, and with
keep-going one test case per distinct failure.

CI dashboards list test cases: an action is a test case ("create answered the same on model
and candidate in 812 calls"), and so is each invariant. Without keep-going, the one failure
sits on the case of the failing action (a difference or an expectation) or invariant, with
the minimal sequence in its message and text. With keep-going, each distinct failure is a
case of its own, named by its signature (``close: difference at status``), so that the same bug
keeps its name from run to run whatever else is found; the actions and invariants no failure
involves stay cases of their own. Actions that never ran are skipped cases.

The XML is written from the JSON report (``run_data``), by one writer for a run and for the
merged reports of its shards (``mbtspec merge-reports``): the same failures give the same
test cases, whichever way the run was split.
"""

from __future__ import annotations

import datetime
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mbtspec.compiler import Plan
from mbtspec.executor.records import Failure, RunResult
from mbtspec.report.data import (
    SHOWN_DIFFERENCES,
    Redactor,
    clip,
    failure_signature,
    printable,
    run_data,
    shown_json,
)

#: Characters of a value (a request body, a differing value) in the failure's text.
SHOWN_VALUE = 1000

Report = dict[str, Any]


def _value(value: Any, redact: Redactor) -> str:
    """A value of the JSON report, as the failure's text shows it (a missing value as
    ``<absent>``, as the terminal shows it)."""
    if value == "<absent>":
        return "<absent>"
    return shown_json(value, SHOWN_VALUE, redact)


def _differences(differences: list[Report], redact: Redactor) -> list[str]:
    return [f"     {_text(d['path'], redact)}: {_value(d['model'], redact)} != "
            f"{_value(d['candidate'], redact)}" for d in differences[:SHOWN_DIFFERENCES]]


def _sequence_text(failure: Report, redact: Redactor) -> str:
    lines = []
    for step in failure["steps"]:
        lines.append(f"{step['step']}. {step['action']}")
        for target, request in step["requests"].items():
            response = step["responses"].get(target, {})
            body = " " + _value(request["body"], redact) if "body" in request else ""
            answer = response.get("status")
            if answer is None:
                answer = f"no answer ({_text(response.get('error') or '', redact)})"
            lines.append(f"   {target}: {request['method']} {_text(request['path'], redact)}"
                         f"{body} -> {answer}")
        for finding in step.get("findings", []):
            lines.append(f"   {_text(finding['title'], redact)}")
            lines += [f"     {_text(d, redact)}" for d in finding["details"]]
            lines += _differences(finding["differences"], redact)
            more = (max(len(finding["differences"]) - SHOWN_DIFFERENCES, 0)
                    + finding.get("differences_omitted", 0))
            if more:
                lines.append(f"     ... and {more:,} more difference{'s' if more != 1 else ''}"
                             " (see the JSON report)")
        for accepted in step.get("accepted", []):
            lines.append(f"   accepted ({_text(accepted['reason'], redact)}, "
                         f"{accepted['entry']}):")
            lines += _differences(accepted["differences"], redact)
    return "\n".join(lines)


def _text(text: str, redact: Redactor, limit: int = 10_000) -> str:
    """Text from a run, for XML: redacted, printable (XML 1.0 forbids most control
    characters, even escaped), bounded."""
    return clip(printable(redact(text[: limit + 1 + redact.reach])), limit)


#: (class, name, what the case holds): "failure" with the failure's number, "runs" with the
#: action's runs, or "held" with the calls an invariant held for.
Case = tuple[str, str, tuple[str, int]]


def failure_case_name(failure: Failure | Report) -> str:
    """The test case of a failure with keep-going: its signature in words."""
    action, kind, place = (failure_signature(failure) if isinstance(failure, Failure) else
                           (failure["action"], failure["kind"], failure["place"]))
    if not place:
        return f"{action}: {kind}"
    if kind == "difference":
        return f"{action}: difference at {place}"
    if kind == "invariant":
        return f"{action}: invariant '{place}' broken"
    return f"{action}: expectation '{place}' failed"


def _cases(report: Report, failures: list[Report]) -> list[Case]:
    stats = report["stats"]
    runs = {name: action["runs"] for name, action in stats["actions"].items()}
    invariants = report.get("invariants", [])
    if not report.get("keep_going", len(failures) > 1):  # the failure on its case
        on: dict[tuple[str, str], int] = {}
        if failures and failures[0]["steps"]:
            first = failures[0]
            kind, place = first["kind"], first["place"]
            on[("invariant", place) if kind == "invariant" and place
               else ("action", first["action"])] = 1
        return ([("actions", a, ("failure", on[("action", a)]) if ("action", a) in on
                  else ("runs", n)) for a, n in runs.items()]
                + [("invariants", i, ("failure", on[("invariant", i)])
                    if ("invariant", i) in on else ("held", stats["steps"]))
                   for i in invariants])
    failing = {f["action"] for f in failures}
    broken = {f["place"] for f in failures if f["kind"] == "invariant"}
    return ([("actions", a, ("runs", n)) for a, n in runs.items() if a not in failing]
            + [("invariants", i, ("held", stats["steps"])) for i in invariants
               if i not in broken]
            + [("failures", failure_case_name(f), ("failure", number))
               for number, f in enumerate(failures, start=1)])


def _failure_text(failure: Report, number: int, total: int, redact: Redactor) -> str:
    """The minimal sequence and its findings, then what else is known of the failure and the
    commands that reproduce it."""
    lines = [_sequence_text(failure, redact)]
    if total > 1:
        lines.insert(0, f"Failure {number} of {total}")
    if failure.get("note"):
        lines.append(f"note: {_text(failure['note'], redact)}")
    if failure.get("minimal"):
        lines.append("Leaving out any one step loses the failure (checked).")
    variants = failure.get("variants", 0)
    if variants:
        lines.append(f"Seen again {variants} time{'s' if variants != 1 else ''} "
                     "in this run.")
    if failure.get("reproduce"):
        lines.append(f"Reproduce: {_text(' '.join(failure['reproduce']), redact)}")
    if failure.get("replay_file"):
        lines.append(f"Replay: mbtspec replay {_text(failure['replay_file'], redact)}")
    return "\n".join(lines)


def render_junit(plan: Plan, result: RunResult, *, redact: Redactor,
                 command: list[str] | None = None,
                 replay_files: Sequence[Path | str] = (),
                 commands: Sequence[Sequence[str]] = ()) -> str:
    """The JUnit XML of a run: that of its JSON report (``render_report_junit``)."""
    return render_report_junit(run_data(plan, result, redact=redact, command=command,
                                        replay_files=replay_files, commands=commands),
                               redact=redact)


def render_report_junit(report: Report, *, redact: Redactor | None = None) -> str:
    """The JUnit XML of a JSON report (``run_data``), of one run or of merged shards
    (``mbtspec merge-reports``): the one writer of both, so that they cannot drift apart."""
    redact = redact or Redactor(())
    stats = report["stats"]
    failures = report.get("failures") or ([report["failure"]] if report.get("failure")
                                          else [])
    spec_name = Path(str(report["spec"])).name
    cases = _cases(report, failures)
    failed = sum(1 for _, _, (what, _) in cases if what == "failure")
    skipped = sum(1 for _, _, (what, n) in cases if what == "runs" and not n)
    elapsed = f"{report.get('elapsed_s', 0.0):.3f}"
    root = ET.Element("testsuites", name="mbtspec", tests=str(len(cases)),
                      failures=str(failed), errors="0", time=elapsed)
    suite = ET.SubElement(
        root, "testsuite", name=f"mbtspec {spec_name}", tests=str(len(cases)),
        failures=str(failed), errors="0", skipped=str(skipped), time=elapsed,
        timestamp=datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat(
            timespec="seconds"),
        hostname=socket.gethostname() or "localhost")
    properties = ET.SubElement(suite, "properties")
    for name, value in (("spec", str(report["spec"])), ("seed", str(report["seed"])),
                        ("sequences", str(stats["sequences"])), ("calls", str(stats["steps"])),
                        ("targets", ",".join(report["targets"]))):
        ET.SubElement(properties, "property", name=name, value=value)
    accepted = report.get("accepted", [])
    by_entry: dict[str, list[Any]] = {}
    for count in accepted:
        by_entry.setdefault(count["entry"], [count["reason"], 0])[1] += count["count"]
    if by_entry:  # (known differences: counted, never failures)
        shown = sorted(by_entry.values(), key=lambda c: -c[1])
        ET.SubElement(properties, "property", name="accepted", value=_text(
            f"{sum(n for _, n in shown)} (" + ", ".join(
                f"{reason} ×{n}" for reason, n in shown) + ")", redact))
    per_action: dict[str, list[str]] = {}
    for count in accepted:
        per_action.setdefault(count["action"], []).append(
            f"{_text(count['reason'], redact)} ×{count['count']}")
    for kind, name, (what, n) in cases:
        case = ET.SubElement(suite, "testcase", classname=f"{spec_name}.{kind}",
                             name=_text(name, redact, 1000), time="0")
        if what == "failure":
            failure = failures[n - 1]
            last = failure["steps"][-1] if failure["steps"] else {}
            title = (last["findings"][0]["title"] if last.get("findings")
                     else failure["kind"])
            element = ET.SubElement(
                case, "failure", type="flaky" if failure.get("flaky") else failure["kind"],
                message=_text(f"{title} after {len(failure['steps'])} call(s)", redact))
            element.text = _failure_text(failure, n, len(failures), redact)
        elif what == "runs" and not n:
            why = (stats["actions"][name].get("never_ran")
                   or "its precondition never held, or the run ended before it was chosen")
            ET.SubElement(case, "skipped", message=_text(f"not run in this check: {why}",
                                                         redact))
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"ran {n} times" if what == "runs" else f"held after {n} calls"
            if kind == "actions" and name in per_action:
                out.text += f"; accepted: {', '.join(per_action[name])}"
    ET.indent(root)
    # (printable once more, over the whole document: names from the spec may hold control
    # characters too, which no XML parser reads, even escaped)
    return printable('<?xml version="1.0" encoding="UTF-8"?>\n'
                     + ET.tostring(root, encoding="unicode"))
