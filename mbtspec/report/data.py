"""A run as plain data: what the JSON report, the replay file and the HTML page are made of,
and the limits of what every report shows.

Secrets (values of ``${env.NAME}``, see ``redact.py``) are redacted everywhere with ``***``,
in every encoding.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from mbtspec.compare import ABSENT
from mbtspec.compiler import NO_BODY, InputChange, Plan
from mbtspec.compiler._payloads import as_data, holds_payload
from mbtspec.executor.records import (
    AcceptedCount,
    ActionStats,
    Difference,
    Failure,
    Finding,
    Race,
    Request,
    Response,
    RunResult,
    Signature,
    Stats,
    Step,
    signature,
)
from mbtspec.report.redact import Redactor
from mbtspec.report.text import clip, printable

__all__ = ["Redactor", "clip", "printable"]  # (for the reports, from one place)

REPORT_VERSION = 1

#: Differences of one finding listed on the terminal, in JUnit XML and in HTML; the JSON
#: report and the replay file list every difference kept (``compare.KEPT_DIFFERENCES``).
SHOWN_DIFFERENCES = 20
#: Characters of a response body (as JSON text) saved in a replay file and in the JSON report;
#: past it, the body is saved as the start of its JSON text, with a ``body_note``.
SAVED_BODY, REPORT_BODY = 65_536, 1_000_000

#: Bodies nested deeper than this are shown and saved as their JSON text: YAML, JSON with
#: indentation and the redaction of data all recurse, one level of Python per level of JSON.
DEEPEST = 100


def json_text(value: Any) -> Iterator[str]:
    """``value`` as compact JSON (``ensure_ascii=False``), in chunks. Lazy, and without
    recursion, unlike the ``json`` module's encoders in pure Python."""
    stack: list[Iterator[Any]] = [iter((value,))]
    closing: list[str] = []
    first = [True]
    while stack:
        item: Any = next(stack[-1], _END)
        if item is _END:
            stack.pop()
            first.pop()
            if closing:
                yield closing.pop()
            continue
        comma = "" if first[-1] else ","
        first[-1] = False
        key = ""
        if closing and closing[-1] == "}":
            key, item = json.dumps(str(item[0]), ensure_ascii=False) + ":", item[1]
        if isinstance(item, dict):
            yield comma + key + "{"
            stack.append(iter(item.items()))
            closing.append("}")
            first.append(True)
        elif isinstance(item, list | tuple):
            yield comma + key + "["
            stack.append(iter(item))
            closing.append("]")
            first.append(True)
        else:
            yield comma + key + json.dumps(item, ensure_ascii=False, default=_default)


_END = object()


def _default(value: Any) -> Any:
    """What is not JSON, shown: bytes as ``{"base64": ...}``, a file part as ``{"file":
    ...}`` (as a spec writes them), anything else as its text."""
    shown = as_data(value)
    return str(value) if shown is value else shown


def too_deep(value: Any, limit: int = DEEPEST) -> bool:
    """Is ``value`` nested more than ``limit`` levels deep? (Without recursion.)"""
    level = [(value, 0)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict | list | tuple) and item:
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, depth + 1) for child in children
                         if isinstance(child, dict | list | tuple))
    return False


def shown_json(value: Any, limit: int, redact: Redactor) -> str:
    """``value`` as compact JSON on one line, redacted, printable and cut to ``limit``
    characters; only as much of a large value is encoded as the cut needs."""
    if value is ABSENT:
        return "<absent>"
    if value is NO_BODY:
        return ""
    return clip(printable(redact(_start(value, limit + 1 + redact.reach))), limit)


def _start(value: Any, size: int) -> str:
    """At least the first ``size`` characters of ``value``'s JSON text (all if shorter)."""
    text, length = [], 0
    for chunk in json_text(value):
        text.append(chunk)
        length += len(chunk)
        if length > size:
            break
    return "".join(text)


