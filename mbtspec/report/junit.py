"""JUnit XML: one test suite per spec, one test case per action and per invariant.

CI dashboards list test cases: an action is a test case ("create answered the same on model
and candidate in 812 calls"), and so is each invariant; the failure sits on the case of the
failing action (a difference or an expectation) or invariant, with the minimal sequence in its
message and text. Actions that never ran are skipped cases.
"""

from __future__ import annotations

import datetime
import json
import socket
import xml.etree.ElementTree as ET
from typing import Any

from mbtspec.compiler import Plan
from mbtspec.executor.records import Failure, RunResult
from mbtspec.report.data import Redactor, failure_data


def _sequence_text(failure: Failure, redact: Redactor) -> str:
    data = failure_data(failure, redact)
    lines = []
    for step in data["steps"]:
        lines.append(f"{step['step']}. {step['action']}")
        for target, request in step["requests"].items():
            status = step["responses"][target].get("status")
            body = f" {_json(request['body'])}" if "body" in request else ""
            lines.append(f"   {target}: {request['method']} {request['path']}{body} -> {status}")
        for finding in step.get("findings", []):
            lines.append(f"   {finding['title']}")
            lines += [f"     {d}" for d in finding["details"]]
            lines += [f"     {d['path']}: {_json(d['model'])} != {_json(d['candidate'])}"
                      for d in finding["differences"]]
    return "\n".join(lines)


def _json(value: Any) -> str:
    return "<absent>" if value == "<absent>" else json.dumps(value, ensure_ascii=False)


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
    for kind, name, info in cases:
        case = ET.SubElement(suite, "testcase", classname=f"{spec_name}.{kind}s", name=name,
                             time="0")
        if (kind, name) == failing_case and failure is not None:
            title = failure.findings[0].title if failure.findings else failure.kind
            reproduce = f"\nReproduce: {' '.join(command)}" if command else ""
            element = ET.SubElement(
                case, "failure", type="flaky" if failure.flaky else failure.kind,
                message=redact(f"{title} after {len(failure.steps)} call(s)"))
            element.text = _sequence_text(failure, redact) + reproduce
        elif kind == "action" and not info["runs"]:
            ET.SubElement(case, "skipped", message="not run in this check (its precondition "
                          "never held, or the run ended before it was chosen)")
        else:
            out = ET.SubElement(case, "system-out")
            out.text = (f"ran {info['runs']} times" if kind == "action"
                        else f"held after {info['runs']} calls")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
