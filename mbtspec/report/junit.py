"""JUnit XML: one test suite per spec, one test case per action and per invariant, and with
keep-going one test case per distinct failure.

CI dashboards list test cases: an action is a test case ("create answered the same on model
and candidate in 812 calls"), and so is each invariant. Without keep-going, the one failure
sits on the case of the failing action (a difference or an expectation) or invariant, with
the minimal sequence in its message and text. With keep-going, each distinct failure is a
case of its own, named by its signature (``close: difference at status``), so that the same bug
keeps its name from run to run whatever else is found; the actions and invariants no failure
involves stay cases of their own. Actions that never ran are skipped cases.
"""

from __future__ import annotations

import datetime
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from mbtspec.compiler import Plan
from mbtspec.executor.records import Failure, RunResult
from mbtspec.report.data import (
    SHOWN_DIFFERENCES,
    Redactor,
    accepted_by_entry,
    accepted_counts,
    clip,
    failure_signature,
    more_differences,
    never_ran,
    printable,
    replay_file_of,
    run_failures,
    shown_json,
)

#: Characters of a value (a request body, a differing value) in the failure's text.
SHOWN_VALUE = 1000


def _sequence_text(failure: Failure, redact: Redactor) -> str:
    lines = []
    for step in failure.steps:
        lines.append(f"{step.index}. {step.action}")
        for target, request in step.requests:
            response = step.response(target)
            body = ("" if request.content is None
                    else " " + shown_json(request.body, SHOWN_VALUE, redact))
            answer = response.status if response.status is not None else (
                f"no answer ({_text(response.error or '', redact)})")
            lines.append(f"   {target}: {request.method} {_text(request.path, redact)}{body}"
                         f" -> {answer}")
        for finding in step.findings:
            lines.append(f"   {_text(finding.title, redact)}")
            lines += [f"     {_text(d, redact)}" for d in finding.details]
            lines += [f"     {_text(d.path, redact)}: "
                      f"{shown_json(d.model, SHOWN_VALUE, redact)} != "
                      f"{shown_json(d.candidate, SHOWN_VALUE, redact)}"
                      for d in finding.differences[:SHOWN_DIFFERENCES]]
            more = more_differences(finding, SHOWN_DIFFERENCES)
            if more:
                lines.append(f"     ... and {more:,} more difference{'s' if more != 1 else ''}"
                             " (see the JSON report)")
        for accepted in step.accepted:
            lines.append(f"   accepted ({_text(accepted.reason, redact)}, {accepted.entry}):")
            lines += [f"     {_text(d.path, redact)}: "
                      f"{shown_json(d.model, SHOWN_VALUE, redact)} != "
                      f"{shown_json(d.candidate, SHOWN_VALUE, redact)}"
                      for d in accepted.differences[:SHOWN_DIFFERENCES]]
    return "\n".join(lines)


def _text(text: str, redact: Redactor, limit: int = 10_000) -> str:
    """Text from a run, for XML: redacted, printable (XML 1.0 forbids most control
    characters, even escaped), bounded."""
    return clip(printable(redact(text[: limit + 1 + redact.reach])), limit)


#: (class, name, what the case holds): "failure" with the failure's number, "runs" with the
#: action's runs, or "held" with the calls an invariant held for.
Case = tuple[str, str, tuple[str, int]]


def failure_case_name(failure: Failure) -> str:
    """The test case of a failure with keep-going: its signature in words."""
    action, kind, place = failure_signature(failure)
    if not place:
        return f"{action}: {kind}"
    if kind == "difference":
        return f"{action}: difference at {place}"
    if kind == "invariant":
        return f"{action}: invariant '{place}' broken"
    return f"{action}: expectation '{place}' failed"