def json_lines(value: Any, path: tuple[str | int, ...] = ()
               ) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """``value`` as pretty JSON (2 spaces), one line at a time, each with the path of the
    value it belongs to. Lazy, and without recursion: a caller that shows the first lines of
    a 50 MB body encodes only those, and a deeply nested body cannot exhaust the stack."""
    frames: list[tuple[Iterator[tuple[Any, ...]], tuple[str, tuple[str | int, ...]]]] = []
    line, frame = _json_entry(value, path, 0, "", "")
    yield line
    if frame is not None:
        frames.append(frame)
    while frames:
        child = next(frames[-1][0], None)
        if child is None:
            yield frames.pop()[1]
            continue
        line, frame = _json_entry(*child)
        yield line
        if frame is not None:
            frames.append(frame)


def _json_entry(value: Any, path: tuple[str | int, ...], depth: int, prefix: str, comma: str
                ) -> tuple[tuple[str, tuple[str | int, ...]],
                           tuple[Iterator[tuple[Any, ...]], tuple[str, tuple[str | int, ...]]]
                           | None]:
    pad = "  " * depth
    if isinstance(value, dict) and value:
        last = len(value) - 1
        children = ((item, (*path, key), depth + 1, json.dumps(key, ensure_ascii=False) + ": ",
                     "," if n < last else "") for n, (key, item) in enumerate(value.items()))
        return (f"{pad}{prefix}{{", path), (children, (f"{pad}}}{comma}", path))
    if isinstance(value, list) and value:
        last = len(value) - 1
        items = ((item, (*path, n), depth + 1, "", "," if n < last else "")
                 for n, item in enumerate(value))
        return (f"{pad}{prefix}[", path), (items, (f"{pad}]{comma}", path))
    text = json.dumps(_plain(value), ensure_ascii=False, default=_default)
    return (f"{pad}{prefix}{text}{comma}", path), None


def body_lines(body: Any, redact: Redactor, *, lines: int, width: int
               ) -> tuple[list[tuple[str, tuple[str | int, ...]]], bool]:
    """The first ``lines`` lines of a body (pretty JSON, or its text), each redacted, made
    printable and cut to ``width`` characters; and whether there was more."""
    if isinstance(body, str):
        source: Iterator[tuple[str, tuple[str | int, ...]]] = (
            (line, ("body",)) for line in body.split("\n"))
    else:
        source = json_lines(body, ("body",))
    shown = [(clip(printable(redact(text[: width + 1 + redact.reach])), width), path)
             for text, path in islice(source, lines)]
    return shown, next(source, None) is not None


def more_differences(finding: Finding, shown: int) -> int:
    """How many differences of ``finding`` are not among the first ``shown``."""
    return max(len(finding.differences) - shown, 0) + finding.omitted


def _plain(value: Any) -> Any:
    if value is ABSENT:
        return "<absent>"
    if value is NO_BODY:
        return None
    if too_deep(value):
        return "".join(json_text(value))
    return value


def _body(data: dict[str, Any], body: Any, limit: int | None) -> None:
    """Put ``body`` in ``data``: as its JSON text when nested too deep or (with ``limit``)
    longer than ``limit`` characters of JSON, cut there, with a ``body_note`` that says so."""
    if limit is not None and body is not None:
        text = _start(body, limit)
        if len(text) > limit:
            data["body"] = text[:limit] + "…"
            data["body_note"] = (f"longer than {limit:,} characters of JSON: saved as the start "
                                 "of its JSON text")
            return
    if too_deep(body):
        data["body"] = "".join(json_text(body))
        data["body_note"] = f"nested deeper than {DEEPEST} levels: saved as its JSON text"
        return
    data["body"] = body


def request_data(request: Request, redact: Redactor) -> dict[str, Any]:
    data: dict[str, Any] = {"method": request.method, "path": request.path,
                            "url": request.url, "headers": dict(request.headers)}
    if request.content is not None:
        if holds_payload(request.body):  # bytes, files: saved as a spec writes them
            _body(data, as_data(request.body), None)
            data["body_format"] = "values"
        else:
            _body(data, request.body, None)
        if request.media_type:
            data["media_type"] = request.media_type
    return dict(redact.data(data))


