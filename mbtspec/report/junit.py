"""JUnit XML: one test suite per spec, one test case per action and per invariant.

CI dashboards list test cases: an action is a test case ("create answered the same on model
and candidate in 812 calls"), and so is each invariant; the failure sits on the case of the
failing action (a difference or an expectation) or invariant, with the minimal sequence in its
message and text. Actions that never ran are skipped cases.
"""

from __future__ import annotations

import datetime
import socket
import xml.etree.ElementTree as ET
from typing import Any

from mbtspec.compiler import Plan
from mbtspec.executor.records import Failure, RunResult
from mbtspec.report.data import (
    SHOWN_DIFFERENCES,
    Redactor,
    accepted_by_entry,
    accepted_counts,
    clip,
    more_differences,
    printable,
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


def render_junit(plan: Plan, result: RunResult, *, redact: Redactor,
                 command: list[str] | None = None) -> str:
    stats = result.stats
    failure = result.failure
    failing_case = None
    if failure is not None and failure.steps:
        last = failure.steps[-1]
        finding = last.findings[0] if last.findings else None
        if failure.kind == "invariant" and finding is not None:
            failing_case = ("invariant", finding.check or finding.title)
        else:
            failing_case = ("action", last.action)
    spec_name = plan.spec.path.name
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for action in plan.actions:
        runs = stats.actions[action.name].runs if action.name in stats.actions else 0
        cases.append(("action", action.name, {"runs": runs}))
    for invariant in plan.spec.invariants:
        cases.append(("invariant", invariant.name, {"runs": stats.steps}))
    failures = 1 if failing_case else 0
    skipped = sum(1 for kind, _, info in cases if kind == "action" and not info["runs"])
    root = ET.Element("testsuites", name="mbtspec", tests=str(len(cases)),
                      failures=str(failures), errors="0", time=f"{result.elapsed:.3f}")
    suite = ET.SubElement(
        root, "testsuite", name=f"mbtspec {spec_name}", tests=str(len(cases)),
        failures=str(failures), errors="0", skipped=str(skipped),
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
    for kind, name, info in cases:
        case = ET.SubElement(suite, "testcase", classname=f"{spec_name}.{kind}s", name=name,
                             time="0")
        if (kind, name) == failing_case and failure is not None:
            title = failure.findings[0].title if failure.findings else failure.kind
            reproduce = f"\nReproduce: {' '.join(command)}" if command else ""
            element = ET.SubElement(
                case, "failure", type="flaky" if failure.flaky else failure.kind,
                message=_text(f"{title} after {len(failure.steps)} call(s)", redact))
            element.text = _sequence_text(failure, redact) + printable(reproduce)
        elif kind == "action" and not info["runs"]:
            ET.SubElement(case, "skipped", message="not run in this check (its precondition "
                          "never held, or the run ended before it was chosen)")
        else:
            out = ET.SubElement(case, "system-out")
            out.text = (f"ran {info['runs']} times" if kind == "action"
                        else f"held after {info['runs']} calls")
            if kind == "action" and name in per_action:
                out.text += f"; accepted: {', '.join(per_action[name])}"
    ET.indent(root)
    # (printable once more, over the whole document: names from the spec may hold control
    # characters too, which no XML parser reads, even escaped)
    return printable('<?xml version="1.0" encoding="UTF-8"?>\n'
                     + ET.tostring(root, encoding="unicode"))