def _cases(plan: Plan, result: RunResult, failures: tuple[Failure, ...]) -> list[Case]:
    stats = result.stats
    runs = {a.name: stats.actions[a.name].runs if a.name in stats.actions else 0
            for a in plan.actions}
    if not plan.run.keep_going:  # the layout before keep-going: the failure on its case
        on: dict[tuple[str, str], int] = {}
        if failures and failures[0].steps:
            action, kind, place = failure_signature(failures[0])
            on[("invariant", place) if kind == "invariant" and place else ("action", action)] = 1
        return ([("actions", a, ("failure", on[("action", a)]) if ("action", a) in on
                  else ("runs", n)) for a, n in runs.items()]
                + [("invariants", i.name, ("failure", on[("invariant", i.name)])
                    if ("invariant", i.name) in on else ("held", stats.steps))
                   for i in plan.spec.invariants])
    failing = {failure_signature(f)[0] for f in failures}
    broken = {place for _, kind, place in map(failure_signature, failures) if kind == "invariant"}
    return ([("actions", a, ("runs", n)) for a, n in runs.items() if a not in failing]
            + [("invariants", i.name, ("held", stats.steps)) for i in plan.spec.invariants
               if i.name not in broken]
            + [("failures", failure_case_name(f), ("failure", number))
               for number, f in enumerate(failures, start=1)])


def _failure_text(failure: Failure, number: int, total: int, redact: Redactor,
                  command: list[str] | None, replay_file: str | None) -> str:
    """The minimal sequence and its findings, then what else is known of the failure and the
    commands that reproduce it."""
    lines = [_sequence_text(failure, redact)]
    if total > 1:
        lines.insert(0, f"Failure {number} of {total}")
    if failure.note:
        lines.append(f"note: {_text(failure.note, redact)}")
    if failure.minimal:
        lines.append("Leaving out any one step loses the failure (checked).")
    if failure.variants:
        lines.append(f"Seen again {failure.variants} time{'s' if failure.variants != 1 else ''} "
                     "in this run.")
    if command:
        lines.append(f"Reproduce: {_text(' '.join(command), redact)}")
    if replay_file:
        lines.append(f"Replay: mbtspec replay {_text(replay_file, redact)}")
    return "\n".join(lines)


def render_junit(plan: Plan, result: RunResult, *, redact: Redactor,
                 command: list[str] | None = None,
                 replay_files: Sequence[Path | str] = ()) -> str:
    stats = result.stats
    failures = run_failures(result)
    spec_name = plan.spec.path.name
    cases = _cases(plan, result, failures)
    idle = dict(never_ran(plan, stats))
    failed = sum(1 for _, _, (what, _) in cases if what == "failure")
    skipped = sum(1 for _, _, (what, n) in cases if what == "runs" and not n)
    root = ET.Element("testsuites", name="mbtspec", tests=str(len(cases)),
                      failures=str(failed), errors="0", time=f"{result.elapsed:.3f}")
    suite = ET.SubElement(
        root, "testsuite", name=f"mbtspec {spec_name}", tests=str(len(cases)),
        failures=str(failed), errors="0", skipped=str(skipped),
        time=f"{result.elapsed:.3f}",
        timestamp=datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat(
            timespec="seconds"),
        hostname=socket.gethostname() or "localhost")
    properties = ET.SubElement(suite, "properties")
    for name, value in (("spec", str(plan.spec.path)), ("seed", str(result.seed)),
                        ("sequences", str(stats.sequences)), ("calls", str(stats.steps)),
                        ("targets", ",".join(plan.targets))):
        ET.SubElement(properties, "property", name=name, value=value)
    accepted = accepted_by_entry(result)
    if accepted:  # (known differences: counted, never failures)
        ET.SubElement(properties, "property", name="accepted", value=_text(
            f"{sum(n for _, n in accepted)} (" + ", ".join(
                f"{reason} ×{n}" for reason, n in accepted) + ")", redact))
    per_action: dict[str, list[str]] = {}
    for count in accepted_counts(result):
        per_action.setdefault(count.action, []).append(
            f"{_text(count.reason, redact)} ×{count.steps}")
    for kind, name, (what, n) in cases:
        case = ET.SubElement(suite, "testcase", classname=f"{spec_name}.{kind}",
                             name=_text(name, redact, 1000), time="0")
        if what == "failure":
            failure = failures[n - 1]
            title = failure.findings[0].title if failure.findings else failure.kind
            element = ET.SubElement(
                case, "failure", type="flaky" if failure.flaky else failure.kind,
                message=_text(f"{title} after {len(failure.steps)} call(s)", redact))
            element.text = _failure_text(failure, n, len(failures), redact, command,
                                         replay_file_of(replay_files, n))
        elif what == "runs" and not n:
            why = idle.get(name) or ("its precondition never held, or the run ended before "
                                     "it was chosen")
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