def response_data(response: Response, redact: Redactor, *,
                  body_limit: int | None = None) -> dict[str, Any]:
    """A response as data. A body nested too deep (``DEEPEST``) or, with ``body_limit``,
    longer than that many characters of JSON is kept as its JSON text (cut to the limit),
    with a ``body_note`` that says so."""
    data: dict[str, Any] = {"status": response.status, "headers": dict(response.headers)}
    _body(data, response.body, body_limit)
    data["elapsed_ms"] = response.elapsed_ms
    if response.error:
        data["error"] = response.error
    return dict(redact.data(data))


def difference_data(difference: Difference, redact: Redactor) -> dict[str, Any]:
    return {"path": redact(difference.path), "model": redact.data(_plain(difference.model)),
            "candidate": redact.data(_plain(difference.candidate)),
            **({"note": difference.note} if difference.note else {})}


def finding_data(finding: Finding, redact: Redactor) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": finding.kind, "title": redact(finding.title),
        "details": [redact(d) for d in finding.details],
        "differences": [difference_data(d, redact) for d in finding.differences]}
    if finding.omitted:
        data["differences_omitted"] = finding.omitted
    if finding.target:
        data["target"] = finding.target
    return data


def change_data(change: InputChange, redact: Redactor) -> dict[str, Any]:
    """A deliberately invalid or boundary value, as the JSON report and replay files keep it:
    ``kind``, ``place``, ``reason``, ``sent`` (or ``missing: true``) and the ``text`` the
    terminal shows."""
    data = change.as_data()
    if "sent" in data:
        data["sent"] = _plain(data["sent"])
    data["text"] = change.text()
    return dict(redact.data(data))


def step_data(step: Step, redact: Redactor, *, body_limit: int | None = None
              ) -> dict[str, Any]:
    data: dict[str, Any] = {
        "step": step.index,
        "action": step.action,
    }
    if step.change is not None:  # a deliberately invalid (or boundary) value: what and where
        data["input"] = change_data(step.change, redact)
    data |= {
        "requests": {name: request_data(r, redact) for name, r in step.requests},
        "responses": {name: response_data(r, redact, body_limit=body_limit)
                      for name, r in step.responses},
    }
    if step.findings:
        data["findings"] = [finding_data(f, redact) for f in step.findings]
    if step.accepted:
        data["accepted"] = [{"reason": redact(a.reason), "entry": a.entry,
                             "place": redact(a.place), "count": a.count,
                             "differences": [difference_data(d, redact) for d in a.differences]}
                            for a in step.accepted]
    return data


def accepted_counts(result: RunResult) -> list[AcceptedCount]:
    """What the ``accept`` entries accepted in the run, per entry and action, most first."""
    return sorted(result.stats.accepted.values(), key=lambda c: (-c.steps, c.entry, c.action))


def accepted_by_entry(result: RunResult) -> list[tuple[str, int]]:
    """(reason, calls) per entry, most first: calls with a difference it accepted."""
    calls: dict[str, list[Any]] = {}
    for count in result.stats.accepted.values():
        calls.setdefault(count.entry, [count.reason, 0])[1] += count.steps
    return sorted(((reason, n) for reason, n in calls.values()), key=lambda c: -c[1])


def accepted_data(plan: Plan, result: RunResult, redact: Redactor) -> dict[str, Any]:
    """The ``accepted`` list of the JSON report (per entry and action: reason, place, calls,
    differences, the first one), and the entries that accepted nothing (``stale``)."""
    return {
        "accepted": [{"reason": redact(c.reason), "action": c.action, "place": redact(c.place),
                      "entry": c.entry, "count": c.steps, "differences": c.differences,
                      **({"example": difference_data(c.example, redact)} if c.example else {})}
                     for c in accepted_counts(result)],
        "stale": [{"reason": redact(e.reason), "place": redact(e.place.text), "entry": e.where,
                   "actions": list(e.actions)}
                  for e in plan.spec.every_accept if e.where in result.stale],
    }


def failure_signature(failure: Failure) -> Signature:
    """(action, kind, place): what tells this failure apart from the others of a run (see
    ``executor.records.signature``). A flaky failure whose last step kept no finding has the
    place ``""``."""
    if failure.steps and failure.steps[-1].findings:
        return signature(failure.steps[-1])
    return (failure.steps[-1].action if failure.steps else "", failure.kind, "")


def run_failures(result: RunResult) -> tuple[Failure, ...]:
    """Every distinct failure of ``result``, the first first (a result built by hand may only
    have ``failure``)."""
    if result.failures:
        return result.failures
    return (result.failure,) if result.failure is not None else ()


def replay_file_of(replay_files: Sequence[Path | str], number: int) -> str | None:
    """The replay file of failure ``number`` (from 1), if one was written."""
    return str(replay_files[number - 1]) if 0 < number <= len(replay_files) else None


def command_of(command: Sequence[str] | None, commands: Sequence[Sequence[str]],
               number: int) -> list[str] | None:
    """The command that reproduces failure ``number`` (from 1): its own, if the failures have
    commands of their own (``commands``), else the run's."""
    if 0 < number <= len(commands):
        return list(commands[number - 1])
    return list(command) if command is not None else None


def failure_report(failure: Failure, redact: Redactor, *, command: list[str] | None,
                   replay_file: str | None, body_limit: int | None = None) -> dict[str, Any]:
    """One failure as the JSON report lists it (an item of ``failures``)."""
    action, _, place = failure_signature(failure)
    return {
        "kind": failure.kind,
        "action": action,
        "place": redact(place),
        "flaky": failure.flaky,
        "minimal": failure.minimal,
        "cut_short": failure.cut_short,
        "saved": bool(failure.source),
        "note": redact(failure.note),
        "variants": failure.variants,
        "calls": len(failure.steps),
        "steps": [step_data(s, redact, body_limit=body_limit) for s in failure.steps],
        "reproduce": command,
        "replay_file": replay_file,
    } | ({"race": race_data(failure.race, redact, body_limit=body_limit)}
         if failure.race is not None else {})


def documented_statuses_never_seen(plan: Plan, result: RunResult) -> dict[str, list[str]]:
    """Per operation the actions ran: documented status codes no target answered."""
    seen: dict[str, set[str]] = {}
    for action in plan.actions:
        op = action.action.operation
        stats = result.stats.actions.get(action.name)
        if op is None or stats is None or not stats.runs:
            continue
        codes = seen.setdefault(op.key, set())
        for counts in stats.statuses.values():
            codes.update(counts)
    out: dict[str, list[str]] = {}
    for action in plan.actions:
        op = action.action.operation
        if op is None or op.key not in seen or op.key in out:
            continue
        documented = [code for code, _ in op.responses if code.isdigit()]
        missing = [code for code in documented if code not in seen[op.key]]
        if missing:
            out[op.key] = missing
    return out


def action_data(stats: Stats, name: str) -> dict[str, Any]:
    """One action's counts, and why it never ran (None when it ran, or when no step was
    drawn: a replay of a saved failure)."""
    counts = stats.actions.get(name) or ActionStats()
    return {
        "runs": counts.runs,
        "invalid": counts.invalid,
        "statuses": {t: dict(sorted(c.items())) for t, c in counts.statuses.items()},
        "could_run": counts.could_run,
        "expected_runs": round(counts.expected_runs, 1),
        "when_false": counts.when_false,
        "nothing_stored": dict(sorted(counts.nothing_stored.items())),
        "left_out_by_swarm": counts.left_out,
        "skipped": dict(sorted(counts.skipped.items())),
        "never_ran": (counts.why_never_ran() or None) if stats.drawn else None,
    }


def never_ran(plan: Plan, stats: Stats) -> list[tuple[str, str]]:
    """(action, why) for every action that never ran, in the spec's order; empty when no
    step was drawn (nothing to explain)."""
    if not stats.drawn:
        return []
    return [(a.name, (stats.actions.get(a.name) or ActionStats()).why_never_ran())
            for a in plan.actions if not (a.name in stats.actions and stats.actions[a.name].runs)]


def stats_data(plan: Plan, result: RunResult) -> dict[str, Any]:
    stats = result.stats
    lengths = stats.lengths or [0]
    covered = sorted({a.action.operation.key for a in plan.actions
                      if a.action.operation is not None and a.name in stats.actions
                      and stats.actions[a.name].runs})
    return {
        "sequences": stats.sequences,
        "sequences_while_shrinking": stats.shrinking,
        "boundary_cases": stats.boundary,
        "steps": stats.steps,
        "requests": stats.calls,
        "sequence_lengths": {"min": min(lengths), "max": max(lengths),
                             "mean": round(statistics.fmean(lengths), 2)},
        "actions": {a.name: action_data(stats, a.name) for a in plan.actions},
        "swarm": ({"sequences": stats.swarms,
                   "mean_actions": round(stats.swarm_actions / stats.swarms, 2)}
                  if stats.swarms else None),
        "time_ms": {t: round(stats.time_ms.get(t, 0.0), 3) for t in plan.targets},
        "mean_latency_ms": {t: round(stats.time_ms.get(t, 0.0) / max(stats.steps, 1), 3)
                            for t in plan.targets},
        "reset_ms": round(stats.reset_seconds * 1000, 3),
        "operations": {"covered": covered, "never_exercised": list(result.unreached)},
        "documented_statuses_never_seen": documented_statuses_never_seen(plan, result),
    } | ({"other_parts_sequences": stats.elsewhere,
          "other_parts_requests": stats.elsewhere_calls}
         if stats.elsewhere else {}) | (
        {"parallel_parts": stats.parallel, "interleavings_checked": stats.interleavings,
         "interleaving_check_s": round(stats.check_seconds, 3)}
        if plan.run.concurrency is not None else {})


def run_data(plan: Plan, result: RunResult, *, redact: Redactor,
             command: list[str] | None = None, replay_files: Sequence[Path | str] = (),
             verdict: str | None = None, body_limit: int | None = REPORT_BODY,
             commands: Sequence[Sequence[str]] = ()) -> dict[str, Any]:
    """Everything the terminal shows, as data (the ``--report-json`` document), with response
    bodies cut to ``body_limit`` characters of JSON (None: whole). ``replay_files``: one per
    failure, in order (fewer when some could not be written); ``commands``: the command of
    each failure when they differ (else ``command`` for every one)."""
    failure = result.failure
    outcome = "pass" if failure is None else "flaky" if failure.flaky else failure.kind
    failures = [failure_report(f, redact, command=command_of(command, commands, number),
                               body_limit=body_limit,
                               replay_file=replay_file_of(replay_files, number))
                for number, f in enumerate(run_failures(result), start=1)]
    data: dict[str, Any] = {
        "mbtspec_report": REPORT_VERSION,
        "spec": str(plan.spec.path),
        "spec_sha256": plan.spec.sha256,
        "seed": result.seed,
        "outcome": outcome,
        "elapsed_s": round(result.elapsed, 3),
        "stopped": result.stopped or None,
        "targets": list(plan.targets),
        "mode": plan.run.mode,
        "keep_going": plan.run.keep_going,
        "invariants": [i.name for i in plan.spec.invariants],
        "warnings": [redact(w) for w in (*plan.notes, *result.warnings)],
        "stats": stats_data(plan, result),
        **accepted_data(plan, result, redact),
        # (the first of ``failures``, as reports before keep-going had it)
        "failure": failures[0] if failures else None,
        "failures": failures,
    }
    if verdict is not None:
        data["verdict"] = verdict
    return data


def slot_name(slot: tuple[int, int]) -> str:
    """``2.1``: branch 2, its first step (both from 1)."""
    return f"{slot[0] + 1}.{slot[1] + 1}"


def race_data(race: Race, redact: Redactor, *, body_limit: int | None = None
              ) -> dict[str, Any]:
    """A race as the JSON report lists it (``race`` of a failure)."""
    def steps(items: tuple[Step, ...]) -> list[dict[str, Any]]:
        return [step_data(s, redact, body_limit=body_limit) for s in items]

    return {
        "prefix": race.prefix,
        "branches": [steps(branch) for branch in race.branches],
        "then": steps(race.then),
        "orders": race.total,
        "orders_tried": race.tried,
        "closest": [slot_name(s) for s in race.closest],
        "matched": race.matched,
        "tries": race.tries,
        "runs": race.runs,
    }
